"""EventBridge global endpoints, which moto 5.2.5 lacks: CreateEndpoint, DescribeEndpoint,
ListEndpoints, UpdateEndpoint, DeleteEndpoint, and PutEvents with `EndpointId`.

AWS, Amazon EventBridge API reference (version 2015-10-07) and user guide:
- CreateEndpoint: Name (1-64, `[\\.\\-_A-Za-z0-9]+`), Description (max 512), RoutingConfig
  (FailoverConfig: Primary.HealthCheck, a Route 53 health check ARN; Secondary.Route, a
  Region), ReplicationConfig.State (`ENABLED`, the default, "which means you must supply a
  RoleArn", or `DISABLED`), EventBuses ("Fixed number of 2 items"; "The names of the event
  buses must be identical in each Region"), RoleArn. A name in use is
  ResourceAlreadyExistsException; the answer's State is `CREATING`.
  https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_CreateEndpoint.html
- DescribeEndpoint (Name, HomeRegion): Arn, EndpointId (the URL subdomain, `abcde.veo`),
  EndpointUrl, State, CreationTime, LastModifiedTime; an unknown name is
  ResourceNotFoundException.
  https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DescribeEndpoint.html
- ListEndpoints (NamePrefix, HomeRegion, NextToken, MaxResults 1-100; "Using an expired
  pagination token results in an HTTP 400 InvalidToken error").
  https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ListEndpoints.html
- UpdateEndpoint (only Name required; the answer's State is `UPDATING`), DeleteEndpoint
  (`DELETING`, then gone); both list ConcurrentModificationException, answered here while
  the endpoint is still CREATING, UPDATING or DELETING.
  https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_UpdateEndpoint.html
  https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DeleteEndpoint.html
- Endpoints are regional: the home Region is the Region the request is sent to (Describe
  and List take HomeRegion to name another one). Constraint failures are
  ValidationException with AWS's "N validation error(s) detected: Value ... at ... failed to
  satisfy constraint: ..." message (Common Errors).
  https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html
- PutEvents with EndpointId: "When failover is initiated, the health check reports an
  unhealthy state ... all custom events are routed to an event bus in the secondary Region
  ... Once the health check reports a healthy state, events are processed by the event bus
  in the primary Region." "Event replication sends all custom events to the event buses in
  the primary and secondary Regions" ("processed by the primary Region when available").
  EventBusName may be the name or either ARN: "EventBridge then determines the corresponding
  event bus in the other Region".
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-global-endpoints.html
  https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html

Life cycle: CREATING/UPDATING turn ACTIVE, and DELETING endpoints disappear,
EMULATOR_EVENTS_ENDPOINT_SECONDS (default 1) after the call, computed from timestamps when
the endpoint is read (no threads).

Not modelled (AWS documents no such check): the buses and the health check need not exist
at CreateEndpoint, and DeleteEventBus of a bus an endpoint uses is left as moto has it (the
bus is deleted; events sent through the endpoint then fail as moto fails a missing bus).
PutEvents routes by `emulator.route53.is_healthy(<health check id>)`, asked at call time;
delivery is moto's own PutEvents on the chosen Region's backend, so the rules and targets of
that bus fire as usual. The replicated copy is delivered at once (skipped while its Region
is cut off by `emulator.outage`); replica event ids differ (AWS: "Event IDs can change").
The SDKs sign requests to a global endpoint with SigV4a (no region in the credential scope);
moto's server is taught to send those to events.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import random
import re
import string
import threading
import time
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.events.exceptions import ResourceAlreadyExistsException, ResourceNotFoundException, ValidationException
from moto.events.models import EventsBackend, events_backends
from moto.events.responses import EventsHandler

DELAY_ENV = "EMULATOR_EVENTS_ENDPOINT_SECONDS"

ACTIVE = "ACTIVE"
CREATING = "CREATING"
UPDATING = "UPDATING"
DELETING = "DELETING"
# States in which the endpoint accepts no Update/Delete (ConcurrentModificationException).
_BUSY = (CREATING, UPDATING, DELETING)

# botocore events model (service-2.json) patterns and lengths.
_NAME = re.compile(r"[\.\-_A-Za-z0-9]+")
_HEALTH_CHECK = re.compile(r"^arn:aws([a-z]|\-)*:route53:::healthcheck/[\-a-z0-9]+$")
_ROUTE = re.compile(r"^[\-a-z0-9]+$")
_BUS_ARN = re.compile(r"^arn:aws[a-z-]*:events:[a-z]+-[a-z-]+-\d+:\d{12}:event-bus/[\w.-]+$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$")
_ENDPOINT_ID = re.compile(r"^[A-Za-z0-9\-]+[\.][A-Za-z0-9\-]+$")
_REPLICATION_STATES = ("ENABLED", "DISABLED")

_lock = threading.RLock()


class ConcurrentModificationException(JsonRESTError):
    """botocore events model: `ConcurrentModificationException` (400)."""

    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("ConcurrentModificationException", message)


class InvalidToken(JsonRESTError):
    """ListEndpoints: "Using an expired pagination token results in an HTTP 400 InvalidToken error"."""

    code = 400

    def __init__(self) -> None:
        super().__init__("InvalidToken", "The NextToken provided is not valid.")


@dataclass
class Endpoint:
    account_id: str
    home_region: str
    name: str
    endpoint_id: str
    description: str | None
    routing_config: dict[str, Any]
    replication_state: str
    event_bus_arns: list[str]
    role_arn: str | None
    state: str
    state_since: float
    creation_time: float
    last_modified_time: float
    state_reason: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{self.home_region}:{self.account_id}:endpoint/{self.name}"

    @property
    def url(self) -> str:
        return f"https://{self.endpoint_id}.endpoint.events.amazonaws.com"

    @property
    def health_check_id(self) -> str:
        return self.routing_config["FailoverConfig"]["Primary"]["HealthCheck"].rsplit("/", 1)[-1]

    @property
    def secondary_region(self) -> str:
        return self.routing_config["FailoverConfig"]["Secondary"]["Route"]

    def _config(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "RoutingConfig": json.loads(json.dumps(self.routing_config)),
            "ReplicationConfig": {"State": self.replication_state},
            "EventBuses": [{"EventBusArn": a} for a in self.event_bus_arns],
        }
        if self.role_arn:
            out["RoleArn"] = self.role_arn
        return out

    def describe(self) -> dict[str, Any]:
        """The DescribeEndpointResponse / Endpoint shape."""
        out: dict[str, Any] = {"Name": self.name}
        if self.description is not None:
            out["Description"] = self.description
        out["Arn"] = self.arn
        out.update(self._config())
        out.update(
            {
                "EndpointId": self.endpoint_id,
                "EndpointUrl": self.url,
                "State": self.state,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified_time,
            }
        )
        if self.state_reason:
            out["StateReason"] = self.state_reason
        return out

    def created(self) -> dict[str, Any]:
        """The CreateEndpointResponse shape."""
        return {"Name": self.name, "Arn": self.arn, **self._config(), "State": self.state}

    def updated(self) -> dict[str, Any]:
        """The UpdateEndpointResponse shape."""
        return {
            "Name": self.name,
            "Arn": self.arn,
            **self._config(),
            "EndpointId": self.endpoint_id,
            "EndpointUrl": self.url,
            "State": self.state,
        }


# ---------------------------------------------------------------------------------------
# Store and life cycle


def _delay() -> float:
    try:
        return max(0.0, float(os.environ.get(DELAY_ENV, "1")))
    except ValueError:
        return 1.0


def _store(backend: EventsBackend) -> dict[str, Endpoint]:
    """The endpoints whose home Region is `backend`'s (gone with moto's reset of it)."""
    store = backend.__dict__.get("_emulator_endpoints")
    if store is None:
        store = {}
        backend.__dict__["_emulator_endpoints"] = store
    return store


def _settle(store: dict[str, Endpoint], now: float | None = None) -> None:
    """Advances every endpoint of `store` to the state its timestamps give (caller holds _lock)."""
    now = time.time() if now is None else now
    delay = _delay()
    for name, ep in list(store.items()):
        if now - ep.state_since < delay:
            continue
        if ep.state in (CREATING, UPDATING):
            ep.state = ACTIVE
            ep.state_since = now
        elif ep.state == DELETING:
            del store[name]


def _get(backend: EventsBackend, name: str) -> Endpoint:
    store = _store(backend)
    _settle(store)
    ep = store.get(name)
    if ep is None:
        raise ResourceNotFoundException(f"Endpoint {name} does not exist.")
    return ep


def _new_endpoint_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    taken = {ep.endpoint_id for store in _all_stores() for ep in store.values()}
    while True:
        candidate = "".join(random.choices(alphabet, k=5)) + "." + "".join(random.choices(alphabet, k=3))
        if candidate not in taken:
            return candidate


def _all_stores(account_id: str | None = None) -> list[dict[str, Endpoint]]:
    """The endpoint stores of every instantiated events backend (of `account_id` if given)."""
    stores = []
    for account, per_region in list(events_backends.items()):
        if account_id is not None and account != account_id:
            continue
        for backend in list(per_region.values()):
            store = backend.__dict__.get("_emulator_endpoints")
            if store:
                stores.append(store)
    return stores


# ---------------------------------------------------------------------------------------
# Validation


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class _Errors:
    """Collects constraint failures; raises them as AWS's ValidationException."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, value: Any, path: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{_show(value)}'"
        self.items.append(f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}")

    def string(
        self, value: Any, path: str, *, required: bool = False, min_len: int = 0, max_len: int | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> None:
        if value is None:
            if required:
                self.add(None, path, "Member must not be null")
            return
        if not isinstance(value, str):
            self.add(value, path, "Member must be a string")
            return
        if len(value) < min_len:
            self.add(value, path, f"Member must have length greater than or equal to {min_len}")
        if max_len is not None and len(value) > max_len:
            self.add(value, path, f"Member must have length less than or equal to {max_len}")
        if pattern is not None and not pattern.fullmatch(value):
            self.add(value, path, f"Member must satisfy regular expression pattern: {pattern.pattern}")

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            noun = "error" if n == 1 else "errors"
            raise ValidationException(f"{n} validation {noun} detected: " + "; ".join(self.items))


def _check_name(errors: _Errors, name: Any) -> None:
    errors.string(name, "name", required=True, min_len=1, max_len=64, pattern=_NAME)


def _check_routing(errors: _Errors, routing: Any, required: bool) -> None:
    if routing is None:
        if required:
            errors.add(None, "routingConfig", "Member must not be null")
        return
    if not isinstance(routing, dict):
        errors.add(routing, "routingConfig", "Member must be a structure")
        return
    failover = routing.get("FailoverConfig")
    if not isinstance(failover, dict):
        errors.add(failover, "routingConfig.failoverConfig", "Member must not be null")
        return
    primary, secondary = failover.get("Primary"), failover.get("Secondary")
    if not isinstance(primary, dict):
        errors.add(primary, "routingConfig.failoverConfig.primary", "Member must not be null")
    else:
        errors.string(
            primary.get("HealthCheck"), "routingConfig.failoverConfig.primary.healthCheck",
            required=True, min_len=1, max_len=1600, pattern=_HEALTH_CHECK,
        )
    if not isinstance(secondary, dict):
        errors.add(secondary, "routingConfig.failoverConfig.secondary", "Member must not be null")
    else:
        errors.string(
            secondary.get("Route"), "routingConfig.failoverConfig.secondary.route",
            required=True, min_len=9, max_len=20, pattern=_ROUTE,
        )


def _check_replication(errors: _Errors, replication: Any) -> None:
    if replication is None:
        return
    if not isinstance(replication, dict):
        errors.add(replication, "replicationConfig", "Member must be a structure")
        return
    state = replication.get("State")
    if state is not None and state not in _REPLICATION_STATES:
        errors.add(state, "replicationConfig.state", "Member must satisfy enum value set: [ENABLED, DISABLED]")


def _check_buses(errors: _Errors, buses: Any, required: bool) -> None:
    if buses is None:
        if required:
            errors.add(None, "eventBuses", "Member must not be null")
        return
    if not isinstance(buses, list):
        errors.add(buses, "eventBuses", "Member must be a list")
        return
    if len(buses) < 2:
        errors.add(buses, "eventBuses", "Member must have length greater than or equal to 2")
    if len(buses) > 2:
        errors.add(buses, "eventBuses", "Member must have length less than or equal to 2")
    for i, bus in enumerate(buses, start=1):
        arn = bus.get("EventBusArn") if isinstance(bus, dict) else None
        errors.string(arn, f"eventBuses.{i}.member.eventBusArn", required=True, min_len=1, max_len=512, pattern=_BUS_ARN)


def _check_role(errors: _Errors, role_arn: Any) -> None:
    errors.string(role_arn, "roleArn", min_len=1, max_len=256, pattern=_ROLE_ARN)


def _parse_bus(arn: str) -> tuple[str, str, str]:
    """(region, account, bus name) of an event bus ARN that matched _BUS_ARN."""
    parts = arn.split(":", 5)
    return parts[3], parts[4], parts[5].split("/", 1)[1]


def _check_semantics(
    home_region: str, routing: dict[str, Any], replication_state: str, bus_arns: list[str], role_arn: str | None
) -> None:
    """The documented relations between the fields (after the constraints hold)."""
    (r1, _, n1), (r2, _, n2) = (_parse_bus(a) for a in bus_arns)
    if n1 != n2:
        raise ValidationException(f"The names of the event buses must be identical in each Region: {n1} and {n2}.")
    if r1 == r2:
        raise ValidationException(f"The event buses must be in two different Regions: both are in {r1}.")
    if home_region not in (r1, r2):
        raise ValidationException(
            f"One of the event buses must be in the endpoint's home Region {home_region}: they are in {r1} and {r2}."
        )
    secondary = routing["FailoverConfig"]["Secondary"]["Route"]
    other = r2 if home_region == r1 else r1
    if secondary != other:
        raise ValidationException(
            f"The secondary Route {secondary} must be the Region of the other event bus ({other}), "
            f"not the endpoint's home Region {home_region}."
        )
    if replication_state == "ENABLED" and not role_arn:
        raise ValidationException("RoleArn is required when event replication is ENABLED (the default).")


# ---------------------------------------------------------------------------------------
# Backend operations (patched onto EventsBackend)


def _home_backend(self: EventsBackend, home_region: str | None) -> EventsBackend | None:
    """The events backend of `home_region` (default: the request's Region); None: no such Region."""
    if not home_region or home_region == self.region_name:
        return self
    per_region = events_backends[self.account_id]
    if home_region not in per_region:
        return None
    return per_region[home_region]


def create_endpoint(
    self: EventsBackend,
    name: Any,
    description: Any,
    routing_config: Any,
    replication_config: Any,
    event_buses: Any,
    role_arn: Any,
) -> dict[str, Any]:
    errors = _Errors()
    _check_name(errors, name)
    errors.string(description, "description", max_len=512)
    _check_routing(errors, routing_config, required=True)
    _check_replication(errors, replication_config)
    _check_buses(errors, event_buses, required=True)
    _check_role(errors, role_arn)
    errors.raise_if_any()
    replication_state = (replication_config or {}).get("State") or "ENABLED"
    bus_arns = [b["EventBusArn"] for b in event_buses]
    _check_semantics(self.region_name, routing_config, replication_state, bus_arns, role_arn)
    with _lock:
        store = _store(self)
        _settle(store)
        if name in store:
            raise ResourceAlreadyExistsException(f"Endpoint {name} already exists.")
        now = time.time()
        ep = Endpoint(
            account_id=self.account_id,
            home_region=self.region_name,
            name=name,
            endpoint_id=_new_endpoint_id(),
            description=description,
            routing_config={
                "FailoverConfig": {
                    "Primary": {"HealthCheck": routing_config["FailoverConfig"]["Primary"]["HealthCheck"]},
                    "Secondary": {"Route": routing_config["FailoverConfig"]["Secondary"]["Route"]},
                }
            },
            replication_state=replication_state,
            event_bus_arns=bus_arns,
            role_arn=role_arn,
            state=CREATING,
            state_since=now,
            creation_time=now,
            last_modified_time=now,
        )
        store[name] = ep
        return ep.created()


def describe_endpoint(self: EventsBackend, name: Any, home_region: Any = None) -> dict[str, Any]:
    errors = _Errors()
    _check_name(errors, name)
    errors.string(home_region, "homeRegion", min_len=9, max_len=20, pattern=_ROUTE)
    errors.raise_if_any()
    backend = _home_backend(self, home_region)
    if backend is None:
        raise ResourceNotFoundException(f"Endpoint {name} does not exist.")
    with _lock:
        return _get(backend, name).describe()


def list_endpoints(
    self: EventsBackend, name_prefix: Any = None, home_region: Any = None, next_token: Any = None, max_results: Any = None
) -> dict[str, Any]:
    errors = _Errors()
    errors.string(name_prefix, "namePrefix", min_len=1, max_len=64, pattern=_NAME)
    errors.string(home_region, "homeRegion", min_len=9, max_len=20, pattern=_ROUTE)
    errors.string(next_token, "nextToken", min_len=1, max_len=2048)
    if max_results is not None and (not isinstance(max_results, int) or not 1 <= max_results <= 100):
        if isinstance(max_results, int) and max_results > 100:
            errors.add(max_results, "maxResults", "Member must have value less than or equal to 100")
        else:
            errors.add(max_results, "maxResults", "Member must have value greater than or equal to 1")
    errors.raise_if_any()
    after = ""
    if next_token:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(next_token.encode()).decode())
            after = decoded["after"]
            if not isinstance(after, str):
                raise ValueError(after)
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise InvalidToken() from None
    limit = max_results or 100
    backend = _home_backend(self, home_region)
    if backend is None:
        return {"Endpoints": []}
    with _lock:
        store = _store(backend)
        _settle(store)
        names = sorted(n for n in store if n > after and (not name_prefix or n.startswith(name_prefix)))
        page = [store[n].describe() for n in names[:limit]]
    out: dict[str, Any] = {"Endpoints": page}
    if len(names) > limit:
        out["NextToken"] = base64.urlsafe_b64encode(json.dumps({"after": names[limit - 1]}).encode()).decode()
    return out


