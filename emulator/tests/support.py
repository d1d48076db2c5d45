"""One emulator server per test process, started on a free loopback port, and boto3 clients."""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import urllib.error
import urllib.request
from pathlib import Path

from typing import Any, Callable

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"

_lock = threading.Lock()
_endpoint: str | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def endpoint() -> str:
    """The endpoint of the server of this test process (started on first use)."""
    global _endpoint
    with _lock:
        if _endpoint is not None:
            return _endpoint
        given = os.environ.get("EMULATOR_TEST_ENDPOINT")
        if given:
            _endpoint = given.rstrip("/")
            return _endpoint
        port = _free_port()
        if os.environ.get("EMULATOR_TEST_PLAIN") == "1":
            cmd = [str(Path(sys.executable).parent / "moto_server")]
        else:
            cmd = [sys.executable, "-m", "emulator"]
        cmd += ["-H", "127.0.0.1", "-p", str(port)]
        env = dict(os.environ)
        env.setdefault("MOTO_ACM_VALIDATION_WAIT", "1")
        env.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        log = tempfile.NamedTemporaryFile(prefix=f"emulator-test-{port}-", suffix=".log", delete=False)
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        atexit.register(_stop, proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the emulator exited at start (code {proc.returncode}); see {log.name}")
            if _answers(url):
                _endpoint = url
                return url
            time.sleep(0.2)
        raise RuntimeError(f"the emulator did not answer on {url} within 30 s; see {log.name}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def client(service: str, region: str = "us-east-1", *, quick: bool = False):
    """A boto3 client on the emulator (no retries: a 500 must show). `quick`: short connect
    and read timeouts, for calls that may get no answer (a region cut off)."""
    timeouts = {"connect_timeout": 5, "read_timeout": 15} if quick else {}
    return boto3.client(
        service,
        endpoint_url=endpoint(),
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **timeouts),
    )


def wait_for(fn: Callable[[], Any], timeout: float = 15.0, every: float = 0.2) -> Any:
    """Polls `fn` until it returns a truthy value (bounded in time); returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_code(exc: BaseException) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def status(exc: BaseException) -> int:
    return getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


def signed_json(service: str, region: str, method: str, path: str, body: bytes = b"") -> dict:
    """A SigV4-signed request sent as is (path kept byte for byte), its JSON answer."""
    import json

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = endpoint() + path
    headers = {"Content-Type": "application/json"} if body else {}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials("testing", "testing"), service, region).add_auth(request)
    prepared = urllib.request.Request(url, data=body or None, method=method, headers=dict(request.headers.items()))
    with urllib.request.urlopen(prepared, timeout=10) as answer:
        return json.loads(answer.read() or b"{}")
