"""S3: answers in AWS's shapes."""

import unittest
import xml.etree.ElementTree as ET

from emulator.tests.support import client, unique

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


if __name__ == "__main__":
    unittest.main()
