"""The emulator's server: moto's server main, with the extension applied first.

Takes moto_server's arguments (`-H HOST -p PORT`, ...) and environment
(MOTO_ACM_VALIDATION_WAIT, MOTO_IAM_LOAD_MANAGED_POLICIES, ...).
"""

from __future__ import annotations

import sys

from . import apply_all


def main(argv: list[str] | None = None) -> None:
    apply_all()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