def update_endpoint(
    self: EventsBackend,
    name: Any,
    description: Any = None,
    routing_config: Any = None,
    replication_config: Any = None,
    event_buses: Any = None,
    role_arn: Any = None,
) -> dict[str, Any]:
    errors = _Errors()
    _check_name(errors, name)
    errors.string(description, "description", max_len=512)
    _check_routing(errors, routing_config, required=False)
    _check_replication(errors, replication_config)
    _check_buses(errors, event_buses, required=False)
    _check_role(errors, role_arn)
    errors.raise_if_any()
    with _lock:
        ep = _get(self, name)
        if ep.state in _BUSY:
            raise ConcurrentModificationException(f"Endpoint {name} is {ep.state}; try again when it is ACTIVE.")
        new_routing = (
            {
                "FailoverConfig": {
                    "Primary": {"HealthCheck": routing_config["FailoverConfig"]["Primary"]["HealthCheck"]},
                    "Secondary": {"Route": routing_config["FailoverConfig"]["Secondary"]["Route"]},
                }
            }
            if routing_config is not None
            else ep.routing_config
        )
        new_state = (replication_config or {}).get("State") or ep.replication_state
        new_buses = [b["EventBusArn"] for b in event_buses] if event_buses is not None else ep.event_bus_arns
        new_role = role_arn if role_arn is not None else ep.role_arn
        _check_semantics(self.region_name, new_routing, new_state, new_buses, new_role)
        now = time.time()
        if description is not None:
            ep.description = description
        ep.routing_config = new_routing
        ep.replication_state = new_state
        ep.event_bus_arns = list(new_buses)
        ep.role_arn = new_role
        ep.state = UPDATING
        ep.state_since = now
        ep.state_reason = None
        ep.last_modified_time = now
        return ep.updated()


