"""Region outages: a cut region's requests get no HTTP answer; other regions, /moto-api and the
control route keep answering; restore ends it; the control route and scripts/local-aws list
the cut regions."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import unittest
import urllib.error
import urllib.parse
import urllib.request

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from emulator import outage
from emulator.tests.support import ROOT, client, endpoint

CUT = "eu-north-1"
OTHER = "ap-south-1"
STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"


def control(method: str, region: str | None = None) -> tuple[int, object]:
    url = endpoint() + "/_emulator/outage" + (f"/{region}" if region else "")
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def signed_sts_request(region: str) -> bytes:
    """A raw HTTP/1.1 STS GetCallerIdentity request signed (SigV4) for `region`."""
    url = endpoint() + "/"
    request = AWSRequest(
        method="POST",
        url=url,
        data=STS_BODY,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials("testing", "testing"), "sts", region).add_auth(request)
    host = urllib.parse.urlsplit(url).netloc
    lines = [b"POST / HTTP/1.1", f"Host: {host}".encode(), b"Connection: close"]
    lines += [f"{k}: {v}".encode() for k, v in request.headers.items()]
    lines.append(f"Content-Length: {len(STS_BODY)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + STS_BODY


def raw_exchange(payload: bytes) -> bytes:
    """Sends `payload` on a fresh connection, returns every byte answered until the server
    closes (a reset counts as the end), within 10 s."""
    parts = urllib.parse.urlsplit(endpoint())
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(payload)
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received


class RegionOutage(unittest.TestCase):
    def setUp(self) -> None:
        endpoint()
        self.addCleanup(control, "DELETE", CUT)

    def cut(self) -> None:
        status, regions = control("POST", CUT)
        self.assertEqual(status, 200)
        self.assertIn(CUT, regions)

    def test_a_cut_region_gets_no_http_answer_on_a_raw_socket(self) -> None:
        before = raw_exchange(signed_sts_request(CUT))
        self.assertTrue(before.startswith(b"HTTP/1.1 200"), before[:80])
        self.cut()
        self.assertEqual(raw_exchange(signed_sts_request(CUT)), b"", "no byte of an HTTP answer")
        other = raw_exchange(signed_sts_request(OTHER))
        self.assertTrue(other.startswith(b"HTTP/1.1 200"), other[:80])
        self.assertIn(b"<GetCallerIdentityResponse", other)

    def test_moto_api_and_the_control_route_are_never_cut(self) -> None:
        self.cut()
        # Signed for the cut region, yet answered: /moto-api/* is never cut.
        # (The dashboard, not data.json: moto's data.json answers 500 without docker once
        # any test of this server process has touched Lambda.)
        request = AWSRequest(method="GET", url=endpoint() + "/moto-api/", headers={})
        SigV4Auth(Credentials("testing", "testing"), "sts", CUT).add_auth(request)
        prepared = urllib.request.Request(endpoint() + "/moto-api/", headers=dict(request.headers.items()))
        with urllib.request.urlopen(prepared, timeout=10) as answer:
            self.assertEqual(answer.status, 200)
            self.assertIn(b"<html", answer.read())
        status, regions = control("GET")
        self.assertEqual((status, regions), (200, [CUT]))

    def test_boto3_sees_a_closed_connection_then_restore_answers_again(self) -> None:
        sts = client("sts", CUT, quick=True)
        self.assertEqual(sts.get_caller_identity()["Account"], "123456789012")
        self.cut()
        with self.assertRaises((ConnectionClosedError, EndpointConnectionError)) as e:
            sts.get_caller_identity()
        self.assertNotIsInstance(e.exception, ClientError)
        # A request with a body (SQS JSON) is dropped too, and the server keeps serving.
        with self.assertRaises((ConnectionClosedError, EndpointConnectionError)):
            client("sqs", CUT, quick=True).create_queue(QueueName="outage-never-created")
        self.assertEqual(client("sts", OTHER, quick=True).get_caller_identity()["Account"], "123456789012")
        status, regions = control("DELETE", CUT)
        self.assertEqual((status, regions), (200, []))
        self.assertEqual(sts.get_caller_identity()["Account"], "123456789012")
        self.assertNotIn(
            "outage-never-created",
            " ".join(client("sqs", CUT, quick=True).list_queues().get("QueueUrls", [])),
            "the dropped request did nothing",
        )

    def test_a_presigned_url_for_a_cut_region_gets_no_http_answer(self) -> None:
        s3 = client("s3", CUT)
        bucket = "outage-presigned-bucket"
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": CUT})
        s3.put_object(Bucket=bucket, Key="k", Body=b"payload")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300)
        self.assertIn("X-Amz-Credential=", url)
        with urllib.request.urlopen(url, timeout=10) as answer:
            self.assertEqual(answer.read(), b"payload")
        self.cut()
        with self.assertRaises(OSError) as e:
            urllib.request.urlopen(url, timeout=10)
        self.assertNotIsInstance(e.exception, urllib.error.HTTPError, "no HTTP status at all")
        control("DELETE", CUT)
        with urllib.request.urlopen(url, timeout=10) as answer:
            self.assertEqual(answer.read(), b"payload")


class ControlRoute(unittest.TestCase):
    def setUp(self) -> None:
        self.addCleanup(control, "DELETE", CUT)
        self.addCleanup(control, "DELETE", OTHER)

    def test_status_lists_the_cut_regions_sorted(self) -> None:
        self.assertEqual(control("GET"), (200, []))
        self.assertEqual(control("POST", OTHER), (200, [OTHER]))
        self.assertEqual(control("POST", CUT), (200, sorted([CUT, OTHER])))
        self.assertEqual(control("POST", CUT), (200, sorted([CUT, OTHER])), "cutting twice is one cut")
        self.assertEqual(control("GET"), (200, sorted([CUT, OTHER])))
        self.assertEqual(control("DELETE", OTHER), (200, [CUT]))
        self.assertEqual(control("DELETE", OTHER), (200, [CUT]), "restoring a region not cut is fine")
        self.assertEqual(control("DELETE", CUT), (200, []))

    def test_a_name_that_is_not_a_region_is_refused(self) -> None:
        status, body = control("POST", "not-a-region")
        self.assertEqual(status, 400)
        self.assertIn("message", body)
        self.assertEqual(control("GET"), (200, []))

    def test_scripts_local_aws_outage_status_restore(self) -> None:
        env = {**os.environ, "LOCAL_AWS_ENDPOINT": endpoint()}

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(ROOT / "scripts" / "local-aws"), *args], env=env, capture_output=True, text=True, timeout=30
            )

        cut = run("outage", CUT)
        self.assertEqual(cut.returncode, 0, cut.stderr)
        self.assertIn(CUT, cut.stdout)
        self.assertEqual(control("GET"), (200, [CUT]))
        status = run("status")
        self.assertEqual(status.returncode, 0, status.stderr)
        self.assertIn(f"cut regions: {CUT}", status.stdout)
        restored = run("restore", CUT)
        self.assertEqual(restored.returncode, 0, restored.stderr)
        self.assertIn("cut regions: none", restored.stdout)
        self.assertEqual(control("GET"), (200, []))
        self.assertNotEqual(run("outage", "bogus").returncode, 0)


class RequestRegion(unittest.TestCase):
    """The region a request is meant for (in-process, no server)."""

    def test_signature_presigned_query_and_host(self) -> None:
        auth = (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-2/dynamodb/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=abc"
        )
        self.assertEqual(outage.request_region({"HTTP_AUTHORIZATION": auth}), "us-east-2")
        query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20250101%2Feu-west-1%2Fs3%2Faws4_request"
        self.assertEqual(outage.request_region({"QUERY_STRING": query}), "eu-west-1")
        self.assertEqual(outage.request_region({"HTTP_HOST": "abc.execute-api.us-east-2.amazonaws.com"}), "us-east-2")
        self.assertIsNone(outage.request_region({"HTTP_HOST": "127.0.0.1:5005"}))
        self.assertIsNone(outage.request_region({}))

    def test_region_of_host(self) -> None:
        cases = {
            "abc.execute-api.us-east-1.amazonaws.com": "us-east-1",
            "name-123.elb.us-east-1.amazonaws.com": "us-east-1",
            "name-123456.us-east-2.elb.amazonaws.com.": "us-east-2",
            "bucket.s3-website-eu-west-1.amazonaws.com": "eu-west-1",
            "x.ap-southeast-2.amazonaws.com": "ap-southeast-2",
            "db.cluster-abc.us-gov-west-1.rds.amazonaws.com": "us-gov-west-1",
            "d111111abcdef8.cloudfront.net": None,
            "a1234.awsglobalaccelerator.com": None,
            "192.0.2.44": None,
            "": None,
        }
        for name, region in cases.items():
            self.assertEqual(outage.region_of_host(name), region, name)


if __name__ == "__main__":
    unittest.main()
