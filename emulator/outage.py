"""Region outages: `scripts/local-aws outage REGION` cuts a region off, `restore` ends it.

While a region is cut, every request signed for it (the region of the SigV4 credential scope
`Credential=AKID/DATE/REGION/SERVICE/aws4_request` in the Authorization header, or of the
`X-Amz-Credential` query parameter of a presigned URL; failing both, a `*.REGION.amazonaws.com`
Host header) gets no HTTP answer: the server closes the connection without writing a byte
(the socket is shut down with SO_LINGER 0, so the client reads end-of-stream, then a reset).
That is how an unreachable regional endpoint looks to an SDK: botocore raises
`ConnectionClosedError`, the AWS SDK for Rust a dispatch (IO) failure, and both treat it as a
transient error to retry. No request to another region, and none to `/moto-api/*` or
`/_emulator/*`, is ever cut. Route 53, IAM and other global services are signed for
us-east-1, so cutting us-east-1 cuts them too (as losing the global control planes would).

Control route (unsigned, on the same server):
  POST   /_emulator/outage/REGION   cut REGION off       -> 200, JSON list of cut regions
  DELETE /_emulator/outage/REGION   restore REGION       -> 200, JSON list of cut regions
  GET    /_emulator/outage          the cut regions      -> 200, JSON list
  GET    /_emulator/cloudwatch/lambda-invocations[?region=R]   Lambda alarm actions made
  DELETE /_emulator/cloudwatch/lambda-invocations[?region=R]   forget them

`is_cut(region)` is the question data-plane models ask (Route 53 health checks, Global
Accelerator endpoint health); `subscribe(fn)` calls `fn()` after every cut or restore.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

_lock = threading.Lock()
_cut: set[str] = set()
_listeners: list[Callable[[], None]] = []

CONTROL_PATH = "/_emulator/outage"
# Never cut: moto's own API and the emulator's control routes.
NEVER_CUT_PREFIXES = ("/_emulator/", "/moto-api")

# AWS region names: partition prefix, optional gov/iso part, direction, number
# (us-east-1, eu-central-2, ap-southeast-7, us-gov-west-1, cn-northwest-1, il-central-1, ...).
_REGION = r"[a-z]{2}(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central|northeast|southeast|northwest|southwest)-\d{1,2}"
REGION_RE = re.compile(rf"^{_REGION}$")
# A region inside a DNS name: a label of its own (abc.execute-api.us-east-1.amazonaws.com,
# name-1.us-east-2.elb.amazonaws.com) or the tail of a label (s3-website-us-east-1.amazonaws.com).
_REGION_IN_HOST = re.compile(rf"(?:^|[.-])({_REGION})(?=$|\.)")
_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/[^/,\s]+/aws4_request")


def is_cut(region: str) -> bool:
    """True while `region` is cut off (scripts/local-aws outage REGION)."""
    with _lock:
        return region in _cut


def cut(region: str) -> None:
    """Cuts `region` off: its requests get no answer, its endpoints are unreachable."""
    with _lock:
        _cut.add(region)
    _notify()


def restore(region: str) -> None:
    """Ends the outage of `region` (nothing happens if it was not cut)."""
    with _lock:
        _cut.discard(region)
    _notify()


def cut_regions() -> list[str]:
    """The regions cut off now, sorted."""
    with _lock:
        return sorted(_cut)


def subscribe(listener: Callable[[], None]) -> None:
    """Calls `listener()` (no arguments) after every cut or restore."""
    with _lock:
        _listeners.append(listener)


def _notify() -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener()
        except Exception as e:  # a listener's failure must not fail the switch
            print(f"emulator outage: listener failed: {e!r}", file=sys.stderr)


def region_of_host(name: str | None) -> str | None:
    """The AWS region named in a DNS name (`abc.execute-api.us-east-1.amazonaws.com`,
    `name-1.elb.us-east-1.amazonaws.com`, `x.us-east-2.amazonaws.com`), or None (an IP
    address, a global name such as `d111.cloudfront.net`, or no region)."""
    if not name:
        return None
    host = name.strip().lower().rstrip(".")
    # Drop a port (host:port), not IPv6 colons.
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    found = _REGION_IN_HOST.search(host)
    return found.group(1) if found else None


def request_region(environ: dict[str, Any]) -> str | None:
    """The region a request is meant for: its SigV4 credential scope (Authorization header or
    presigned X-Amz-Credential), else a regional Host header; None if neither names one."""
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    found = _CREDENTIAL.search(auth)
    if found:
        return found.group(1)
    query = environ.get("QUERY_STRING") or ""
    if "credential" in query.lower():
        for key, values in parse_qs(query, keep_blank_values=True).items():
            if key.lower() == "x-amz-credential" and values:
                parts = values[0].split("/")
                if len(parts) == 5 and parts[4] == "aws4_request":
                    return parts[2]
    host = environ.get("HTTP_HOST") or ""
    if host.lower().split(":", 1)[0].endswith((".amazonaws.com", ".api.aws")):
        return region_of_host(host)
    return None


def _drop_connection(environ: dict[str, Any], region: str) -> None:
    """Closes the client connection without an HTTP answer, then raises so that werkzeug
    writes nothing (werkzeug's dev server treats ConnectionError from the application as a
    dropped connection: no 500, no log line)."""
    print(
        f"emulator outage: {environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')} "
        f"signed for {region} dropped (region cut off)",
        file=sys.stderr,
    )
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        _discard_body(environ, sock)
        try:
            # Abortive close when werkzeug closes the socket (RST, not a graceful end).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            # Both ways: the client reads end-of-stream before any status line; werkzeug's
            # next read of the socket sees the end too, so it closes the connection.
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionAbortedError(f"region {region} is cut off (emulator outage)")


_DISCARD_LIMIT = 64 * 1024 * 1024


def _discard_body(environ: dict[str, Any], sock: socket.socket) -> None:
    """Reads the request body that is still on its way (at most 64 MiB, 2 s without data),
    so that werkzeug does not take its bytes for the next request on the connection."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    chunked = (environ.get("HTTP_TRANSFER_ENCODING") or "").lower() == "chunked"
    if length <= 0 and not chunked:
        return
    stream = environ.get("wsgi.input")
    if stream is None:
        return
    remaining = min(length, _DISCARD_LIMIT) if not chunked else _DISCARD_LIMIT
    try:
        sock.settimeout(2.0)
        while remaining > 0:
            data = stream.read(min(65536, remaining))
            if not data:
                break
            remaining -= len(data)
    except (OSError, ValueError):
        pass


