"""Route 53: CreateHealthCheck is idempotent on its CallerReference, as on AWS."""

import unittest

from botocore.exceptions import ClientError

from emulator.tests.support import client, error_code, status, unique

CONFIG = {
    "Type": "HTTPS",
    "FullyQualifiedDomainName": "abc.execute-api.us-east-1.amazonaws.com",
    "Port": 443,
    "ResourcePath": "/prod/health",
    "RequestInterval": 30,
    "FailureThreshold": 3,
    "EnableSNI": True,
}


class CreateHealthCheckCallerReference(unittest.TestCase):
    def setUp(self) -> None:
        self.r53 = client("route53")

    def test_same_reference_and_settings_return_the_existing_check(self) -> None:
        ref = unique("hc")
        first = self.r53.create_health_check(CallerReference=ref, HealthCheckConfig=CONFIG)["HealthCheck"]
        again = self.r53.create_health_check(CallerReference=ref, HealthCheckConfig=CONFIG)["HealthCheck"]
        self.assertEqual(again["Id"], first["Id"])
        self.assertEqual(again["CallerReference"], ref)
        ours = [c for c in self.r53.list_health_checks()["HealthChecks"] if c["CallerReference"] == ref]
        self.assertEqual(len(ours), 1, "exactly one check carries the reference")

    def test_same_reference_with_other_settings_is_health_check_already_exists(self) -> None:
        ref = unique("hc")
        self.r53.create_health_check(CallerReference=ref, HealthCheckConfig=CONFIG)
        with self.assertRaises(ClientError) as e:
            self.r53.create_health_check(CallerReference=ref, HealthCheckConfig={**CONFIG, "FailureThreshold": 5})
        self.assertEqual(error_code(e.exception), "HealthCheckAlreadyExists")
        self.assertEqual(status(e.exception), 409)

    def test_reference_of_a_deleted_check_is_health_check_already_exists(self) -> None:
        ref = unique("hc")
        hc = self.r53.create_health_check(CallerReference=ref, HealthCheckConfig=CONFIG)["HealthCheck"]
        self.r53.delete_health_check(HealthCheckId=hc["Id"])
        with self.assertRaises(ClientError) as e:
            self.r53.create_health_check(CallerReference=ref, HealthCheckConfig=CONFIG)
        self.assertEqual(error_code(e.exception), "HealthCheckAlreadyExists")

    def test_another_reference_creates_another_check(self) -> None:
        a = self.r53.create_health_check(CallerReference=unique("hc"), HealthCheckConfig=CONFIG)["HealthCheck"]
        b = self.r53.create_health_check(CallerReference=unique("hc"), HealthCheckConfig=CONFIG)["HealthCheck"]
        self.assertNotEqual(a["Id"], b["Id"])


if __name__ == "__main__":
    unittest.main()