def delete_endpoint(self: EventsBackend, name: Any) -> None:
    errors = _Errors()
    _check_name(errors, name)
    errors.raise_if_any()
    with _lock:
        ep = _get(self, name)
        if ep.state in _BUSY:
            raise ConcurrentModificationException(f"Endpoint {name} is {ep.state}; try again when it is ACTIVE.")
        now = time.time()
        ep.state = DELETING
        ep.state_since = now
        ep.last_modified_time = now


# ---------------------------------------------------------------------------------------
# Data plane


def find_endpoint(account_id: str, endpoint_id: str) -> Endpoint | None:
    """The endpoint of `account_id` whose EndpointId is `endpoint_id` (any home Region)."""
    with _lock:
        for store in _all_stores(account_id):
            _settle(store)
            for ep in store.values():
                if ep.endpoint_id == endpoint_id:
                    return ep
    return None


def route(ep: Endpoint) -> tuple[str, str | None]:
    """(Region the events go to, Region that receives a replica or None), as the endpoint's
    health check says now: healthy → the primary (home) Region, else the secondary Route."""
    from emulator import outage, route53

    primary, secondary = ep.home_region, ep.secondary_region
    target, other = (primary, secondary) if route53.is_healthy(ep.health_check_id) else (secondary, primary)
    replica = other if ep.replication_state == "ENABLED" and not outage.is_cut(other) else None
    return target, replica


