"""Global Accelerator: the API moto 5.2.5 lacks, served by the emulator (emulator/globalaccelerator.py).

Shapes and error codes follow botocore's `globalaccelerator/2018-08-08` model; behaviour
follows the Global Accelerator API reference: IdempotencyToken, IN_PROGRESS → DEPLOYED
after every change, deletion only of a disabled accelerator without listeners (a listener
only without endpoint groups), one endpoint group per region and listener, endpoint health
UNHEALTHY ("Timeout") while the endpoint's region is cut off.

Against plain moto (EMULATOR_TEST_PLAIN=1) every server test fails (moto has no backend for
the `globalaccelerator` signing name); the in-process tests of the backend pass there too.
"""

from __future__ import annotations

import os
import re
import time
import unittest
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any
from unittest import mock

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from emulator import outage
from emulator.tests.support import ACCOUNT, client, endpoint, error_code, status, unique

REGION = "us-west-2"  # the Global Accelerator control plane
DEADLINE_SECONDS = 20.0


def nlb_arn(region: str, name: str = "nlb") -> str:
    return f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:loadbalancer/net/{name}/0123456789abcdef"


def ga():
    return client("globalaccelerator", REGION)


def ga_unvalidated():
    """A client that sends what it is given (botocore checks minimums client-side)."""
    return boto3.client(
        "globalaccelerator",
        endpoint_url=endpoint(),
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False),
    )


