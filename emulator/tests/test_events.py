"""EventBridge global endpoints: Create/Describe/List/Update/DeleteEndpoint and PutEvents
with EndpointId (routed by the endpoint's Route 53 health check)."""

from __future__ import annotations

import json
import time
import unittest
import urllib.error
import urllib.request
from typing import Any
from unittest import mock

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from emulator.tests.support import ACCOUNT, client, endpoint, error_code, unique

PRIMARY, SECONDARY = "us-east-1", "us-east-2"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/events-replication"
CHECK = "arn:aws:route53:::healthcheck/0123abcd-0000-4000-8000-000000000001"
ENDPOINT_ID = r"^[a-z0-9]{5}\.[a-z0-9]{3}$"
# The server's EMULATOR_EVENTS_ENDPOINT_SECONDS is the default, 1 s.
DEADLINE_SECONDS = 15


def bus_arn(region: str, name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def spec(name: str, bus: str, **over: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "Name": name,
        "Description": "tandem",
        "RoutingConfig": {"FailoverConfig": {"Primary": {"HealthCheck": CHECK}, "Secondary": {"Route": SECONDARY}}},
        "ReplicationConfig": {"State": "ENABLED"},
        "EventBuses": [{"EventBusArn": bus_arn(PRIMARY, bus)}, {"EventBusArn": bus_arn(SECONDARY, bus)}],
        "RoleArn": ROLE,
    }
    s.update(over)
    return s


def unvalidated(region: str = PRIMARY):
    """An events client without botocore's own parameter checks (the server must make them)."""
    return boto3.client(
        "events",
        endpoint_url=endpoint(),
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=False),
    )