def _bus_in(entry: dict[str, Any]) -> str | None:
    """The entry's bus name (the same in both Regions); None: the default bus."""
    bus = entry.get("EventBusName")
    if not bus:
        return None
    return bus.split(":event-bus/", 1)[1] if ":event-bus/" in bus else bus


def put_events_via_endpoint(account_id: str, endpoint_id: Any, entries: Any) -> dict[str, Any]:
    """PutEvents sent with EndpointId: moto's own PutEvents on the Region the endpoint routes
    to (and on the replica Region when replication is enabled). Returns the PutEvents answer."""
    errors = _Errors()
    errors.string(endpoint_id, "endpointId", min_len=1, max_len=50, pattern=_ENDPOINT_ID)
    errors.raise_if_any()
    ep = find_endpoint(account_id, endpoint_id)
    if ep is None:
        raise ResourceNotFoundException(f"Endpoint with id {endpoint_id} does not exist.")
    if ep.state not in (ACTIVE, UPDATING):
        raise ValidationException(f"Endpoint {ep.name} ({endpoint_id}) is {ep.state}, not ACTIVE.")
    target, replica = route(ep)
    routed = []
    for entry in entries or []:
        sent = dict(entry)
        bus = _bus_in(entry)
        if bus is None:
            sent.pop("EventBusName", None)
        else:
            sent["EventBusName"] = bus
        routed.append(sent)
    results = events_backends[account_id][target].put_events(routed)
    if replica is not None:
        accepted = [e for e, r in zip(routed, results) if "EventId" in r]
        if accepted:
            try:
                events_backends[account_id][replica].put_events(accepted)
            except Exception:  # noqa: BLE001 - replication is asynchronous on AWS: the caller never sees its failure
                pass
    return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}