def outage_control(method: str, region: str) -> bool:
    """Cuts (POST) or restores (DELETE) a region on the server; False without the route."""
    request = urllib.request.Request(f"{endpoint()}/_emulator/outage/{region}", data=b"", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status == 200
    except (urllib.error.HTTPError, OSError):
        return False


class GaCase(unittest.TestCase):
    def setUp(self) -> None:
        self.ga = ga()

    def create(self, **over: Any) -> dict[str, Any]:
        args = {"Name": unique("acc"), "IdempotencyToken": unique("tok")}
        args.update(over)
        return self.ga.create_accelerator(**args)["Accelerator"]

    def listener(self, acc_arn: str, port: int = 443, **over: Any) -> dict[str, Any]:
        args = {
            "AcceleratorArn": acc_arn,
            "PortRanges": [{"FromPort": port, "ToPort": port}],
            "Protocol": "TCP",
            "ClientAffinity": "NONE",
            "IdempotencyToken": unique("ltok"),
        }
        args.update(over)
        return self.ga.create_listener(**args)["Listener"]

    def group(self, listener_arn: str, region: str, **over: Any) -> dict[str, Any]:
        args = {
            "ListenerArn": listener_arn,
            "EndpointGroupRegion": region,
            "EndpointConfigurations": [
                {"EndpointId": nlb_arn(region), "Weight": 128, "ClientIPPreservationEnabled": False}
            ],
            "TrafficDialPercentage": 100.0,
            "HealthCheckProtocol": "TCP",
            "HealthCheckPort": 443,
            "HealthCheckIntervalSeconds": 10,
            "ThresholdCount": 3,
            "IdempotencyToken": unique("gtok"),
        }
        args.update(over)
        return self.ga.create_endpoint_group(**args)["EndpointGroup"]

    def wait_deployed(self, arn: str) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            acc = self.ga.describe_accelerator(AcceleratorArn=arn)["Accelerator"]
            if acc["Status"] == "DEPLOYED":
                return acc
            if time.monotonic() > deadline:
                self.fail(f"{arn} still {acc['Status']} after {DEADLINE_SECONDS} s")
            time.sleep(0.2)

    def assert_error(self, code: str, call, *args: Any, **kwargs: Any) -> ClientError:
        with self.assertRaises(ClientError) as ctx:
            call(*args, **kwargs)
        self.assertEqual(error_code(ctx.exception), code, ctx.exception)
        self.assertEqual(status(ctx.exception), 400, ctx.exception)
        return ctx.exception

    def teardown_accelerator(self, arn: str) -> None:
        """Deletes an accelerator and everything under it (disable, wait, delete)."""
        for listener in self.ga.list_listeners(AcceleratorArn=arn)["Listeners"]:
            for g in self.ga.list_endpoint_groups(ListenerArn=listener["ListenerArn"])["EndpointGroups"]:
                self.ga.delete_endpoint_group(EndpointGroupArn=g["EndpointGroupArn"])
            self.ga.delete_listener(ListenerArn=listener["ListenerArn"])
        self.ga.update_accelerator(AcceleratorArn=arn, Enabled=False)
        self.wait_deployed(arn)
        self.ga.delete_accelerator(AcceleratorArn=arn)


class AcceleratorTest(GaCase):
    def test_life_cycle_in_progress_then_deployed(self) -> None:
        name = unique("acc")
        acc = self.create(Name=name, IpAddressType="IPV4", Enabled=True)
        arn = acc["AcceleratorArn"]
        self.assertRegex(arn, rf"^arn:aws:globalaccelerator::{ACCOUNT}:accelerator/[0-9a-f-]{{36}}$")
        self.assertEqual(acc["Name"], name)
        self.assertEqual(acc["IpAddressType"], "IPV4")
        self.assertIs(acc["Enabled"], True)
        self.assertEqual(acc["Status"], "IN_PROGRESS")
        self.assertRegex(acc["DnsName"], r"^a[0-9a-f]{16}\.awsglobalaccelerator\.com$")
        self.assertEqual(len(acc["IpSets"]), 1)
        ip_set = acc["IpSets"][0]
        self.assertEqual(ip_set["IpFamily"], "IPv4")
        self.assertEqual(len(ip_set["IpAddresses"]), 2)
        for ip in ip_set["IpAddresses"]:
            self.assertRegex(ip, r"^\d+\.\d+\.\d+\.\d+$")
        self.assertIsInstance(acc["CreatedTime"], datetime)
        self.assertIsInstance(acc["LastModifiedTime"], datetime)

        deployed = self.wait_deployed(arn)
        self.assertEqual(deployed["DnsName"], acc["DnsName"])
        self.assertEqual(deployed["IpSets"], acc["IpSets"])

        # Enabled accelerators cannot be deleted.
        self.assert_error("AcceleratorNotDisabledException", self.ga.delete_accelerator, AcceleratorArn=arn)

        disabled = self.ga.update_accelerator(AcceleratorArn=arn, Enabled=False)["Accelerator"]
        self.assertIs(disabled["Enabled"], False)
        self.assertEqual(disabled["Status"], "IN_PROGRESS")
        self.assertGreaterEqual(disabled["LastModifiedTime"], acc["LastModifiedTime"])
        # Disabled, but the change is not deployed yet.
        self.assert_error("AcceleratorNotDisabledException", self.ga.delete_accelerator, AcceleratorArn=arn)
        self.wait_deployed(arn)

        self.ga.delete_accelerator(AcceleratorArn=arn)
        self.assert_error("AcceleratorNotFoundException", self.ga.describe_accelerator, AcceleratorArn=arn)
        self.assertNotIn(arn, [a["AcceleratorArn"] for a in self.all_accelerators()])

    def test_update_accelerator_name_and_dual_stack(self) -> None:
        acc = self.create(IpAddressType="DUAL_STACK")
        arn = acc["AcceleratorArn"]
        self.assertEqual([s["IpFamily"] for s in acc["IpSets"]], ["IPv4", "IPv6"])
        self.assertRegex(acc["DualStackDnsName"], r"^a[0-9a-f]{16}\.dualstack\.awsglobalaccelerator\.com$")
        renamed = self.ga.update_accelerator(AcceleratorArn=arn, Name="renamed", IpAddressType="IPV4")["Accelerator"]
        self.assertEqual(renamed["Name"], "renamed")
        self.assertEqual([s["IpFamily"] for s in renamed["IpSets"]], ["IPv4"])
        self.assertNotIn("DualStackDnsName", renamed)
        self.assertIs(renamed["Enabled"], True)
        self.teardown_accelerator(arn)

    def test_idempotency_token_returns_the_same_resources(self) -> None:
        token = unique("tok")
        first = self.create(Name="idem", IdempotencyToken=token)
        again = self.create(Name="idem", IdempotencyToken=token)
        self.assertEqual(again["AcceleratorArn"], first["AcceleratorArn"])
        self.assertEqual(again["IpSets"], first["IpSets"])
        arns = [a["AcceleratorArn"] for a in self.all_accelerators()]
        self.assertEqual(arns.count(first["AcceleratorArn"]), 1)
        other = self.create(Name="idem")
        self.assertNotEqual(other["AcceleratorArn"], first["AcceleratorArn"])

        arn = first["AcceleratorArn"]
        ltok = unique("ltok")
        listener = self.listener(arn, IdempotencyToken=ltok)
        self.assertEqual(self.listener(arn, IdempotencyToken=ltok)["ListenerArn"], listener["ListenerArn"])
        self.assertEqual(len(self.ga.list_listeners(AcceleratorArn=arn)["Listeners"]), 1)

        gtok = unique("gtok")
        group = self.group(listener["ListenerArn"], "us-east-1", IdempotencyToken=gtok)
        self.assertEqual(
            self.group(listener["ListenerArn"], "us-east-1", IdempotencyToken=gtok)["EndpointGroupArn"],
            group["EndpointGroupArn"],
        )
        self.assertEqual(len(self.ga.list_endpoint_groups(ListenerArn=listener["ListenerArn"])["EndpointGroups"]), 1)
        self.teardown_accelerator(arn)
        self.teardown_accelerator(other["AcceleratorArn"])

    def test_refuses_deletes_that_leave_children(self) -> None:
        arn = self.create()["AcceleratorArn"]
        listener = self.listener(arn)
        group = self.group(listener["ListenerArn"], "us-east-1")
        self.ga.update_accelerator(AcceleratorArn=arn, Enabled=False)
        self.wait_deployed(arn)

        self.assert_error("AssociatedListenerFoundException", self.ga.delete_accelerator, AcceleratorArn=arn)
        self.assert_error(
            "AssociatedEndpointGroupFoundException", self.ga.delete_listener, ListenerArn=listener["ListenerArn"]
        )
        self.ga.delete_endpoint_group(EndpointGroupArn=group["EndpointGroupArn"])
        self.ga.delete_listener(ListenerArn=listener["ListenerArn"])
        self.wait_deployed(arn)
        self.ga.delete_accelerator(AcceleratorArn=arn)
        self.assert_error("AcceleratorNotFoundException", self.ga.delete_accelerator, AcceleratorArn=arn)

    def test_tags(self) -> None:
        acc = self.create(Tags=[{"Key": "Name", "Value": "acc-t"}, {"Key": "stack", "Value": "t"}])
        arn = acc["AcceleratorArn"]
        self.assertEqual(
            self.ga.list_tags_for_resource(ResourceArn=arn)["Tags"],
            [{"Key": "Name", "Value": "acc-t"}, {"Key": "stack", "Value": "t"}],
        )
        self.ga.tag_resource(ResourceArn=arn, Tags=[{"Key": "stack", "Value": "u"}, {"Key": "owner", "Value": "me"}])
        tags = {t["Key"]: t["Value"] for t in self.ga.list_tags_for_resource(ResourceArn=arn)["Tags"]}
        self.assertEqual(tags, {"Name": "acc-t", "stack": "u", "owner": "me"})
        self.ga.untag_resource(ResourceArn=arn, TagKeys=["stack", "absent"])
        tags = {t["Key"]: t["Value"] for t in self.ga.list_tags_for_resource(ResourceArn=arn)["Tags"]}
        self.assertEqual(tags, {"Name": "acc-t", "owner": "me"})
        gone = arn[:-4] + "ffff"
        self.assert_error("AcceleratorNotFoundException", self.ga.list_tags_for_resource, ResourceArn=gone)
        self.assert_error(
            "AcceleratorNotFoundException", self.ga.tag_resource, ResourceArn=gone, Tags=[{"Key": "k", "Value": "v"}]
        )
        self.assert_error("AcceleratorNotFoundException", self.ga.untag_resource, ResourceArn=gone, TagKeys=["k"])
        self.teardown_accelerator(arn)

    def all_accelerators(self, page_size: int = 100) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"MaxResults": page_size}
        for _ in range(1000):
            page = self.ga.list_accelerators(**kwargs)
            self.assertLessEqual(len(page["Accelerators"]), page_size)
            out.extend(page["Accelerators"])
            if not page.get("NextToken"):
                return out
            kwargs["NextToken"] = page["NextToken"]
        self.fail("ListAccelerators never ended")

    def test_pagination(self) -> None:
        mine = [self.create()["AcceleratorArn"] for _ in range(5)]
        listed = [a["AcceleratorArn"] for a in self.all_accelerators(page_size=2)]
        self.assertEqual(len(listed), len(set(listed)), "no accelerator listed twice")
        for arn in mine:
            self.assertIn(arn, listed)
        self.assertEqual(listed, [a["AcceleratorArn"] for a in self.all_accelerators()])
        first = self.ga.list_accelerators(MaxResults=2)
        self.assertEqual(len(first["Accelerators"]), 2)
        self.assertIn("NextToken", first)
        self.assert_error("InvalidNextTokenException", self.ga.list_accelerators, NextToken="not-a-token")

        # Listeners page the same way (the SDK pages ListListeners / ListEndpointGroups).
        acc = mine[0]
        ports = [443, 8443, 9443]
        for port in ports:
            self.listener(acc, port)
        page1 = self.ga.list_listeners(AcceleratorArn=acc, MaxResults=2)
        self.assertEqual(len(page1["Listeners"]), 2)
        page2 = self.ga.list_listeners(AcceleratorArn=acc, MaxResults=2, NextToken=page1["NextToken"])
        self.assertEqual(len(page2["Listeners"]), 1)
        self.assertNotIn("NextToken", page2)
        seen = sorted(r["FromPort"] for l in page1["Listeners"] + page2["Listeners"] for r in l["PortRanges"])
        self.assertEqual(seen, ports)
        for arn in mine:
            self.teardown_accelerator(arn)

    def test_not_found_errors(self) -> None:
        acc = f"arn:aws:globalaccelerator::{ACCOUNT}:accelerator/00000000-0000-0000-0000-000000000000"
        listener = f"{acc}/listener/abcdef01"
        group = f"{listener}/endpoint-group/abcdef012345"
        e = self.assert_error("AcceleratorNotFoundException", self.ga.describe_accelerator, AcceleratorArn=acc)
        self.assertIn(acc, e.response["Error"]["Message"])
        self.assert_error("AcceleratorNotFoundException", self.ga.update_accelerator, AcceleratorArn=acc, Enabled=False)
        self.assert_error("AcceleratorNotFoundException", self.ga.delete_accelerator, AcceleratorArn=acc)
        self.assert_error("AcceleratorNotFoundException", self.ga.list_listeners, AcceleratorArn=acc)
        self.assert_error("AcceleratorNotFoundException", self.listener, acc)
        self.assert_error("ListenerNotFoundException", self.ga.describe_listener, ListenerArn=listener)
        self.assert_error("ListenerNotFoundException", self.ga.update_listener, ListenerArn=listener, ClientAffinity="NONE")
        self.assert_error("ListenerNotFoundException", self.ga.delete_listener, ListenerArn=listener)
        self.assert_error("ListenerNotFoundException", self.ga.list_endpoint_groups, ListenerArn=listener)
        self.assert_error("ListenerNotFoundException", self.group, listener, "us-east-1")
        self.assert_error("EndpointGroupNotFoundException", self.ga.describe_endpoint_group, EndpointGroupArn=group)
        self.assert_error(
            "EndpointGroupNotFoundException", self.ga.update_endpoint_group, EndpointGroupArn=group, ThresholdCount=3
        )
        self.assert_error("EndpointGroupNotFoundException", self.ga.delete_endpoint_group, EndpointGroupArn=group)
        self.assert_error(
            "EndpointGroupNotFoundException",
            self.ga.add_endpoints,
            EndpointGroupArn=group,
            EndpointConfigurations=[{"EndpointId": nlb_arn("us-east-1")}],
        )


