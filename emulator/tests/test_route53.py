"""Route 53: CreateHealthCheck is idempotent on its CallerReference, as on AWS; health checks
are evaluated (region outages, CloudWatch alarms, children) and their status is answered by
GetHealthCheckStatus and published as the AWS/Route53 HealthCheckStatus metric."""

from __future__ import annotations

import datetime
import json
import time
import unittest
import urllib.request
from typing import Any

import boto3
from botocore.exceptions import ClientError

from emulator.tests.support import client, endpoint, error_code, status, unique

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


# ----------------------------------------------------------------------------------------------
# Health checks' data plane, in-process: moto's backends in this process (mock_aws) with the
# emulator's Route 53 patches applied, and emulator.outage's switch.

ACCOUNT = "123456789012"


class InProcess(unittest.TestCase):
    def setUp(self) -> None:
        from moto import mock_aws

        from emulator import outage, route53

        route53.apply()
        self.outage = outage
        self.route53 = route53
        mock = mock_aws()
        mock.start()
        self.addCleanup(mock.stop)
        self.r53 = self.aws("route53")

    def aws(self, service: str, region: str = "us-east-1") -> Any:
        return boto3.client(
            service, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
        )

    def cut(self, region: str) -> None:
        self.outage.cut(region)
        self.addCleanup(self.outage.restore, region)

    def check(self, **config: Any) -> str:
        return self.r53.create_health_check(CallerReference=unique("hc"), HealthCheckConfig=config)[
            "HealthCheck"
        ]["Id"]

    def endpoint_check(self, fqdn: str | None, kind: str = "HTTPS", **more: Any) -> str:
        config: dict[str, Any] = {"Type": kind, "Port": 443, **more}
        if fqdn:
            config["FullyQualifiedDomainName"] = fqdn
        if kind.startswith("HTTP"):
            config["ResourcePath"] = "/health"
        if kind.endswith("STR_MATCH"):
            config["SearchString"] = "ok"
        return self.check(**config)


class EndpointChecks(InProcess):
    def test_an_endpoint_check_is_unhealthy_while_its_region_is_cut(self) -> None:
        targets = {
            "HTTPS": "abc123.execute-api.eu-north-1.amazonaws.com",
            "HTTP": "name-123.elb.eu-north-1.amazonaws.com",
            "HTTPS_STR_MATCH": "name-123456.eu-north-1.elb.amazonaws.com",
            "HTTP_STR_MATCH": "x.eu-north-1.amazonaws.com",
            "TCP": "nlb-1.elb.eu-north-1.amazonaws.com",
        }
        ids = {kind: self.endpoint_check(fqdn, kind) for kind, fqdn in targets.items()}
        for kind, hc in ids.items():
            self.assertTrue(self.route53.is_healthy(hc), kind)
        self.cut("ap-south-1")
        for kind, hc in ids.items():
            self.assertTrue(self.route53.is_healthy(hc), f"{kind}: another region's outage")
        self.cut("eu-north-1")
        for kind, hc in ids.items():
            self.assertFalse(self.route53.is_healthy(hc), kind)
        self.outage.restore("eu-north-1")
        for kind, hc in ids.items():
            self.assertTrue(self.route53.is_healthy(hc), f"{kind} after restore")

    def test_an_ip_target_or_a_name_without_region_is_always_healthy(self) -> None:
        by_ip = self.endpoint_check(None, "TCP", IPAddress="192.0.2.44")
        global_name = self.endpoint_check("d111111abcdef8.cloudfront.net")
        self.cut("us-east-1")
        self.cut("eu-north-1")
        self.assertTrue(self.route53.is_healthy(by_ip))
        self.assertTrue(self.route53.is_healthy(global_name))

    def test_inverted_flips_the_status(self) -> None:
        hc = self.endpoint_check("abc.execute-api.eu-north-1.amazonaws.com", Inverted=True)
        self.assertFalse(self.route53.is_healthy(hc))
        self.cut("eu-north-1")
        self.assertTrue(self.route53.is_healthy(hc))

    def test_a_disabled_check_is_healthy_and_inverted_still_applies(self) -> None:
        hc = self.endpoint_check("abc.execute-api.eu-north-1.amazonaws.com", Disabled=True)
        self.cut("eu-north-1")
        self.assertTrue(self.route53.is_healthy(hc))
        # "If you want to stop routing traffic to a resource, change the value of Inverted."
        self.r53.update_health_check(HealthCheckId=hc, Inverted=True)
        self.assertFalse(self.route53.is_healthy(hc))

    def test_an_unknown_check_is_healthy(self) -> None:
        self.assertTrue(self.route53.is_healthy("00000000-0000-0000-0000-000000000000"))