# ---------------------------------------------------------------------------------------
# Response handlers (awsJson1_1, X-Amz-Target AWSEvents.<Operation>)


def _h_create_endpoint(self: EventsHandler) -> tuple[str, dict[str, Any]]:
    result = self.events_backend.create_endpoint(  # type: ignore[attr-defined]
        self._get_param("Name"),
        self._get_param("Description"),
        self._get_param("RoutingConfig"),
        self._get_param("ReplicationConfig"),
        self._get_param("EventBuses"),
        self._get_param("RoleArn"),
    )
    return json.dumps(result), self.response_headers


def _h_describe_endpoint(self: EventsHandler) -> tuple[str, dict[str, Any]]:
    result = self.events_backend.describe_endpoint(  # type: ignore[attr-defined]
        self._get_param("Name"), self._get_param("HomeRegion")
    )
    return json.dumps(result), self.response_headers


def _h_list_endpoints(self: EventsHandler) -> tuple[str, dict[str, Any]]:
    result = self.events_backend.list_endpoints(  # type: ignore[attr-defined]
        self._get_param("NamePrefix"),
        self._get_param("HomeRegion"),
        self._get_param("NextToken"),
        self._get_param("MaxResults"),
    )
    return json.dumps(result), self.response_headers


def _h_update_endpoint(self: EventsHandler) -> tuple[str, dict[str, Any]]:
    result = self.events_backend.update_endpoint(  # type: ignore[attr-defined]
        self._get_param("Name"),
        self._get_param("Description"),
        self._get_param("RoutingConfig"),
        self._get_param("ReplicationConfig"),
        self._get_param("EventBuses"),
        self._get_param("RoleArn"),
    )
    return json.dumps(result), self.response_headers