def wait_state(events, name: str, want: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        got = events.describe_endpoint(Name=name)
        if got["State"] == want or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def wait_gone(events, name: str) -> str:
    """The error code once the endpoint is gone ('' if it did not go within the deadline)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            events.describe_endpoint(Name=name)
        except ClientError as e:
            return error_code(e)
        time.sleep(0.2)
    return ""


def put_events_raw(region: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """PutEvents as the SDKs send it to a global endpoint (EndpointId in the JSON body), signed
    with SigV4 for `region` (boto3 itself would need awscrt for the endpoint's SigV4a)."""
    url = endpoint() + "/"
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AWSEvents.PutEvents"}
    request = AWSRequest(method="POST", url=url, data=data, headers=headers)
    SigV4Auth(Credentials("testing", "testing"), "events", region).add_auth(request)
    prepared = urllib.request.Request(url, data=data, method="POST", headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


class Buses:
    """The same bus name in both regions."""

    def make_buses(self) -> str:
        name = unique("bus")
        for region in (PRIMARY, SECONDARY):
            client("events", region).create_event_bus(Name=name)
        return name


class EndpointLifeCycle(unittest.TestCase, Buses):
    def setUp(self) -> None:
        self.events = client("events", PRIMARY)
        self.bus = self.make_buses()

    def test_create_describe_update_delete_with_states_and_shapes(self) -> None:
        name = unique("ep")
        created = self.events.create_endpoint(**spec(name, self.bus))
        arn = f"arn:aws:events:{PRIMARY}:{ACCOUNT}:endpoint/{name}"
        self.assertEqual(created["Name"], name)
        self.assertEqual(created["Arn"], arn)
        self.assertEqual(created["State"], "CREATING")
        self.assertEqual(created["RoutingConfig"], spec(name, self.bus)["RoutingConfig"])
        self.assertEqual(created["ReplicationConfig"], {"State": "ENABLED"})
        self.assertEqual(created["EventBuses"], spec(name, self.bus)["EventBuses"])
        self.assertEqual(created["RoleArn"], ROLE)
        self.assertNotIn("EndpointId", created)  # not in CreateEndpointResponse

        first = self.events.describe_endpoint(Name=name)
        self.assertEqual(first["State"], "CREATING")
        self.assertEqual(first["Arn"], arn)
        self.assertEqual(first["Description"], "tandem")
        self.assertRegex(first["EndpointId"], ENDPOINT_ID)
        self.assertEqual(first["EndpointUrl"], f"https://{first['EndpointId']}.endpoint.events.amazonaws.com")
        self.assertEqual(first["CreationTime"], first["LastModifiedTime"])
        self.assertNotIn("StateReason", first)

        active = wait_state(self.events, name, "ACTIVE")
        self.assertEqual(active["State"], "ACTIVE")
        self.assertEqual(active["EndpointId"], first["EndpointId"])

        updated = self.events.update_endpoint(Name=name, ReplicationConfig={"State": "DISABLED"})
        self.assertEqual(updated["State"], "UPDATING")
        self.assertEqual(updated["EndpointId"], first["EndpointId"])
        self.assertEqual(updated["EndpointUrl"], first["EndpointUrl"])
        self.assertEqual(updated["ReplicationConfig"], {"State": "DISABLED"})
        self.assertEqual(updated["EventBuses"], spec(name, self.bus)["EventBuses"])  # kept
        with self.assertRaises(ClientError) as busy:
            self.events.update_endpoint(Name=name, Description="again")
        self.assertEqual(error_code(busy.exception), "ConcurrentModificationException")
        after = wait_state(self.events, name, "ACTIVE")
        self.assertEqual(after["State"], "ACTIVE")
        self.assertEqual(after["ReplicationConfig"], {"State": "DISABLED"})
        self.assertEqual(after["Description"], "tandem")
        self.assertGreater(after["LastModifiedTime"], after["CreationTime"])

        self.assertEqual(self.events.delete_endpoint(Name=name)["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertEqual(self.events.describe_endpoint(Name=name)["State"], "DELETING")
        with self.assertRaises(ClientError) as again:
            self.events.delete_endpoint(Name=name)
        self.assertEqual(error_code(again.exception), "ConcurrentModificationException")
        self.assertEqual(wait_gone(self.events, name), "ResourceNotFoundException")
        with self.assertRaises(ClientError) as gone:
            self.events.delete_endpoint(Name=name)
        self.assertEqual(error_code(gone.exception), "ResourceNotFoundException")

    def test_a_name_in_use_is_resource_already_exists_in_its_home_region_only(self) -> None:
        name = unique("ep")
        self.events.create_endpoint(**spec(name, self.bus))
        with self.assertRaises(ClientError) as e:
            self.events.create_endpoint(**spec(name, self.bus))
        self.assertEqual(error_code(e.exception), "ResourceAlreadyExistsException")
        # Endpoints are regional: the same name is free with us-east-2 as the home region.
        other = client("events", SECONDARY).create_endpoint(
            **spec(name, self.bus, RoutingConfig={
                "FailoverConfig": {"Primary": {"HealthCheck": CHECK}, "Secondary": {"Route": PRIMARY}}
            })
        )
        self.assertEqual(other["Arn"], f"arn:aws:events:{SECONDARY}:{ACCOUNT}:endpoint/{name}")

    def test_replication_defaults_to_enabled_and_disabled_needs_no_role(self) -> None:
        name = unique("ep")
        s = spec(name, self.bus)
        del s["ReplicationConfig"]
        self.assertEqual(self.events.create_endpoint(**s)["ReplicationConfig"], {"State": "ENABLED"})
        bare = unique("ep")
        s = spec(bare, self.bus, ReplicationConfig={"State": "DISABLED"})
        del s["RoleArn"], s["Description"]
        created = self.events.create_endpoint(**s)
        self.assertNotIn("RoleArn", created)
        got = self.events.describe_endpoint(Name=bare)
        self.assertNotIn("RoleArn", got)
        self.assertNotIn("Description", got)
        self.assertEqual(got["ReplicationConfig"], {"State": "DISABLED"})

    def test_unknown_names_are_resource_not_found(self) -> None:
        name = unique("missing")
        calls = [
            lambda: self.events.describe_endpoint(Name=name),
            lambda: self.events.update_endpoint(Name=name, Description="x"),
            lambda: self.events.delete_endpoint(Name=name),
        ]
        for call in calls:
            with self.assertRaises(ClientError) as e:
                call()
            self.assertEqual(error_code(e.exception), "ResourceNotFoundException")
            self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
            self.assertIn(name, e.exception.response["Error"]["Message"])


class EndpointValidation(unittest.TestCase, Buses):
    def setUp(self) -> None:
        self.events = unvalidated(PRIMARY)
        self.bus = self.make_buses()

    def assertInvalid(self, s: dict[str, Any], *fragments: str) -> None:
        with self.assertRaises(ClientError) as e:
            self.events.create_endpoint(**s)
        self.assertEqual(error_code(e.exception), "ValidationException", s)
        message = e.exception.response["Error"]["Message"]
        for fragment in fragments:
            self.assertIn(fragment, message)

    def test_model_constraints(self) -> None:
        ok = unique("ep")
        self.assertInvalid(spec("bad name!", self.bus), "1 validation error detected", "at 'name'", "regular expression")
        self.assertInvalid(spec("e" * 65, self.bus), "at 'name'", "less than or equal to 64")
        self.assertInvalid(spec(ok, self.bus, Description="d" * 513), "at 'description'")
        self.assertInvalid(spec(ok, self.bus, EventBuses=[{"EventBusArn": bus_arn(PRIMARY, self.bus)}]), "at 'eventBuses'", "greater than or equal to 2")
        three = spec(ok, self.bus)["EventBuses"] + [{"EventBusArn": bus_arn("us-west-2", self.bus)}]
        self.assertInvalid(spec(ok, self.bus, EventBuses=three), "less than or equal to 2")
        self.assertInvalid(spec(ok, self.bus, EventBuses=[{"EventBusArn": "bus"}, {"EventBusArn": "bus2"}]), "2 validation errors detected", "eventBuses.1.member.eventBusArn")
        self.assertInvalid(
            spec(ok, self.bus, RoutingConfig={"FailoverConfig": {"Primary": {"HealthCheck": "abc"}, "Secondary": {"Route": SECONDARY}}}),
            "routingConfig.failoverConfig.primary.healthCheck",
        )
        self.assertInvalid(
            spec(ok, self.bus, RoutingConfig={"FailoverConfig": {"Primary": {"HealthCheck": CHECK}}}),
            "routingConfig.failoverConfig.secondary", "must not be null",
        )
        self.assertInvalid(spec(ok, self.bus, ReplicationConfig={"State": "ON"}), "replicationConfig.state", "enum")
        self.assertInvalid(spec(ok, self.bus, RoleArn="role"), "at 'roleArn'")
        self.assertInvalid({k: v for k, v in spec(ok, self.bus).items() if k != "RoutingConfig"}, "routingConfig", "must not be null")

    def test_relations_between_fields(self) -> None:
        ok = unique("ep")
        self.assertInvalid(
            spec(ok, self.bus, EventBuses=[{"EventBusArn": bus_arn(PRIMARY, self.bus)}, {"EventBusArn": bus_arn(SECONDARY, "other")}]),
            "identical",
        )
        self.assertInvalid(
            spec(ok, self.bus, EventBuses=[{"EventBusArn": bus_arn(PRIMARY, self.bus)}, {"EventBusArn": bus_arn(PRIMARY, self.bus)}]),
            "two different Regions",
        )
        self.assertInvalid(
            spec(ok, self.bus, EventBuses=[{"EventBusArn": bus_arn("us-west-1", self.bus)}, {"EventBusArn": bus_arn(SECONDARY, self.bus)}]),
            "home Region us-east-1",
        )
        self.assertInvalid(
            spec(ok, self.bus, RoutingConfig={"FailoverConfig": {"Primary": {"HealthCheck": CHECK}, "Secondary": {"Route": PRIMARY}}}),
            "secondary Route",
        )
        no_role = spec(ok, self.bus)
        del no_role["RoleArn"]
        self.assertInvalid(no_role, "RoleArn")
        del no_role["ReplicationConfig"]  # ENABLED by default
        self.assertInvalid(no_role, "RoleArn")

    def test_update_is_validated_against_the_resulting_endpoint(self) -> None:
        name = unique("ep")
        self.events.create_endpoint(**spec(name, self.bus, ReplicationConfig={"State": "DISABLED"}))
        wait_state(self.events, name, "ACTIVE")
        with self.assertRaises(ClientError) as e:
            self.events.update_endpoint(Name=name, RoleArn="", ReplicationConfig={"State": "ENABLED"})
        self.assertEqual(error_code(e.exception), "ValidationException")
        with self.assertRaises(ClientError) as e:
            self.events.update_endpoint(
                Name=name, EventBuses=[{"EventBusArn": bus_arn(PRIMARY, "x")}, {"EventBusArn": bus_arn(SECONDARY, "y")}]
            )
        self.assertEqual(error_code(e.exception), "ValidationException")
        self.assertEqual(self.events.describe_endpoint(Name=name)["State"], "ACTIVE")  # nothing changed


class ListEndpoints(unittest.TestCase, Buses):
    def test_prefix_home_region_and_pages(self) -> None:
        bus = self.make_buses()
        prefix = unique("lst")
        east1, east2 = client("events", PRIMARY), client("events", SECONDARY)
        names = [f"{prefix}-{i}" for i in range(3)]
        for n in names:
            east1.create_endpoint(**spec(n, bus))
        back = {"FailoverConfig": {"Primary": {"HealthCheck": CHECK}, "Secondary": {"Route": PRIMARY}}}
        east2.create_endpoint(**spec(f"{prefix}-east2", bus, RoutingConfig=back))

        listed = east1.list_endpoints(NamePrefix=prefix)["Endpoints"]
        self.assertEqual([e["Name"] for e in listed], names)
        described = east1.describe_endpoint(Name=names[0])
        described.pop("ResponseMetadata")
        self.assertEqual(listed[0], described)
        for item in listed:
            self.assertEqual(set(item) - {"StateReason"}, {
                "Name", "Description", "Arn", "RoutingConfig", "ReplicationConfig", "EventBuses", "RoleArn",
                "EndpointId", "EndpointUrl", "State", "CreationTime", "LastModifiedTime",
            })

        seen, token, pages = [], None, 0
        while pages < 10:
            kwargs: dict[str, Any] = {"NamePrefix": prefix, "MaxResults": 1}
            if token:
                kwargs["NextToken"] = token
            page = east1.list_endpoints(**kwargs)
            pages += 1
            seen += [e["Name"] for e in page["Endpoints"]]
            token = page.get("NextToken")
            if not token:
                break
        self.assertEqual((seen, pages), (names, 3))

        other_home = east1.list_endpoints(NamePrefix=prefix, HomeRegion=SECONDARY)["Endpoints"]
        self.assertEqual([e["Name"] for e in other_home], [f"{prefix}-east2"])
        self.assertEqual(other_home[0]["Arn"], f"arn:aws:events:{SECONDARY}:{ACCOUNT}:endpoint/{prefix}-east2")
        self.assertEqual(east1.describe_endpoint(Name=f"{prefix}-east2", HomeRegion=SECONDARY)["Name"], f"{prefix}-east2")
        with self.assertRaises(ClientError) as e:
            east1.describe_endpoint(Name=f"{prefix}-east2")
        self.assertEqual(error_code(e.exception), "ResourceNotFoundException")
        self.assertEqual(east1.list_endpoints(NamePrefix=unique("none"))["Endpoints"], [])
        with self.assertRaises(ClientError) as e:
            east1.list_endpoints(NextToken="not-a-token")
        self.assertEqual(error_code(e.exception), "InvalidToken")


def receive_all(sqs, url: str, wait: float) -> list[dict[str, Any]]:
    """Every message the queue gives within `wait` seconds (one long poll at most)."""
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=int(wait))
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


class PutEventsThroughAnEndpoint(unittest.TestCase, Buses):
    """On the server, with a real Route 53 health check: healthy, events go to the primary
    region's bus; unhealthy, to the secondary's (observed with a rule → SQS queue per bus)."""

    def setUp(self) -> None:
        self.bus = self.make_buses()
        self.queues: dict[str, tuple[Any, str]] = {}
        for region in (PRIMARY, SECONDARY):
            sqs = client("sqs", region)
            url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events = client("events", region)
            rule = unique("rule")
            events.put_rule(Name=rule, EventBusName=self.bus, EventPattern=json.dumps({"source": ["tandem.test"]}))
            events.put_targets(Rule=rule, EventBusName=self.bus, Targets=[{"Id": "q", "Arn": queue_arn}])
            self.queues[region] = (sqs, url)
        # A health check of the primary region's API (healthy while nothing is cut).
        self.r53 = r53 = client("route53", PRIMARY)
        self.check_id = check = r53.create_health_check(
            CallerReference=unique("ref"),
            HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": "api.execute-api.us-east-1.amazonaws.com",
                               "Port": 443, "ResourcePath": "/health"},
        )["HealthCheck"]["Id"]
        self.check_arn = f"arn:aws:route53:::healthcheck/{check}"

    def endpoint_id(self, replication: str) -> str:
        events = client("events", PRIMARY)
        name = unique("ep")
        routing = {"FailoverConfig": {"Primary": {"HealthCheck": self.check_arn}, "Secondary": {"Route": SECONDARY}}}
        events.create_endpoint(**spec(name, self.bus, RoutingConfig=routing, ReplicationConfig={"State": replication}))
        got = wait_state(events, name, "ACTIVE")
        self.assertEqual(got["State"], "ACTIVE")
        return got["EndpointId"]

    def entry(self, marker: str) -> dict[str, Any]:
        return {"Source": "tandem.test", "DetailType": "t", "Detail": json.dumps({"m": marker}),
                "EventBusName": bus_arn(PRIMARY, self.bus)}

    def test_events_go_to_the_primary_bus_when_healthy(self) -> None:
        eid = self.endpoint_id("DISABLED")
        # Signed for us-east-2: the endpoint, not the request's region, decides where events go.
        status, answer = put_events_raw(SECONDARY, {"EndpointId": eid, "Entries": [self.entry("one")]})
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["FailedEntryCount"], 0)
        self.assertEqual(len(answer["Entries"]), 1)
        self.assertIn("EventId", answer["Entries"][0])
        primary = receive_all(*self.queues[PRIMARY], wait=2)
        self.assertEqual([(m["detail"], m["region"], m["source"]) for m in primary], [({"m": "one"}, PRIMARY, "tandem.test")])
        self.assertEqual(receive_all(*self.queues[SECONDARY], wait=0), [])

    def test_replication_also_delivers_to_the_secondary_bus(self) -> None:
        eid = self.endpoint_id("ENABLED")
        status, answer = put_events_raw(PRIMARY, {"EndpointId": eid, "Entries": [self.entry("two")]})
        self.assertEqual((status, answer["FailedEntryCount"]), (200, 0), answer)
        self.assertEqual([m["region"] for m in receive_all(*self.queues[PRIMARY], wait=2)], [PRIMARY])
        self.assertEqual([(m["detail"], m["region"]) for m in receive_all(*self.queues[SECONDARY], wait=2)], [({"m": "two"}, SECONDARY)])

    def test_events_go_to_the_secondary_bus_while_the_check_is_unhealthy(self) -> None:
        eid = self.endpoint_id("DISABLED")
        # Inverted: Route 53 reports the (reachable) endpoint unhealthy.
        self.r53.update_health_check(HealthCheckId=self.check_id, Inverted=True)
        status, answer = put_events_raw(PRIMARY, {"EndpointId": eid, "Entries": [self.entry("failover")]})
        self.assertEqual((status, answer["FailedEntryCount"]), (200, 0), answer)
        secondary = receive_all(*self.queues[SECONDARY], wait=2)
        self.assertEqual([(m["detail"], m["region"]) for m in secondary], [({"m": "failover"}, SECONDARY)])
        self.assertEqual(receive_all(*self.queues[PRIMARY], wait=0), [])
        self.r53.update_health_check(HealthCheckId=self.check_id, Inverted=False)
        put_events_raw(PRIMARY, {"EndpointId": eid, "Entries": [self.entry("back")]})
        self.assertEqual([m["detail"] for m in receive_all(*self.queues[PRIMARY], wait=2)], [{"m": "back"}])

    def test_a_sigv4a_signed_request_reaches_the_endpoint(self) -> None:
        # What the SDKs send to a global endpoint: SigV4a, no region in the credential scope
        # (moto does not check signatures, so the signature itself is a placeholder).
        eid = self.endpoint_id("DISABLED")
        data = json.dumps({"EndpointId": eid, "Entries": [self.entry("sigv4a")]}).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSEvents.PutEvents",
            "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            "X-Amz-Region-Set": "*",
            "Authorization": "AWS4-ECDSA-P256-SHA256 Credential=testing/" + time.strftime("%Y%m%d", time.gmtime())
            + "/events/aws4_request, SignedHeaders=host;x-amz-date;x-amz-region-set, Signature=3045",
        }
        request = urllib.request.Request(endpoint() + "/", data=data, method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = json.loads(answer.read())
        self.assertEqual(body["FailedEntryCount"], 0, body)
        self.assertEqual([m["detail"] for m in receive_all(*self.queues[PRIMARY], wait=2)], [{"m": "sigv4a"}])

    def test_unknown_endpoint_id_is_not_found(self) -> None:
        status, answer = put_events_raw(PRIMARY, {"EndpointId": "zzzzz.zzz", "Entries": [self.entry("x")]})
        self.assertEqual((status, answer.get("__type")), (400, "ResourceNotFoundException"), answer)


class RoutingInProcess(unittest.TestCase):
    """The unhealthy path, in this process (the server is a subprocess): moto's backends
    directly, `emulator.route53.is_healthy` patched."""

    ACCOUNT = "210987654321"

    @classmethod
    def setUpClass(cls) -> None:
        from emulator import events

        events.apply()

    def setUp(self) -> None:
        from moto.events.models import events_backends
        from moto.sqs.models import sqs_backends

        self.bus = unique("bus")
        self.queues: dict[str, Any] = {}
        for region in (PRIMARY, SECONDARY):
            backend = events_backends[self.ACCOUNT][region]
            backend.create_event_bus(self.bus)
            queue = sqs_backends[self.ACCOUNT][region].create_queue(unique("q"))
            rule = unique("rule")
            backend.put_rule(rule, event_bus_arn=self.bus, event_pattern=json.dumps({"source": ["tandem.test"]}))
            backend.put_targets(rule, self.bus, [{"Id": "q", "Arn": queue.queue_arn}])
            self.queues[region] = queue
        self.primary = events_backends[self.ACCOUNT][PRIMARY]

    def messages(self, region: str) -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in self.queues[region]._messages]

    def create(self, replication: str) -> str:
        name = unique("ep")
        routing = {"FailoverConfig": {"Primary": {"HealthCheck": CHECK}, "Secondary": {"Route": SECONDARY}}}
        buses = [{"EventBusArn": bus_arn(r, self.bus, self.ACCOUNT)} for r in (PRIMARY, SECONDARY)]
        role = f"arn:aws:iam::{self.ACCOUNT}:role/r"
        with mock.patch.dict("os.environ", {"EMULATOR_EVENTS_ENDPOINT_SECONDS": "0"}):
            self.primary.create_endpoint(name, None, routing, {"State": replication}, buses, role)
            described = self.primary.describe_endpoint(name)
        self.assertEqual(described["State"], "ACTIVE")
        return described["EndpointId"]

    def send(self, eid: str, marker: str) -> dict[str, Any]:
        from emulator.events import put_events_via_endpoint

        entry = {"Source": "tandem.test", "DetailType": "t", "Detail": json.dumps({"m": marker}), "EventBusName": self.bus}
        return put_events_via_endpoint(self.ACCOUNT, eid, [entry])

    def test_unhealthy_primary_sends_events_to_the_secondary_bus(self) -> None:
        eid = self.create("DISABLED")
        with mock.patch("emulator.route53.is_healthy", return_value=False, create=True) as healthy:
            answer = self.send(eid, "failover")
        healthy.assert_called_once_with(CHECK.rsplit("/", 1)[-1])
        self.assertEqual(answer["FailedEntryCount"], 0)
        self.assertEqual(self.messages(PRIMARY), [])
        self.assertEqual([(m["detail"], m["region"]) for m in self.messages(SECONDARY)], [({"m": "failover"}, SECONDARY)])

    def test_healthy_again_sends_events_back_to_the_primary(self) -> None:
        eid = self.create("DISABLED")
        with mock.patch("emulator.route53.is_healthy", return_value=False, create=True):
            self.send(eid, "a")
        with mock.patch("emulator.route53.is_healthy", return_value=True, create=True):
            self.send(eid, "b")
        self.assertEqual([m["detail"] for m in self.messages(SECONDARY)], [{"m": "a"}])
        self.assertEqual([m["detail"] for m in self.messages(PRIMARY)], [{"m": "b"}])

    def test_replication_during_failover_copies_to_the_primary_unless_it_is_cut(self) -> None:
        from emulator import outage

        eid = self.create("ENABLED")
        with mock.patch("emulator.route53.is_healthy", return_value=False, create=True):
            self.send(eid, "c")
            with mock.patch("emulator.outage.is_cut", side_effect=lambda r: r == PRIMARY):
                self.send(eid, "d")
        self.assertFalse(outage.is_cut(PRIMARY))
        self.assertEqual([m["detail"] for m in self.messages(SECONDARY)], [{"m": "c"}, {"m": "d"}])
        self.assertEqual([m["detail"] for m in self.messages(PRIMARY)], [{"m": "c"}])


if __name__ == "__main__":
    unittest.main()


class LambdaTargets(unittest.TestCase):
    """A rule with a Lambda function target (moto raised NotImplementedError: PutEvents
    answered 500): the event is recorded for the function and the rule's other targets
    still get it."""

    def test_put_events_succeeds_and_the_other_targets_get_the_event(self) -> None:
        region = "us-east-2"
        events = client("events", region)
        logs = client("logs", region)
        bus = unique("lambda-bus")
        events.create_event_bus(Name=bus)
        group = f"/emulator/{unique('lambda-target')}"
        logs.create_log_group(logGroupName=group)
        events.put_rule(Name="r", EventBusName=bus, EventPattern=json.dumps({"source": ["emulator.test"]}))
        events.put_targets(
            Rule="r",
            EventBusName=bus,
            Targets=[
                {"Id": "fn", "Arn": f"arn:aws:lambda:{region}:123456789012:function:processor"},
                {"Id": "log", "Arn": f"arn:aws:logs:{region}:123456789012:log-group:{group}"},
            ],
        )
        out = events.put_events(Entries=[{"Source": "emulator.test", "DetailType": "t", "Detail": json.dumps({"n": 1}), "EventBusName": bus}])
        self.assertEqual(out["FailedEntryCount"], 0)
        bodies: list[bytes] = []
        logs.meta.events.register("after-call.cloudwatch-logs.FilterLogEvents", lambda http_response, **_: bodies.append(http_response.content))
        messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        self.assertEqual(len(messages), 1, messages)
        # CloudWatch Logs timestamps are longs (moto wrote a float: strict SDKs refused it).
        self.assertIsInstance(json.loads(bodies[-1])["events"][0]["timestamp"], int)
        self.assertEqual(json.loads(messages[0])["detail"], {"n": 1})
        # The Lambda target is still there (only skipped for delivery).
        ids = sorted(t["Id"] for t in events.list_targets_by_rule(Rule="r", EventBusName=bus)["Targets"])
        self.assertEqual(ids, ["fn", "log"])