class ListenerAndGroupTest(GaCase):
    def setUp(self) -> None:
        super().setUp()
        self.acc = self.create()["AcceleratorArn"]

    def tearDown(self) -> None:
        self.teardown_accelerator(self.acc)

    def test_listener_shape_update_and_port_ranges(self) -> None:
        listener = self.listener(self.acc, 443)
        self.assertRegex(listener["ListenerArn"], rf"^{re.escape(self.acc)}/listener/[0-9a-f]{{8}}$")
        self.assertEqual(listener["PortRanges"], [{"FromPort": 443, "ToPort": 443}])
        self.assertEqual(listener["Protocol"], "TCP")
        self.assertEqual(listener["ClientAffinity"], "NONE")
        self.assertEqual(self.ga.describe_listener(ListenerArn=listener["ListenerArn"])["Listener"], listener)
        # Ports must be unique on the accelerator, and a range ordered.
        self.assert_error("InvalidPortRangeException", self.listener, self.acc, 443)
        self.assert_error(
            "InvalidPortRangeException", self.listener, self.acc, PortRanges=[{"FromPort": 900, "ToPort": 800}]
        )
        updated = self.ga.update_listener(
            ListenerArn=listener["ListenerArn"], PortRanges=[{"FromPort": 80, "ToPort": 81}], ClientAffinity="SOURCE_IP"
        )["Listener"]
        self.assertEqual(updated["PortRanges"], [{"FromPort": 80, "ToPort": 81}])
        self.assertEqual(updated["ClientAffinity"], "SOURCE_IP")
        self.assertEqual(updated["Protocol"], "TCP")
        self.assertEqual(
            self.ga.list_listeners(AcceleratorArn=self.acc)["Listeners"],
            [updated],
        )
        self.ga.delete_listener(ListenerArn=listener["ListenerArn"])
        self.assertEqual(self.ga.list_listeners(AcceleratorArn=self.acc)["Listeners"], [])

    def test_endpoint_group_per_region(self) -> None:
        listener = self.listener(self.acc, 443)["ListenerArn"]
        east1 = self.group(listener, "us-east-1")
        self.assertRegex(east1["EndpointGroupArn"], rf"^{re.escape(listener)}/endpoint-group/[0-9a-f]{{12}}$")
        self.assertEqual(east1["EndpointGroupRegion"], "us-east-1")
        self.assertEqual(
            east1["EndpointDescriptions"],
            [
                {
                    "EndpointId": nlb_arn("us-east-1"),
                    "Weight": 128,
                    "HealthState": "HEALTHY",
                    "ClientIPPreservationEnabled": False,
                }
            ],
        )
        self.assertEqual(east1["TrafficDialPercentage"], 100.0)
        self.assertEqual(east1["HealthCheckProtocol"], "TCP")
        self.assertEqual(east1["HealthCheckPort"], 443)
        self.assertEqual(east1["HealthCheckIntervalSeconds"], 10)
        self.assertEqual(east1["ThresholdCount"], 3)

        # The accelerator is changing while its endpoint groups are.
        self.assertIn(
            self.ga.describe_accelerator(AcceleratorArn=self.acc)["Accelerator"]["Status"], ("IN_PROGRESS", "DEPLOYED")
        )

        e = self.assert_error("EndpointGroupAlreadyExistsException", self.group, listener, "us-east-1")
        self.assertIn("us-east-1", e.response["Error"]["Message"])
        east2 = self.group(listener, "us-east-2", TrafficDialPercentage=0.0)
        self.assertEqual(east2["TrafficDialPercentage"], 0.0)
        self.assertEqual(
            sorted(g["EndpointGroupRegion"] for g in self.ga.list_endpoint_groups(ListenerArn=listener)["EndpointGroups"]),
            ["us-east-1", "us-east-2"],
        )
        self.assertEqual(self.ga.describe_endpoint_group(EndpointGroupArn=east1["EndpointGroupArn"])["EndpointGroup"], east1)

        # Defaults: health check on the listener's port, every 30 s, threshold 3, dial 100, weight 128.
        other = self.listener(self.acc, 8443)["ListenerArn"]
        bare = self.ga.create_endpoint_group(
            ListenerArn=other,
            EndpointGroupRegion="us-east-1",
            EndpointConfigurations=[{"EndpointId": nlb_arn("us-east-1")}],
            IdempotencyToken=unique("gtok"),
        )["EndpointGroup"]
        self.assertEqual(bare["HealthCheckPort"], 8443)
        self.assertEqual(bare["HealthCheckProtocol"], "TCP")
        self.assertEqual(bare["HealthCheckIntervalSeconds"], 30)
        self.assertEqual(bare["ThresholdCount"], 3)
        self.assertEqual(bare["TrafficDialPercentage"], 100.0)
        self.assertEqual(bare["EndpointDescriptions"][0]["Weight"], 128)

        # Update: dial, weights (0 keeps the endpoint, without traffic), health settings.
        updated = self.ga.update_endpoint_group(
            EndpointGroupArn=east2["EndpointGroupArn"],
            EndpointConfigurations=[{"EndpointId": nlb_arn("us-east-2"), "Weight": 0}],
            TrafficDialPercentage=50.0,
            HealthCheckIntervalSeconds=30,
            ThresholdCount=5,
            HealthCheckProtocol="HTTPS",
            HealthCheckPath="/health",
        )["EndpointGroup"]
        self.assertEqual(updated["EndpointGroupRegion"], "us-east-2")
        self.assertEqual(updated["TrafficDialPercentage"], 50.0)
        self.assertEqual(updated["HealthCheckIntervalSeconds"], 30)
        self.assertEqual(updated["ThresholdCount"], 5)
        self.assertEqual(updated["HealthCheckProtocol"], "HTTPS")
        self.assertEqual(updated["HealthCheckPath"], "/health")
        self.assertEqual(updated["HealthCheckPort"], 443)
        self.assertEqual(
            [(d["EndpointId"], d["Weight"], d["HealthState"]) for d in updated["EndpointDescriptions"]],
            [(nlb_arn("us-east-2"), 0, "HEALTHY")],
        )

        # AddEndpoints / RemoveEndpoints.
        second = nlb_arn("us-east-2", "nlb2")
        added = self.ga.add_endpoints(
            EndpointGroupArn=east2["EndpointGroupArn"], EndpointConfigurations=[{"EndpointId": second, "Weight": 64}]
        )
        self.assertEqual(added["EndpointGroupArn"], east2["EndpointGroupArn"])
        self.assertEqual([(d["EndpointId"], d["Weight"]) for d in added["EndpointDescriptions"]], [(second, 64)])
        ids = [
            d["EndpointId"]
            for d in self.ga.describe_endpoint_group(EndpointGroupArn=east2["EndpointGroupArn"])["EndpointGroup"][
                "EndpointDescriptions"
            ]
        ]
        self.assertEqual(ids, [nlb_arn("us-east-2"), second])
        self.ga.remove_endpoints(EndpointGroupArn=east2["EndpointGroupArn"], EndpointIdentifiers=[{"EndpointId": second}])
        ids = [
            d["EndpointId"]
            for d in self.ga.describe_endpoint_group(EndpointGroupArn=east2["EndpointGroupArn"])["EndpointGroup"][
                "EndpointDescriptions"
            ]
        ]
        self.assertEqual(ids, [nlb_arn("us-east-2")])

        self.ga.delete_endpoint_group(EndpointGroupArn=east1["EndpointGroupArn"])
        self.assert_error(
            "EndpointGroupNotFoundException", self.ga.describe_endpoint_group, EndpointGroupArn=east1["EndpointGroupArn"]
        )
        # The region is free again.
        self.group(listener, "us-east-1")

    def test_endpoint_health_follows_outage_control(self) -> None:
        # scripts/local-aws outage REGION (emulator/outage.py's control route). GA's API is
        # signed for us-west-2, so it keeps answering while us-east-1 is cut.
        listener = self.listener(self.acc, 443)["ListenerArn"]
        east1 = self.group(listener, "us-east-1")["EndpointGroupArn"]
        east2 = self.group(listener, "us-east-2")["EndpointGroupArn"]

        def health(arn: str) -> list[tuple[str, str | None]]:
            descriptions = self.ga.describe_endpoint_group(EndpointGroupArn=arn)["EndpointGroup"]["EndpointDescriptions"]
            return [(d["HealthState"], d.get("HealthReason")) for d in descriptions]

        if not outage_control("POST", "us-east-1"):
            self.skipTest("no outage control route on this server")
        try:
            self.assertEqual(health(east1), [("UNHEALTHY", "Timeout")])
            self.assertEqual(health(east2), [("HEALTHY", None)])
        finally:
            outage_control("DELETE", "us-east-1")
        self.assertEqual(health(east1), [("HEALTHY", None)])

    def test_validation_errors(self) -> None:
        listener = self.listener(self.acc, 443)["ListenerArn"]
        e = self.assert_error("ValidationException", self.group, listener, "us-east-1", TrafficDialPercentage=150.0)
        self.assertIn("trafficDialPercentage", e.response["Error"]["Message"])
        self.assertIn("less than or equal to 100", e.response["Error"]["Message"])
        e = self.assert_error(
            "ValidationException",
            self.group,
            listener,
            "us-east-1",
            EndpointConfigurations=[{"EndpointId": nlb_arn("us-east-1"), "Weight": 256}],
        )
        self.assertIn("endpointConfigurations.1.member.weight", e.response["Error"]["Message"])
        self.assert_error("ValidationException", self.group, listener, "us-east-1", ThresholdCount=11)
        self.assert_error("ValidationException", self.group, listener, "us-east-1", HealthCheckIntervalSeconds=60)
        self.assert_error("ValidationException", self.group, listener, "us-east-1", HealthCheckPort=70000)
        # In the model's range 10..30, but the service takes only 10 or 30.
        e = self.assert_error("InvalidArgumentException", self.group, listener, "us-east-1", HealthCheckIntervalSeconds=20)
        self.assertIn("10 or 30", e.response["Error"]["Message"])
        self.assert_error("InvalidArgumentException", self.group, listener, "mars-central-1x")
        self.assert_error("ValidationException", self.listener, self.acc, PortRanges=[{"FromPort": 1, "ToPort": 65536}])
        self.assert_error("ValidationException", self.listener, self.acc, 9000, Protocol="SCTP")

        # Below the minimums (botocore would refuse them before sending).
        raw = ga_unvalidated()
        e = self.assert_error(
            "ValidationException",
            raw.create_endpoint_group,
            ListenerArn=listener,
            EndpointGroupRegion="us-east-1",
            EndpointConfigurations=[{"EndpointId": nlb_arn("us-east-1"), "Weight": -1}],
            ThresholdCount=0,
            TrafficDialPercentage=-1.0,
            IdempotencyToken=unique("gtok"),
        )
        self.assertIn("3 validation errors detected", e.response["Error"]["Message"])
        self.assert_error(
            "ValidationException",
            raw.create_listener,
            AcceleratorArn=self.acc,
            PortRanges=[{"FromPort": 0, "ToPort": 10}],
            Protocol="TCP",
            IdempotencyToken=unique("ltok"),
        )
        e = self.assert_error("ValidationException", raw.create_accelerator, IdempotencyToken=unique("tok"))
        self.assertIn("Value null at 'name' failed to satisfy constraint", e.response["Error"]["Message"])
        # Nothing was created by the refused calls.
        self.assertEqual(self.ga.list_endpoint_groups(ListenerArn=listener)["EndpointGroups"], [])