def _json(start_response: Any, status: str, body: Any) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _control(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The unsigned control route /_emulator/outage[/REGION]."""
    path = environ.get("PATH_INFO", "").rstrip("/")
    method = environ.get("REQUEST_METHOD", "GET").upper()
    if path == CONTROL_PATH:
        if method != "GET":
            return _json(start_response, "405 Method Not Allowed", {"message": "GET /_emulator/outage"})
        return _json(start_response, "200 OK", cut_regions())
    region = path[len(CONTROL_PATH) + 1 :] if path.startswith(CONTROL_PATH + "/") else ""
    if not REGION_RE.match(region):
        return _json(start_response, "400 Bad Request", {"message": f"not a region name: {region!r}"})
    if method in ("POST", "PUT"):
        cut(region)
    elif method == "DELETE":
        restore(region)
    else:
        return _json(
            start_response, "405 Method Not Allowed", {"message": "POST or DELETE /_emulator/outage/REGION"}
        )
    return _json(start_response, "200 OK", cut_regions())


LAMBDA_INVOCATIONS_PATH = "/_emulator/cloudwatch/lambda-invocations"


def _lambda_invocations(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The unsigned route /_emulator/cloudwatch/lambda-invocations[?region=R]: the Lambda
    invocations CloudWatch alarm actions made (moto cannot run the functions; tests read what
    AWS would have sent them). GET lists them, oldest first; DELETE clears them."""
    from urllib.parse import parse_qs

    from . import cloudwatch

    region = parse_qs(environ.get("QUERY_STRING", "")).get("region", [None])[0]
    method = environ.get("REQUEST_METHOD", "GET").upper()
    if method == "GET":
        return _json(start_response, "200 OK", {"Invocations": cloudwatch.lambda_invocations(region)})
    if method == "DELETE":
        cloudwatch.clear_lambda_invocations(region)
        return _json(start_response, "200 OK", {"Invocations": []})
    return _json(start_response, "405 Method Not Allowed", {"message": f"GET or DELETE {LAMBDA_INVOCATIONS_PATH}"})


def wsgi_middleware(call: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a WSGI `__call__(self, environ, start_response)`: serves the control route, and
    drops the requests meant for a cut region."""

    def __call__(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if isinstance(path, bytes):
            path = path.decode("utf-8", "replace")
        if path == CONTROL_PATH or path.startswith(CONTROL_PATH + "/"):
            return _control(environ, start_response)
        if path.rstrip("/") == LAMBDA_INVOCATIONS_PATH:
            return _lambda_invocations(environ, start_response)
        if not path.startswith(NEVER_CUT_PREFIXES):
            region = request_region(environ)
            if region is not None and is_cut(region):
                _drop_connection(environ, region)
        return call(self, environ, start_response)

    __call__._emulator_outage = True  # type: ignore[attr-defined]
    return __call__


def apply() -> None:
    # moto's server (moto.server.main, ThreadedMotoServer) serves DomainDispatcherApplication;
    # wrapping its __call__ puts the switch in front of every request.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication.__call__, "_emulator_outage", False):
        return
    DomainDispatcherApplication.__call__ = wsgi_middleware(DomainDispatcherApplication.__call__)  # type: ignore[method-assign]