def _h_delete_endpoint(self: EventsHandler) -> tuple[str, dict[str, Any]]:
    self.events_backend.delete_endpoint(self._get_param("Name"))  # type: ignore[attr-defined]
    return "{}", self.response_headers


# SigV4a credential scope: `Credential=AKID/DATE/SERVICE/aws4_request` (no region).
_SIGV4A_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/aws4_request")


def _route_sigv4a_events() -> None:
    """Requests to a global endpoint are signed with SigV4a (botocore's endpoint rule set for
    events: with EndpointId, authSchemes `sigv4a`, signingRegionSet `["*"]`): the credential
    scope has no region, and moto's server (which expects `AKID/DATE/REGION/SERVICE/...`)
    would not find the events service. Such a request goes to events (any region: the
    endpoint is found by its id)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.infer_service_region_host

    def infer_service_region_host(self: DomainDispatcherApplication, environ: dict[str, Any], path: str) -> str | None:
        auth = environ.get("HTTP_AUTHORIZATION") or ""
        if auth.startswith("AWS4-ECDSA-P256-SHA256"):
            scope = _SIGV4A_SCOPE.search(auth)
            if scope and scope.group(1) == "events":
                return "events.us-east-1.amazonaws.com"
        return original(self, environ, path)

    DomainDispatcherApplication.infer_service_region_host = infer_service_region_host  # type: ignore[method-assign]


# Events delivered to Lambda targets (moto runs no Lambda): the last
# LAMBDA_DELIVERIES_KEPT, oldest first.
LAMBDA_DELIVERIES_KEPT = 1000
_lambda_deliveries: list[dict[str, Any]] = []
_deliveries_lock = threading.Lock()


def lambda_deliveries() -> list[dict[str, Any]]:
    """The events rules delivered to Lambda function targets (rule, function ARN, event)."""
    with _deliveries_lock:
        return list(_lambda_deliveries)


def _apply_lambda_targets() -> None:
    """moto 5.2.5 raised NotImplementedError (HTTP 500 for the whole PutEvents) when a
    matching rule had a Lambda function target. AWS invokes the function asynchronously; the
    emulator runs no Lambda, so the delivery is recorded (`lambda_deliveries()`) and the
    rule's other targets get the event as before."""
    from moto.events.models import Rule
    from moto.utilities.arns import parse_arn

    if getattr(Rule, "_emulator_lambda_targets", False):
        return
    original = Rule.send_to_targets
    lock = threading.Lock()

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        lambdas = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
        if not lambdas:
            return original(self, original_event, transform_input)
        if not self.event_pattern.matches_event(original_event):
            return None
        with _deliveries_lock:
            for t in lambdas:
                _lambda_deliveries.append({"Rule": self.name, "EventBusName": self.event_bus_name, "FunctionArn": t["Arn"], "Event": original_event})
            del _lambda_deliveries[:-LAMBDA_DELIVERIES_KEPT]
        with lock:
            saved = self.targets
            self.targets = [t for t in saved if t not in lambdas]
            try:
                return original(self, original_event, transform_input)
            finally:
                self.targets = saved

    def _send_to_cw_log_group(self: Rule, name: str, event: dict[str, Any]) -> None:
        # moto wrote the log event's timestamp as a float (unix_time_millis()); CloudWatch
        # Logs' `timestamp` is a long (milliseconds), and strict clients (the AWS SDK for
        # Rust) refuse FilterLogEvents/GetLogEvents answers carrying a fraction.
        import random as _random

        from moto.core.utils import iso_8601_datetime_without_milliseconds, unix_time_millis, utcfromtimestamp
        from moto.logs import logs_backends

        if "time" in event:
            event["time"] = iso_8601_datetime_without_milliseconds(utcfromtimestamp(event["time"]))
        stream = f"{_random.getrandbits(64):016x}"
        backend = logs_backends[self.account_id][self.region_name]
        backend.create_log_stream(name, stream)
        backend.put_log_events(name, stream, [{"timestamp": int(unix_time_millis()), "message": json.dumps(event)}])

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]
    Rule._send_to_cw_log_group = _send_to_cw_log_group  # type: ignore[method-assign]
    Rule._emulator_lambda_targets = True  # type: ignore[attr-defined]


