"""S3: answers in AWS's shapes."""

import time
import unittest
import xml.etree.ElementTree as ET

from botocore.exceptions import ClientError

from emulator.tests.support import client, unique, wait_for

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class GetBucketVersioningShape(unittest.TestCase):
    def setUp(self) -> None:
        self.s3 = client("s3", "us-east-1")
        self.bodies: list[bytes] = []
        self.s3.meta.events.register(
            "after-call.s3.GetBucketVersioning",
            lambda http_response, **_: self.bodies.append(http_response.content),
        )
        self.bucket = unique("versioning")
        self.s3.create_bucket(Bucket=self.bucket)

    def root(self) -> ET.Element:
        self.s3.get_bucket_versioning(Bucket=self.bucket)
        return ET.fromstring(self.bodies[-1])

    def test_a_bucket_never_versioned_answers_an_empty_versioning_configuration(self) -> None:
        root = self.root()
        self.assertEqual(root.tag, f"{NS}VersioningConfiguration")
        self.assertIsNone(root.find(f"{NS}Status"))

    def test_the_status_put_is_answered_in_a_versioning_configuration(self) -> None:
        for wanted in ("Enabled", "Suspended"):
            self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": wanted})
            root = self.root()
            self.assertEqual(root.tag, f"{NS}VersioningConfiguration")
            self.assertEqual(root.findtext(f"{NS}Status"), wanted)
            self.assertEqual(self.s3.get_bucket_versioning(Bucket=self.bucket)["Status"], wanted)


class Replication(unittest.TestCase):
    def setUp(self) -> None:
        self.src_s3 = client("s3", "us-east-1")
        self.dst_s3 = client("s3", "us-east-2")
        self.src, self.dst = unique("primary"), unique("secondary")
        self.src_s3.create_bucket(Bucket=self.src)
        self.dst_s3.create_bucket(Bucket=self.dst, CreateBucketConfiguration={"LocationConstraint": "us-east-2"})
        for s3, b in ((self.src_s3, self.src), (self.dst_s3, self.dst)):
            s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        self.rule = {
            "ID": "to-secondary",
            "Priority": 1,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "Destination": {
                "Bucket": f"arn:aws:s3:::{self.dst}",
                "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
            },
        }
        self.src_s3.put_bucket_replication(
            Bucket=self.src,
            ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/replication", "Rules": [self.rule]},
        )

    def replica(self, key: str):
        try:
            return self.dst_s3.head_object(Bucket=self.dst, Key=key)
        except ClientError:
            return None

    def test_an_object_put_is_copied_pending_then_completed_and_replica(self) -> None:
        put = self.src_s3.put_object(
            Bucket=self.src, Key="docs/a.txt", Body=b"hello", ContentType="text/plain", Metadata={"owner": "tandem"},
            Tagging="team=dr",
        )
        head = self.src_s3.head_object(Bucket=self.src, Key="docs/a.txt")
        self.assertEqual(head.get("ReplicationStatus"), "PENDING")
        done = wait_for(
            lambda: self.src_s3.head_object(Bucket=self.src, Key="docs/a.txt").get("ReplicationStatus") == "COMPLETED"
        )
        self.assertTrue(done, "the source reaches COMPLETED")
        copy = self.replica("docs/a.txt")
        self.assertIsNotNone(copy)
        self.assertEqual(copy["ReplicationStatus"], "REPLICA")
        self.assertEqual(copy["VersionId"], put["VersionId"], "the replica keeps the version ID")
        self.assertEqual(copy["ContentType"], "text/plain")
        self.assertEqual(copy["Metadata"], {"owner": "tandem"})
        got = self.dst_s3.get_object(Bucket=self.dst, Key="docs/a.txt")
        self.assertEqual(got["Body"].read(), b"hello")
        self.assertEqual(got["ReplicationStatus"], "REPLICA")
        tags = self.dst_s3.get_object_tagging(Bucket=self.dst, Key="docs/a.txt")["TagSet"]
        self.assertEqual(tags, [{"Key": "team", "Value": "dr"}])
        self.assertEqual(
            self.src_s3.get_object(Bucket=self.src, Key="docs/a.txt")["ReplicationStatus"], "COMPLETED"
        )

    def test_a_delete_marker_is_replicated_and_a_version_delete_is_not(self) -> None:
        v1 = self.src_s3.put_object(Bucket=self.src, Key="k", Body=b"1")["VersionId"]
        self.assertTrue(wait_for(lambda: self.replica("k")))
        self.src_s3.delete_object(Bucket=self.src, Key="k")
        self.assertTrue(wait_for(lambda: self.replica("k") is None), "the delete marker reaches the replica")
        versions = self.dst_s3.list_object_versions(Bucket=self.dst, Prefix="k")
        self.assertEqual([v["VersionId"] for v in versions.get("Versions", [])], [v1])
        self.assertEqual(len(versions.get("DeleteMarkers", [])), 1)
        # Deleting a version on the source is not replicated.
        self.src_s3.delete_object(Bucket=self.src, Key="k", VersionId=v1)
        time.sleep(1.5)
        versions = self.dst_s3.list_object_versions(Bucket=self.dst, Prefix="k")
        self.assertEqual([v["VersionId"] for v in versions.get("Versions", [])], [v1])

    def test_objects_outside_the_filter_are_not_replicated(self) -> None:
        self.src_s3.put_bucket_replication(
            Bucket=self.src,
            ReplicationConfiguration={
                "Role": "arn:aws:iam::123456789012:role/replication",
                "Rules": [{**self.rule, "Filter": {"Prefix": "docs/"}}],
            },
        )
        self.src_s3.put_object(Bucket=self.src, Key="other/b.txt", Body=b"x")
        self.assertNotIn("ReplicationStatus", self.src_s3.head_object(Bucket=self.src, Key="other/b.txt"))
        time.sleep(1.5)
        self.assertIsNone(self.replica("other/b.txt"))

    def test_get_bucket_replication_answers_the_rule_put(self) -> None:
        rules = self.src_s3.get_bucket_replication(Bucket=self.src)["ReplicationConfiguration"]["Rules"]
        self.assertEqual(len(rules), 1)
        rule = rules[0]
        self.assertEqual(rule["DeleteMarkerReplication"], {"Status": "Enabled"})
        self.assertEqual(rule["Filter"], {"Prefix": ""})
        self.assertEqual(rule["Destination"]["ReplicationTime"], {"Status": "Enabled", "Time": {"Minutes": 15}})
        self.assertEqual(rule["Destination"]["Metrics"], {"Status": "Enabled", "EventThreshold": {"Minutes": 15}})