class CloudWatchMetricChecks(InProcess):
    def alarm(self, region: str = "us-east-2") -> str:
        name = unique("alarm")
        self.aws("cloudwatch", region).put_metric_alarm(
            AlarmName=name,
            Namespace="Tandem",
            MetricName="Errors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        return name

    def set_state(self, name: str, state: str, region: str = "us-east-2") -> None:
        self.aws("cloudwatch", region).set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")

    def metric_check(self, name: str, insufficient: str | None = None, region: str = "us-east-2") -> str:
        config: dict[str, Any] = {"Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Region": region, "Name": name}}
        if insufficient:
            config["InsufficientDataHealthStatus"] = insufficient
        return self.check(**config)

    def test_the_check_follows_its_alarm(self) -> None:
        name = self.alarm()
        hc = self.metric_check(name)
        self.set_state(name, "OK")
        self.assertTrue(self.route53.is_healthy(hc))
        self.set_state(name, "ALARM")
        self.assertFalse(self.route53.is_healthy(hc))
        self.set_state(name, "OK")
        self.assertTrue(self.route53.is_healthy(hc))

    def test_insufficient_data_follows_insufficient_data_health_status(self) -> None:
        name = self.alarm()
        healthy = self.metric_check(name, "Healthy")
        unhealthy = self.metric_check(name, "Unhealthy")
        last_known = self.metric_check(name)  # LastKnownStatus, the default
        self.set_state(name, "INSUFFICIENT_DATA")
        self.assertTrue(self.route53.is_healthy(healthy))
        self.assertFalse(self.route53.is_healthy(unhealthy))
        self.assertTrue(self.route53.is_healthy(last_known), "no known status yet: healthy")
        self.set_state(name, "ALARM")
        self.assertFalse(self.route53.is_healthy(last_known))
        self.set_state(name, "INSUFFICIENT_DATA")
        self.assertFalse(self.route53.is_healthy(last_known), "the last known status: unhealthy")
        self.assertTrue(self.route53.is_healthy(healthy))

    def test_the_alarm_region_cut_off_is_insufficient_data(self) -> None:
        name = self.alarm()
        hc = self.metric_check(name, "Unhealthy")
        self.set_state(name, "OK")
        self.assertTrue(self.route53.is_healthy(hc))
        self.cut("us-east-2")
        self.assertFalse(self.route53.is_healthy(hc))

    def test_get_health_check_answers_the_alarm(self) -> None:
        name = self.alarm()
        hc = self.metric_check(name, "Healthy")
        got = self.r53.get_health_check(HealthCheckId=hc)["HealthCheck"]
        self.assertEqual(got["HealthCheckConfig"]["AlarmIdentifier"], {"Region": "us-east-2", "Name": name})
        self.assertEqual(got["HealthCheckConfig"]["InsufficientDataHealthStatus"], "Healthy")
        alarm = got["CloudWatchAlarmConfiguration"]
        self.assertEqual(
            (alarm["MetricName"], alarm["Namespace"], alarm["Statistic"], alarm["Period"]),
            ("Errors", "Tandem", "Sum", 60),
        )
        self.assertEqual(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold")
        self.assertEqual((alarm["EvaluationPeriods"], alarm["Threshold"]), (1, 1.0))


class CalculatedChecks(InProcess):
    def test_healthy_while_at_least_health_threshold_children_are(self) -> None:
        a = self.endpoint_check("a.execute-api.eu-north-1.amazonaws.com")
        b = self.endpoint_check("b.execute-api.ap-south-1.amazonaws.com")
        c = self.endpoint_check("c.execute-api.sa-east-1.amazonaws.com")
        two = self.check(Type="CALCULATED", ChildHealthChecks=[a, b, c], HealthThreshold=2)
        inverted = self.check(Type="CALCULATED", ChildHealthChecks=[a, b, c], HealthThreshold=2, Inverted=True)
        zero = self.check(Type="CALCULATED", ChildHealthChecks=[a, b], HealthThreshold=0)
        self.assertTrue(self.route53.is_healthy(two))
        self.assertFalse(self.route53.is_healthy(inverted))
        self.cut("eu-north-1")
        self.assertTrue(self.route53.is_healthy(two), "2 of 3 healthy")
        self.cut("ap-south-1")
        self.assertFalse(self.route53.is_healthy(two), "1 of 3 healthy")
        self.assertTrue(self.route53.is_healthy(inverted))
        self.assertTrue(self.route53.is_healthy(zero), "a threshold of 0 is always healthy")

    def test_a_cycle_of_calculated_checks_terminates(self) -> None:
        leaf = self.endpoint_check("a.execute-api.eu-north-1.amazonaws.com")
        b = self.check(Type="CALCULATED", ChildHealthChecks=[leaf], HealthThreshold=1)
        a = self.check(Type="CALCULATED", ChildHealthChecks=[b, leaf], HealthThreshold=1)
        self.r53.update_health_check(HealthCheckId=b, ChildHealthChecks=[a])
        self.assertTrue(self.route53.is_healthy(a))
        self.assertTrue(self.route53.is_healthy(b))
        self.cut("eu-north-1")
        self.assertFalse(self.route53.is_healthy(a))
        self.assertFalse(self.route53.is_healthy(b))


class MetricPublishing(InProcess):
    def test_publish_puts_the_status_and_prune_drops_old_route53_points_only(self) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        hc = self.endpoint_check("abc.execute-api.eu-north-1.amazonaws.com")
        calculated = self.check(Type="CALCULATED", ChildHealthChecks=[hc], HealthThreshold=1)
        self.cut("eu-north-1")
        self.route53.publish_metrics()
        backend = cloudwatch_backends[ACCOUNT]["us-east-1"]
        points = {
            (d.name, d.dimensions[0].value): d.value for d in backend.metric_data if d.namespace == "AWS/Route53"
        }
        self.assertEqual(points[("HealthCheckStatus", hc)], 0.0)
        self.assertEqual(points[("HealthCheckPercentageHealthy", hc)], 0.0)
        self.assertEqual(points[("HealthCheckStatus", calculated)], 0.0)
        self.assertEqual(points[("ChildHealthCheckHealthyCount", calculated)], 0.0)
        old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
        self.aws("cloudwatch").put_metric_data(
            Namespace="Tandem", MetricData=[{"MetricName": "Old", "Value": 1.0, "Timestamp": old}]
        )
        for d in backend.metric_data:
            if d.namespace == "AWS/Route53":
                d.timestamp = d.timestamp - datetime.timedelta(days=1)
        self.route53.prune_metrics()
        self.assertFalse([d for d in backend.metric_data if d.namespace == "AWS/Route53"])
        self.assertEqual([d.name for d in backend.metric_data if d.namespace == "Tandem"], ["Old"])


# ----------------------------------------------------------------------------------------------
# Through the server: the control route cuts a region; GetHealthCheckStatus and the
# HealthCheckStatus metric follow. (Route 53 is signed for us-east-1: never cut it here.)

TARGET_REGION = "eu-west-3"
TARGET = f"abc123.execute-api.{TARGET_REGION}.amazonaws.com"


def control(method: str, region: str) -> list[str]:
    url = f"{endpoint()}/_emulator/outage/{region}"
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as answer:
        return json.loads(answer.read())


class HealthCheckStatusThroughServer(unittest.TestCase):
    def setUp(self) -> None:
        self.r53 = client("route53")
        self.addCleanup(control, "DELETE", TARGET_REGION)

    def create(self, **config: Any) -> str:
        return self.r53.create_health_check(CallerReference=unique("hc"), HealthCheckConfig=config)[
            "HealthCheck"
        ]["Id"]

    def statuses(self, hc: str) -> list[dict[str, Any]]:
        return self.r53.get_health_check_status(HealthCheckId=hc)["HealthCheckObservations"]

    def test_observations_follow_the_region_of_the_endpoint(self) -> None:
        regions = ["us-east-1", "us-west-2", "eu-west-1"]
        hc = self.create(Type="HTTPS", FullyQualifiedDomainName=TARGET, Port=443, ResourcePath="/prod/health", Regions=regions)
        seen = self.statuses(hc)
        self.assertEqual(sorted(o["Region"] for o in seen), sorted(regions), "one observation per checker region")
        for o in seen:
            self.assertRegex(o["IPAddress"], r"^\d+\.\d+\.\d+\.\d+$")
            self.assertTrue(o["StatusReport"]["Status"].startswith("Success: HTTP Status Code 200"), o)
            self.assertIsInstance(o["StatusReport"]["CheckedTime"], datetime.datetime)
        self.assertIn(TARGET_REGION, control("POST", TARGET_REGION))
        for o in self.statuses(hc):
            self.assertTrue(o["StatusReport"]["Status"].startswith("Failure: Connection timed out"), o)
        control("DELETE", TARGET_REGION)
        for o in self.statuses(hc):
            self.assertTrue(o["StatusReport"]["Status"].startswith("Success"), o)

    def test_all_eight_checker_regions_by_default(self) -> None:
        hc = self.create(Type="TCP", FullyQualifiedDomainName=TARGET, Port=443)
        seen = self.statuses(hc)
        self.assertEqual(len(seen), 8)
        self.assertEqual(len({o["Region"] for o in seen}), 8)

    def test_a_calculated_check_is_invalid_input(self) -> None:
        child = self.create(Type="HTTPS", FullyQualifiedDomainName=TARGET, Port=443, ResourcePath="/")
        calculated = self.create(Type="CALCULATED", ChildHealthChecks=[child], HealthThreshold=1)
        with self.assertRaises(ClientError) as e:
            self.statuses(calculated)
        self.assertEqual((error_code(e.exception), status(e.exception)), ("InvalidInput", 400))

    def test_an_unknown_check_is_no_such_health_check(self) -> None:
        with self.assertRaises(ClientError) as e:
            self.statuses("00000000-0000-0000-0000-000000000000")
        self.assertEqual((error_code(e.exception), status(e.exception)), ("NoSuchHealthCheck", 404))

    def test_a_cloudwatch_metric_check_follows_its_alarm(self) -> None:
        cw = client("cloudwatch", "us-east-2")
        name = unique("alarm")
        cw.put_metric_alarm(
            AlarmName=name, Namespace="Tandem", MetricName="Errors", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        hc = self.create(Type="CLOUDWATCH_METRIC", AlarmIdentifier={"Region": "us-east-2", "Name": name})
        self.assertEqual(
            self.r53.get_health_check(HealthCheckId=hc)["HealthCheck"]["HealthCheckConfig"]["AlarmIdentifier"],
            {"Region": "us-east-2", "Name": name},
        )
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
        self.assertTrue(all(o["StatusReport"]["Status"].startswith("Failure") for o in self.statuses(hc)))
        cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test")
        self.assertTrue(all(o["StatusReport"]["Status"].startswith("Success") for o in self.statuses(hc)))

    def test_update_keeps_what_it_does_not_name_and_counts_versions(self) -> None:
        regions = ["us-east-1", "us-west-2", "eu-west-1"]
        hc = self.create(Type="HTTPS", FullyQualifiedDomainName=TARGET, Port=443, ResourcePath="/h", Regions=regions)
        calculated = self.create(Type="CALCULATED", ChildHealthChecks=[hc], HealthThreshold=1)
        updated = self.r53.update_health_check(HealthCheckId=hc, HealthCheckVersion=1, Inverted=True)["HealthCheck"]
        self.assertEqual(updated["HealthCheckVersion"], 2)
        self.assertEqual(updated["HealthCheckConfig"]["Regions"], regions)
        self.assertTrue(updated["HealthCheckConfig"]["Inverted"])
        updated = self.r53.update_health_check(HealthCheckId=calculated, HealthThreshold=0)["HealthCheck"]
        self.assertEqual(updated["HealthCheckConfig"]["ChildHealthChecks"], [hc])
        reset = self.r53.update_health_check(HealthCheckId=hc, ResetElements=["Regions", "ResourcePath"])["HealthCheck"]
        self.assertNotIn("Regions", reset["HealthCheckConfig"])
        self.assertNotIn("ResourcePath", reset["HealthCheckConfig"])
        self.assertEqual(reset["HealthCheckVersion"], 3)
        with self.assertRaises(ClientError) as e:
            self.r53.update_health_check(HealthCheckId=hc, HealthCheckVersion=1, Inverted=False)
        self.assertEqual((error_code(e.exception), status(e.exception)), ("HealthCheckVersionMismatch", 409))


class HealthCheckStatusMetric(unittest.TestCase):
    """AWS/Route53 HealthCheckStatus (dimension HealthCheckId) in us-east-1 CloudWatch."""

    def setUp(self) -> None:
        self.addCleanup(control, "DELETE", TARGET_REGION)

    def wait_for(self, cw: Any, hc: str, start: datetime.datetime, statistic: str, value: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 45
        points: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            points = cw.get_metric_statistics(
                Namespace="AWS/Route53",
                MetricName="HealthCheckStatus",
                Dimensions=[{"Name": "HealthCheckId", "Value": hc}],
                StartTime=start,
                EndTime=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1),
                Period=60,
                Statistics=["Minimum", "Maximum", "SampleCount"],
            )["Datapoints"]
            if any(p[statistic] == value for p in points):
                return points
            time.sleep(0.5)
        self.fail(f"no HealthCheckStatus {statistic} {value} for {hc} within 45 s: {points}")

    def test_the_metric_follows_the_check(self) -> None:
        r53 = client("route53")
        cw = client("cloudwatch", "us-east-1")
        start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - datetime.timedelta(seconds=1)
        hc = r53.create_health_check(
            CallerReference=unique("hc"),
            HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": TARGET, "Port": 443, "ResourcePath": "/"},
        )["HealthCheck"]["Id"]
        healthy = self.wait_for(cw, hc, start, "Maximum", 1.0)
        self.assertTrue(all(p["Minimum"] == 1.0 for p in healthy), healthy)
        control("POST", TARGET_REGION)
        self.wait_for(cw, hc, start, "Minimum", 0.0)
        time.sleep(1.1)
        control("DELETE", TARGET_REGION)
        restored = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=1)
        after = self.wait_for(cw, hc, restored, "Minimum", 1.0)
        self.assertTrue(all(p["Maximum"] == 1.0 for p in after), after)
        # GetMetricData answers the same series.
        data = cw.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "status",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/Route53",
                            "MetricName": "HealthCheckStatus",
                            "Dimensions": [{"Name": "HealthCheckId", "Value": hc}],
                        },
                        "Period": 60,
                        "Stat": "Minimum",
                    },
                }
            ],
            StartTime=start,
            EndTime=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1),
        )["MetricDataResults"][0]
        self.assertIn(0.0, data["Values"])


if __name__ == "__main__":
    unittest.main()