def apply() -> None:
    if getattr(EventsHandler, "_emulator_endpoints", False):
        return
    _route_sigv4a_events()
    _apply_lambda_targets()
    original_put_events = EventsHandler.put_events

    def put_events(self: EventsHandler) -> Any:
        # PutEvents with EndpointId (the SDKs send it in the body when the request targets
        # a global endpoint): routed by the endpoint's health check. Without it: moto's.
        endpoint_id = self._get_param("EndpointId")
        if endpoint_id is None:
            return original_put_events(self)
        result = put_events_via_endpoint(self.current_account, endpoint_id, self._get_param("Entries"))
        return json.dumps(result)

    EventsBackend.create_endpoint = create_endpoint  # type: ignore[attr-defined]
    EventsBackend.describe_endpoint = describe_endpoint  # type: ignore[attr-defined]
    EventsBackend.list_endpoints = list_endpoints  # type: ignore[attr-defined]
    EventsBackend.update_endpoint = update_endpoint  # type: ignore[attr-defined]
    EventsBackend.delete_endpoint = delete_endpoint  # type: ignore[attr-defined]
    EventsHandler.create_endpoint = _h_create_endpoint  # type: ignore[attr-defined]
    EventsHandler.describe_endpoint = _h_describe_endpoint  # type: ignore[attr-defined]
    EventsHandler.list_endpoints = _h_list_endpoints  # type: ignore[attr-defined]
    EventsHandler.update_endpoint = _h_update_endpoint  # type: ignore[attr-defined]
    EventsHandler.delete_endpoint = _h_delete_endpoint  # type: ignore[attr-defined]
    EventsHandler.put_events = put_events  # type: ignore[method-assign]
    EventsHandler._emulator_endpoints = True  # type: ignore[attr-defined]