if __name__ == "__main__":
    unittest.main()


class TlsOnlyBucketPolicy(unittest.TestCase):
    """The TLS-only statement (Deny s3:* when aws:SecureTransport is false): moto ignored
    the condition and denied every object call; now it denies requests without TLS only."""

    def test_object_calls_over_the_loopback_listener_are_allowed(self) -> None:
        import json

        s3 = client("s3", "us-east-1")
        bucket = unique("tls-only")
        s3.create_bucket(Bucket=bucket)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }],
        }
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        s3.put_object(Bucket=bucket, Key="k", Body=b"v")
        self.assertEqual(s3.get_object(Bucket=bucket, Key="k")["Body"].read(), b"v")

    def test_the_condition_is_evaluated_from_the_transport(self) -> None:
        from emulator.s3 import request_is_secure, secure_transport_condition

        self.assertTrue(request_is_secure("https", "203.0.113.7"))
        self.assertTrue(request_is_secure("http", "127.0.0.1"))
        self.assertFalse(request_is_secure("http", "203.0.113.7"))
        deny_plain = {"Bool": {"aws:SecureTransport": "false"}}
        self.assertIs(secure_transport_condition(deny_plain, secure=False), True)
        self.assertIs(secure_transport_condition(deny_plain, secure=True), False)
        self.assertIs(secure_transport_condition({"Bool": {"aws:SecureTransport": ["true"]}}, secure=True), True)
        self.assertIsNone(secure_transport_condition({"StringEquals": {"aws:SourceAccount": "1"}}, secure=True))


class ExpectedBucketOwner(unittest.TestCase):
    """A bucket of another account is refused (403) to a request naming the caller's
    account as its expected owner, instead of being read or changed."""

    def setUp(self) -> None:
        self.s3 = client("s3", "us-east-1")
        self.foreign = client("s3", "us-east-1")
        self.foreign.meta.events.register(
            "before-sign.s3.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", "999988887777")
        )
        self.bucket = unique("foreign")
        self.foreign.create_bucket(Bucket=self.bucket)

    def test_another_accounts_bucket_is_refused_to_the_expected_owner(self) -> None:
        for call in (
            lambda: self.s3.head_bucket(Bucket=self.bucket, ExpectedBucketOwner="123456789012"),
            lambda: self.s3.put_bucket_tagging(Bucket=self.bucket, Tagging={"TagSet": []}, ExpectedBucketOwner="123456789012"),
            lambda: self.s3.put_object(Bucket=self.bucket, Key="k", Body=b"v", ExpectedBucketOwner="123456789012"),
        ):
            with self.assertRaises(ClientError) as e:
                call()
            self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)

    def test_the_owner_itself_and_calls_without_the_header_are_served(self) -> None:
        self.foreign.head_bucket(Bucket=self.bucket, ExpectedBucketOwner="999988887777")
        self.s3.head_bucket(Bucket=self.bucket)

    def test_mismatch_rule(self) -> None:
        from emulator.s3 import owner_mismatch

        self.assertTrue(owner_mismatch("1", "2"))
        self.assertFalse(owner_mismatch("1", "1"))
        self.assertFalse(owner_mismatch(None, "2"))
        self.assertFalse(owner_mismatch("1", None))