class InProcessTest(unittest.TestCase):
    """The backend and the health function in this process (the server runs in another)."""

    def backend(self):
        from emulator.globalaccelerator import GlobalAcceleratorBackend

        return GlobalAcceleratorBackend("aws", ACCOUNT)

    def build(self, b) -> tuple[str, dict[str, Any], dict[str, Any]]:
        acc = b.create_accelerator({"Name": "a", "IdempotencyToken": "t"})["AcceleratorArn"]
        listener = b.create_listener(
            {"AcceleratorArn": acc, "PortRanges": [{"FromPort": 443, "ToPort": 443}], "Protocol": "TCP", "IdempotencyToken": "l"}
        )["ListenerArn"]
        groups = {}
        for region in ("us-east-1", "us-east-2"):
            groups[region] = b.create_endpoint_group(
                {
                    "ListenerArn": listener,
                    "EndpointGroupRegion": region,
                    "EndpointConfigurations": [{"EndpointId": nlb_arn(region), "Weight": 128}],
                    "IdempotencyToken": f"g-{region}",
                }
            )
        return acc, groups["us-east-1"], groups["us-east-2"]

    def test_health_follows_region_outage(self) -> None:
        from emulator.globalaccelerator import endpoint_health, endpoint_region

        self.assertEqual(endpoint_region(nlb_arn("us-east-1"), "eu-west-1"), "us-east-1")
        self.assertEqual(endpoint_region("i-0123456789abcdef0", "eu-west-1"), "eu-west-1")
        b = self.backend()
        _, east1, east2 = self.build(b)
        self.assertEqual(endpoint_health(nlb_arn("us-east-1"), "us-east-1"), ("HEALTHY", None))
        outage.cut("us-east-1")
        try:
            self.assertEqual(endpoint_health(nlb_arn("us-east-1"), "us-east-1"), ("UNHEALTHY", "Timeout"))
            self.assertEqual(endpoint_health(nlb_arn("us-east-2"), "us-east-2"), ("HEALTHY", None))
            # An endpoint id without a region (an instance) takes its group's region.
            self.assertEqual(endpoint_health("i-0123456789abcdef0", "us-east-1"), ("UNHEALTHY", "Timeout"))
            d1 = b.describe_endpoint_group(east1["EndpointGroupArn"])["EndpointDescriptions"][0]
            self.assertEqual((d1["HealthState"], d1["HealthReason"]), ("UNHEALTHY", "Timeout"))
            self.assertEqual(d1["Weight"], 128)
            d2 = b.describe_endpoint_group(east2["EndpointGroupArn"])["EndpointDescriptions"][0]
            self.assertEqual(d2["HealthState"], "HEALTHY")
            self.assertNotIn("HealthReason", d2)
        finally:
            outage.restore("us-east-1")
        d1 = b.describe_endpoint_group(east1["EndpointGroupArn"])["EndpointDescriptions"][0]
        self.assertEqual(d1["HealthState"], "HEALTHY")
        self.assertNotIn("HealthReason", d1)

    def test_deploy_delay_is_configurable_and_every_change_redeploys(self) -> None:
        with mock.patch.dict(os.environ, {"EMULATOR_GA_DEPLOY_SECONDS": "0"}):
            b = self.backend()
            acc, east1, _ = self.build(b)
            self.assertEqual(b.describe_accelerator(acc)["Status"], "DEPLOYED")
        with mock.patch.dict(os.environ, {"EMULATOR_GA_DEPLOY_SECONDS": "3600"}):
            b.update_endpoint_group({"EndpointGroupArn": east1["EndpointGroupArn"], "TrafficDialPercentage": 10.0})
            self.assertEqual(b.describe_accelerator(acc)["Status"], "IN_PROGRESS")
            b2 = self.backend()
            acc2 = b2.create_accelerator({"Name": "b", "IdempotencyToken": "t"})["AcceleratorArn"]
            self.assertEqual(b2.describe_accelerator(acc2)["Status"], "IN_PROGRESS")
            b2.update_accelerator({"AcceleratorArn": acc2, "Enabled": False})
            with self.assertRaises(Exception) as ctx:
                b2.delete_accelerator(acc2)
            self.assertEqual(getattr(ctx.exception, "code", ""), "AcceleratorNotDisabledException")

    def test_moto_reset_clears_the_state(self) -> None:
        from moto.core.base_backend import BackendDict

        from emulator.globalaccelerator import globalaccelerator_backends

        b = globalaccelerator_backends[ACCOUNT]["aws"]
        b.create_accelerator({"Name": "r", "IdempotencyToken": "reset"})
        self.assertIn(globalaccelerator_backends, BackendDict._instances)
        globalaccelerator_backends[ACCOUNT].reset()  # what POST /moto-api/reset does per account
        self.assertEqual(globalaccelerator_backends[ACCOUNT]["aws"].accelerators, {})


if __name__ == "__main__":
    unittest.main()
