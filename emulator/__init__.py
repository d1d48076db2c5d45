"""Tandem's extension of the local AWS emulator (moto 5.2.5, server mode).

`python -m emulator -H HOST -p PORT` imports moto, applies the patches of this package
(fidelity fixes where moto differs from AWS in ways that matter to Tandem, and APIs moto
lacks), then runs moto's own server main in the same process: every moto route keeps
working, and the patched operations answer as AWS documents them.

Each patch module has an `apply()`; `apply_all()` applies them all, once. Each patch cites
the AWS behaviour it models; shapes and error codes follow botocore's service models.
"""

from __future__ import annotations

import importlib
import threading

MOTO_VERSION = "5.2.5"

# Patch modules, applied in this order.
MODULES = (
    "outage",
    "route53",
    "apigateway",
    "backup",
    "rds",
    "s3",
    "elbv2",
    "globalaccelerator",
    "events",
    "dynamodb",
    "cloudwatch",
)

_lock = threading.Lock()
_applied = False


def apply_all() -> None:
    """Applies every patch of the extension to the imported moto (idempotent)."""
    global _applied
    with _lock:
        if _applied:
            return
        import moto

        if moto.__version__ != MOTO_VERSION:
            raise RuntimeError(
                f"the emulator extension is written against moto {MOTO_VERSION}, found {moto.__version__}"
            )
        for name in MODULES:
            importlib.import_module(f"{__name__}.{name}").apply()
        _applied = True
