"""AWS Global Accelerator: a service moto 5.2.5 lacks, served by moto's own server.

The API (botocore model `globalaccelerator/2018-08-08`, awsJson1_1, X-Amz-Target
`GlobalAccelerator_V20180706.<Operation>`, signing name `globalaccelerator`, control plane
in us-west-2) is a new moto backend: a `BackendDict` of `GlobalAcceleratorBackend` (one per
account and partition, as for moto's global services, so `POST /moto-api/reset` clears it)
and a `BaseResponse` whose answers moto serializes from the botocore model.

How a request reaches it: moto's server reads the service name from the credential scope of
the SigV4 `Authorization` header and makes the host `globalaccelerator.<region>.amazonaws.com`
(moto/moto_server/werkzeug_app.py, `infer_service_region_host`); it looks that host up in
`moto.backend_index.backend_url_patterns` (we add a pattern), then builds the Flask app of
the backend from `moto.backends.get_backend(name)`, which imports `moto.<name>` and reads
`<name>_backends` (we register this module as `moto.globalaccelerator`). The backend's URL
module is this module (`url_bases`, `url_paths`).

AWS behaviour modelled (Global Accelerator API reference,
https://docs.aws.amazon.com/global-accelerator/latest/api/):
- CreateAccelerator / CreateListener / CreateEndpointGroup take an IdempotencyToken: "A
  unique, case-sensitive identifier that you provide to ensure the idempotency - that is,
  the uniqueness - of the request"; the same token answers the resource it created.
- An accelerator's Status is IN_PROGRESS after every change to it, its listeners or their
  endpoint groups, and DEPLOYED once the change has propagated (here after
  EMULATOR_GA_DEPLOY_SECONDS, default 1; computed from timestamps when read).
- DeleteAccelerator: "Before you can delete an accelerator, you must disable it and remove
  all dependent resources (listeners and endpoint groups)": AcceleratorNotDisabledException
  while enabled (or while its disabling is still IN_PROGRESS), then
  AssociatedListenerFoundException; DeleteListener with endpoint groups is
  AssociatedEndpointGroupFoundException; a second endpoint group for a region on a listener
  is EndpointGroupAlreadyExistsException.
- Endpoint health (EndpointDescription.HealthState/HealthReason): HEALTHY; UNHEALTHY with
  reason `Timeout` ("the health check requests to the endpoint are timing out") while the
  endpoint's region is cut off (`emulator.outage.is_cut`), as GA reports the endpoints of a
  region that does not answer.
- Input constraints of the model (required members, enums, ranges, lengths, patterns) are
  ValidationException (400) with AWS's "N validation error(s) detected: ..." message; the
  service's own rules (HealthCheckIntervalSeconds 10 or 30, a region name, FromPort <=
  ToPort) are InvalidArgumentException / InvalidPortRangeException; unknown ARNs are
  AcceleratorNotFoundException / ListenerNotFoundException / EndpointGroupNotFoundException
  (400, as every error of the model).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable

from botocore.model import ListShape, OperationModel, Shape, StructureShape
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.utilities.utils import PARTITION_NAMES

SERVICE = "globalaccelerator"
DEFAULT_DEPLOY_SECONDS = 1.0
DEPLOYED = "DEPLOYED"
IN_PROGRESS = "IN_PROGRESS"
MAX_ENDPOINTS = 10  # quota: endpoints per endpoint group
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


# --- errors (botocore globalaccelerator model; every one is HTTP 400) -------------------


class GlobalAcceleratorError(ServiceException):
    """An error of the service, serialized by moto from the botocore model (a class of
    this module: moto looks the model of a `moto.*` exception up by its package)."""


def _error(code: str, message: str) -> ServiceException:
    return GlobalAcceleratorError(code, message)


def _accelerator_not_found(arn: str) -> ServiceException:
    return _error("AcceleratorNotFoundException", f"Accelerator not found: {arn}")


def _listener_not_found(arn: str) -> ServiceException:
    return _error("ListenerNotFoundException", f"Listener not found: {arn}")


def _group_not_found(arn: str) -> ServiceException:
    return _error("EndpointGroupNotFoundException", f"Endpoint group not found: {arn}")


def _invalid(message: str) -> ServiceException:
    return _error("InvalidArgumentException", message)


# --- input validation against the botocore model -----------------------------------------


@lru_cache(maxsize=1)
def _service_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _violations(shape: Shape, value: Any, path: str, out: list[str]) -> None:
    """AWS's (Coral's) constraint messages for `value` against `shape`."""
    meta = shape.metadata
    at = f"Value '{value}' at '{path}' failed to satisfy constraint: Member must"
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            out.append(f"{at} be a structure")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                out.append(f"Value null at '{_join(path, name)}' failed to satisfy constraint: Member must not be null")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _violations(member, value[name], _join(path, name), out)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            out.append(f"{at} be a list")
            return
        if "min" in meta and len(value) < meta["min"]:
            out.append(f"{at} have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{at} have length less than or equal to {meta['max']}")
        for i, item in enumerate(value, 1):
            if item is not None:
                _violations(shape.member, item, f"{path}.{i}.member", out)
    elif shape.type_name == "string":
        if not isinstance(value, str):
            out.append(f"{at} be a string")
            return
        if shape.enum and value not in shape.enum:
            out.append(f"{at} satisfy enum value set: [{', '.join(shape.enum)}]")
        if "min" in meta and len(value) < meta["min"]:
            out.append(f"{at} have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"{at} have length less than or equal to {meta['max']}")
        if "pattern" in meta:
            try:
                if re.search(meta["pattern"], value) is None:
                    out.append(f"{at} satisfy regular expression pattern: {meta['pattern']}")
            except re.error:
                pass
    elif shape.type_name in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out.append(f"{at} be a number")
            return
        if shape.type_name in ("integer", "long") and value != int(value):
            out.append(f"{at} be an integer")
        if "min" in meta and value < meta["min"]:
            out.append(f"{at} have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            out.append(f"{at} have value less than or equal to {meta['max']}")
    elif shape.type_name == "boolean" and not isinstance(value, bool):
        out.append(f"{at} be a boolean")


def _join(path: str, name: str) -> str:
    return f"{path}.{_camel(name)}" if path else _camel(name)


def validate(operation: str, params: dict[str, Any]) -> None:
    """ValidationException (400) when `params` break the input constraints of `operation`."""
    op: OperationModel = _service_model().operation_model(operation)
    out: list[str] = []
    if op.input_shape is not None:
        _violations(op.input_shape, params, "", out)
    if out:
        plural = "s" if len(out) > 1 else ""
        raise _error("ValidationException", f"{len(out)} validation error{plural} detected: " + "; ".join(out))


# --- health of endpoints -----------------------------------------------------------------


def endpoint_region(endpoint_id: str, default: str) -> str:
    """The region of an endpoint: the region field of its ARN (an NLB/ALB ARN
    `arn:aws:elasticloadbalancing:us-east-1:...`), else `default` (the endpoint group's
    region: instance ids and Elastic IP allocation ids carry none)."""
    parts = endpoint_id.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return default


def endpoint_health(endpoint_id: str, group_region: str) -> tuple[str, str | None]:
    """(HealthState, HealthReason) of an endpoint as GA reports it now: UNHEALTHY/`Timeout`
    while its region is cut off (emulator.outage), else HEALTHY (no reason, as AWS: "If the
    endpoint state is healthy, a reason code is not provided")."""
    from . import outage

    if outage.is_cut(endpoint_region(endpoint_id, group_region)):
        return "UNHEALTHY", "Timeout"
    return "HEALTHY", None


# --- model -------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _deploy_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get("EMULATOR_GA_DEPLOY_SECONDS", DEFAULT_DEPLOY_SECONDS)))
    except ValueError:
        return DEFAULT_DEPLOY_SECONDS


@dataclass
class Accelerator:
    arn: str
    name: str
    ip_address_type: str
    enabled: bool
    ipv4: list[str]
    ipv6: list[str]
    dns_name: str
    dual_stack_dns_name: str | None
    created: datetime
    modified: datetime
    deployed_at: float = 0.0
    tags: dict[str, str] = field(default_factory=dict)

    def touch(self) -> None:
        """A change: IN_PROGRESS until it has deployed."""
        self.modified = _now()
        self.deployed_at = time.time() + _deploy_seconds()

    @property
    def status(self) -> str:
        return DEPLOYED if time.time() >= self.deployed_at else IN_PROGRESS

    def describe(self) -> dict[str, Any]:
        ip_sets = [{"IpFamily": "IPv4", "IpAddresses": list(self.ipv4), "IpAddressFamily": "IPv4"}]
        if self.ipv6:
            ip_sets.append({"IpFamily": "IPv6", "IpAddresses": list(self.ipv6), "IpAddressFamily": "IPv6"})
        out: dict[str, Any] = {
            "AcceleratorArn": self.arn,
            "Name": self.name,
            "IpAddressType": self.ip_address_type,
            "Enabled": self.enabled,
            "IpSets": ip_sets,
            "DnsName": self.dns_name,
            "Status": self.status,
            "CreatedTime": self.created,
            "LastModifiedTime": self.modified,
        }
        if self.dual_stack_dns_name:
            out["DualStackDnsName"] = self.dual_stack_dns_name
        return out


@dataclass
class Listener:
    arn: str
    accelerator_arn: str
    port_ranges: list[dict[str, int]]
    protocol: str
    client_affinity: str

    def describe(self) -> dict[str, Any]:
        return {
            "ListenerArn": self.arn,
            "PortRanges": [dict(r) for r in self.port_ranges],
            "Protocol": self.protocol,
            "ClientAffinity": self.client_affinity,
        }


@dataclass
class EndpointGroup:
    arn: str
    listener_arn: str
    region: str
    endpoints: list[dict[str, Any]]
    traffic_dial: float
    health_check_port: int
    health_check_protocol: str
    health_check_path: str
    health_check_interval: int
    threshold_count: int
    port_overrides: list[dict[str, int]]

    def describe(self) -> dict[str, Any]:
        descriptions = []
        for e in self.endpoints:
            state, reason = endpoint_health(e["EndpointId"], self.region)
            d = dict(e)
            d["HealthState"] = state
            if reason:
                d["HealthReason"] = reason
            descriptions.append(d)
        out: dict[str, Any] = {
            "EndpointGroupArn": self.arn,
            "EndpointGroupRegion": self.region,
            "EndpointDescriptions": descriptions,
            "TrafficDialPercentage": self.traffic_dial,
            "HealthCheckPort": self.health_check_port,
            "HealthCheckProtocol": self.health_check_protocol,
            "HealthCheckIntervalSeconds": self.health_check_interval,
            "ThresholdCount": self.threshold_count,
            "PortOverrides": [dict(p) for p in self.port_overrides],
        }
        if self.health_check_protocol in ("HTTP", "HTTPS"):
            out["HealthCheckPath"] = self.health_check_path
        return out


def _endpoint(config: dict[str, Any], existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """An endpoint as stored (EndpointConfiguration with AWS's defaults: Weight 128;
    ClientIPPreservationEnabled true for Application Load Balancers and instances)."""
    endpoint_id = config.get("EndpointId")
    if not endpoint_id:
        raise _invalid("EndpointId is required for each endpoint configuration")
    preserve_default = ":loadbalancer/app/" in endpoint_id or endpoint_id.startswith("i-")
    if existing is not None:
        preserve_default = existing["ClientIPPreservationEnabled"]
    weight = config.get("Weight")
    return {
        "EndpointId": endpoint_id,
        "Weight": 128 if weight is None else weight,
        "ClientIPPreservationEnabled": bool(config.get("ClientIPPreservationEnabled", preserve_default)),
    }


def _endpoints(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for c in configs:
        e = _endpoint(c)
        if e["EndpointId"] in seen:
            raise _invalid(f"Duplicate endpoint id {e['EndpointId']}")
        seen.add(e["EndpointId"])
        out.append(e)
    return out


def _check_health_settings(params: dict[str, Any]) -> None:
    # API reference, CreateEndpointGroup: "HealthCheckIntervalSeconds: The time - 10 seconds
    # or 30 seconds - between each health check for an endpoint."
    interval = params.get("HealthCheckIntervalSeconds")
    if interval is not None and interval not in (10, 30):
        raise _invalid(f"HealthCheckIntervalSeconds must be 10 or 30, not {interval}")


def _check_port_ranges(ranges: list[dict[str, Any]]) -> list[dict[str, int]]:
    out = []
    for r in ranges:
        low, high = r.get("FromPort"), r.get("ToPort")
        if low is None or high is None:
            raise _error("InvalidPortRangeException", "A port range needs FromPort and ToPort")
        if low > high:
            raise _error("InvalidPortRangeException", f"FromPort {low} is greater than ToPort {high}")
        out.append({"FromPort": int(low), "ToPort": int(high)})
    for i, a in enumerate(out):
        for b in out[i + 1 :]:
            if a["FromPort"] <= b["ToPort"] and b["FromPort"] <= a["ToPort"]:
                raise _error("InvalidPortRangeException", "The port ranges of a listener must not overlap")
    return out


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    """A page of `items` (MaxResults, default 10; NextToken opaque)."""
    limit = params.get("MaxResults") or 10
    token = params.get("NextToken")
    start = 0
    if token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _error("InvalidNextTokenException", "The NextToken is not valid") from None
        if start < 0:
            raise _error("InvalidNextTokenException", "The NextToken is not valid")
    page = items[start : start + limit]
    more = start + limit < len(items)
    next_token = base64.urlsafe_b64encode(json.dumps({"offset": start + limit}).encode()).decode() if more else None
    return page, next_token


class GlobalAcceleratorBackend(BaseBackend):
    """Global Accelerator of one account (a global service: one backend per partition)."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.lock = threading.RLock()
        self.accelerators: dict[str, Accelerator] = {}
        self.listeners: dict[str, Listener] = {}
        self.groups: dict[str, EndpointGroup] = {}
        self.tokens: dict[tuple[str, str], str] = {}
        self.ip_seq = 0

    @property
    def _url_module(self) -> Any:  # type: ignore[override]
        return sys.modules[__name__]

    # -- lookups (lock held) --

    def _accelerator(self, arn: str) -> Accelerator:
        a = self.accelerators.get(arn)
        if a is None:
            raise _accelerator_not_found(arn)
        return a

    def _listener(self, arn: str) -> Listener:
        listener = self.listeners.get(arn)
        if listener is None:
            raise _listener_not_found(arn)
        return listener

    def _group(self, arn: str) -> EndpointGroup:
        g = self.groups.get(arn)
        if g is None:
            raise _group_not_found(arn)
        return g

    def _touch_listener(self, listener_arn: str) -> None:
        listener = self.listeners.get(listener_arn)
        if listener is not None and listener.accelerator_arn in self.accelerators:
            self.accelerators[listener.accelerator_arn].touch()

    # -- accelerators --

    def create_accelerator(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            key = ("accelerator", p["IdempotencyToken"])
            known = self.tokens.get(key)
            if known in self.accelerators:
                return self.accelerators[known].describe()
            ip_type = p.get("IpAddressType") or "IPV4"
            self.ip_seq = self.ip_seq % 254 + 1
            n = self.ip_seq
            # Two static IPv4 addresses from two network zones (documentation ranges).
            ipv4 = list(p.get("IpAddresses") or []) or [f"192.0.2.{n}", f"198.51.100.{n}"]
            ipv6 = [f"2001:db8::{n:x}", f"2001:db8:1::{n:x}"] if ip_type == "DUAL_STACK" else []
            ident = str(uuid.uuid4())
            host = "a" + uuid.uuid4().hex[:16]
            now = _now()
            a = Accelerator(
                arn=f"arn:{self.partition}:globalaccelerator::{self.account_id}:accelerator/{ident}",
                name=p["Name"],
                ip_address_type=ip_type,
                enabled=p.get("Enabled", True),
                ipv4=ipv4,
                ipv6=ipv6,
                dns_name=f"{host}.awsglobalaccelerator.com",
                dual_stack_dns_name=f"{host}.dualstack.awsglobalaccelerator.com" if ipv6 else None,
                created=now,
                modified=now,
                tags={t["Key"]: t["Value"] for t in p.get("Tags") or []},
            )
            a.touch()
            self.accelerators[a.arn] = a
            self.tokens[key] = a.arn
            return a.describe()

    def describe_accelerator(self, arn: str) -> dict[str, Any]:
        with self.lock:
            return self._accelerator(arn).describe()

    def list_accelerators(self, p: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        with self.lock:
            page, token = _page(list(self.accelerators.values()), p)
            return [a.describe() for a in page], token

    def update_accelerator(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            a = self._accelerator(p["AcceleratorArn"])
            if p.get("Name") is not None:
                a.name = p["Name"]
            if p.get("Enabled") is not None:
                a.enabled = p["Enabled"]
            if p.get("IpAddressType") is not None and p["IpAddressType"] != a.ip_address_type:
                a.ip_address_type = p["IpAddressType"]
                n = self.ip_seq = self.ip_seq % 254 + 1
                dual = a.ip_address_type == "DUAL_STACK"
                a.ipv6 = [f"2001:db8::{n:x}", f"2001:db8:1::{n:x}"] if dual else []
                host = a.dns_name.split(".", 1)[0]
                a.dual_stack_dns_name = f"{host}.dualstack.awsglobalaccelerator.com" if dual else None
            a.touch()
            return a.describe()

    def delete_accelerator(self, arn: str) -> None:
        with self.lock:
            a = self._accelerator(arn)
            if a.enabled or a.status != DEPLOYED:
                raise _error(
                    "AcceleratorNotDisabledException",
                    "The accelerator must be disabled, and the change deployed, before it can be deleted",
                )
            if any(listener.accelerator_arn == arn for listener in self.listeners.values()):
                raise _error(
                    "AssociatedListenerFoundException",
                    "The accelerator has listeners; delete them before deleting the accelerator",
                )
            del self.accelerators[arn]

    # -- tags (accelerators) --

    def list_tags(self, arn: str) -> list[dict[str, str]]:
        with self.lock:
            return [{"Key": k, "Value": v} for k, v in self._accelerator(arn).tags.items()]

    def tag_resource(self, arn: str, tags: list[dict[str, str]]) -> None:
        with self.lock:
            a = self._accelerator(arn)
            for t in tags:
                a.tags[t["Key"]] = t["Value"]

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        with self.lock:
            a = self._accelerator(arn)
            for k in keys:
                a.tags.pop(k, None)

    # -- listeners --

    def _check_unique_ports(self, accelerator_arn: str, protocol: str, ranges: list[dict[str, int]], skip: str = "") -> None:
        # CreateListener errors: InvalidPortRangeException, "The port numbers that you
        # specified are not valid numbers or are not unique for this accelerator."
        for other in self.listeners.values():
            if other.accelerator_arn != accelerator_arn or other.arn == skip or other.protocol != protocol:
                continue
            for a in ranges:
                for b in other.port_ranges:
                    if a["FromPort"] <= b["ToPort"] and b["FromPort"] <= a["ToPort"]:
                        raise _error(
                            "InvalidPortRangeException",
                            f"Ports {a['FromPort']}-{a['ToPort']} overlap a listener of this accelerator",
                        )

    def create_listener(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            key = ("listener", p["IdempotencyToken"])
            known = self.tokens.get(key)
            if known in self.listeners:
                return self.listeners[known].describe()
            a = self._accelerator(p["AcceleratorArn"])
            ranges = _check_port_ranges(p["PortRanges"])
            self._check_unique_ports(a.arn, p["Protocol"], ranges)
            listener = Listener(
                arn=f"{a.arn}/listener/{uuid.uuid4().hex[:8]}",
                accelerator_arn=a.arn,
                port_ranges=ranges,
                protocol=p["Protocol"],
                client_affinity=p.get("ClientAffinity") or "NONE",
            )
            self.listeners[listener.arn] = listener
            self.tokens[key] = listener.arn
            a.touch()
            return listener.describe()

    def describe_listener(self, arn: str) -> dict[str, Any]:
        with self.lock:
            return self._listener(arn).describe()

    def list_listeners(self, p: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        with self.lock:
            a = self._accelerator(p["AcceleratorArn"])
            mine = [listener for listener in self.listeners.values() if listener.accelerator_arn == a.arn]
            page, token = _page(mine, p)
            return [listener.describe() for listener in page], token

    def update_listener(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            listener = self._listener(p["ListenerArn"])
            protocol = p.get("Protocol") or listener.protocol
            ranges = _check_port_ranges(p["PortRanges"]) if p.get("PortRanges") is not None else listener.port_ranges
            self._check_unique_ports(listener.accelerator_arn, protocol, ranges, skip=listener.arn)
            listener.protocol = protocol
            listener.port_ranges = ranges
            if p.get("ClientAffinity") is not None:
                listener.client_affinity = p["ClientAffinity"]
            self._touch_listener(listener.arn)
            return listener.describe()

    def delete_listener(self, arn: str) -> None:
        with self.lock:
            listener = self._listener(arn)
            if any(g.listener_arn == arn for g in self.groups.values()):
                raise _error(
                    "AssociatedEndpointGroupFoundException",
                    "The listener has endpoint groups; delete them before deleting the listener",
                )
            self._touch_listener(arn)
            del self.listeners[listener.arn]

    # -- endpoint groups --

    def create_endpoint_group(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            key = ("endpoint-group", p["IdempotencyToken"])
            known = self.tokens.get(key)
            if known in self.groups:
                return self.groups[known].describe()
            listener = self._listener(p["ListenerArn"])
            region = p["EndpointGroupRegion"]
            if not _REGION.match(region):
                raise _invalid(f"EndpointGroupRegion {region} is not a valid AWS Region")
            if any(g.listener_arn == listener.arn and g.region == region for g in self.groups.values()):
                raise _error(
                    "EndpointGroupAlreadyExistsException",
                    f"An endpoint group for {region} already exists on this listener",
                )
            _check_health_settings(p)
            protocol = p.get("HealthCheckProtocol") or "TCP"
            g = EndpointGroup(
                arn=f"{listener.arn}/endpoint-group/{uuid.uuid4().hex[:12]}",
                listener_arn=listener.arn,
                region=region,
                endpoints=_endpoints(p.get("EndpointConfigurations") or []),
                traffic_dial=float(100.0 if p.get("TrafficDialPercentage") is None else p["TrafficDialPercentage"]),
                # "The default port is the listener port that this endpoint group is
                # associated with. If listener port is a list of ports, Global Accelerator
                # uses the first port in the list."
                health_check_port=p.get("HealthCheckPort") or listener.port_ranges[0]["FromPort"],
                health_check_protocol=protocol,
                health_check_path=p.get("HealthCheckPath") or "/",
                health_check_interval=p.get("HealthCheckIntervalSeconds") or 30,
                threshold_count=p.get("ThresholdCount") or 3,
                port_overrides=[dict(o) for o in p.get("PortOverrides") or []],
            )
            self.groups[g.arn] = g
            self.tokens[key] = g.arn
            self._touch_listener(listener.arn)
            return g.describe()

    def describe_endpoint_group(self, arn: str) -> dict[str, Any]:
        with self.lock:
            return self._group(arn).describe()

    def list_endpoint_groups(self, p: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        with self.lock:
            listener = self._listener(p["ListenerArn"])
            mine = [g for g in self.groups.values() if g.listener_arn == listener.arn]
            page, token = _page(mine, p)
            return [g.describe() for g in page], token

    def update_endpoint_group(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            g = self._group(p["EndpointGroupArn"])
            _check_health_settings(p)
            if p.get("EndpointConfigurations") is not None:
                g.endpoints = _endpoints(p["EndpointConfigurations"])
            if p.get("TrafficDialPercentage") is not None:
                g.traffic_dial = float(p["TrafficDialPercentage"])
            if p.get("HealthCheckPort") is not None:
                g.health_check_port = p["HealthCheckPort"]
            if p.get("HealthCheckProtocol") is not None:
                g.health_check_protocol = p["HealthCheckProtocol"]
            if p.get("HealthCheckPath") is not None:
                g.health_check_path = p["HealthCheckPath"]
            if p.get("HealthCheckIntervalSeconds") is not None:
                g.health_check_interval = p["HealthCheckIntervalSeconds"]
            if p.get("ThresholdCount") is not None:
                g.threshold_count = p["ThresholdCount"]
            if p.get("PortOverrides") is not None:
                g.port_overrides = [dict(o) for o in p["PortOverrides"]]
            self._touch_listener(g.listener_arn)
            return g.describe()

    def delete_endpoint_group(self, arn: str) -> None:
        with self.lock:
            g = self._group(arn)
            self._touch_listener(g.listener_arn)
            del self.groups[arn]

    def add_endpoints(self, p: dict[str, Any]) -> dict[str, Any]:
        # AddEndpoints: adds endpoints to a group without replacing the existing ones; an
        # endpoint already in the group takes the new settings.
        with self.lock:
            g = self._group(p["EndpointGroupArn"])
            by_id = {e["EndpointId"]: e for e in g.endpoints}
            added = []
            for c in p["EndpointConfigurations"]:
                e = _endpoint(c, by_id.get(c.get("EndpointId") or ""))
                by_id[e["EndpointId"]] = e
                added.append(e["EndpointId"])
            if len(by_id) > MAX_ENDPOINTS:
                raise _error("LimitExceededException", f"An endpoint group can have at most {MAX_ENDPOINTS} endpoints")
            g.endpoints = list(by_id.values())
            self._touch_listener(g.listener_arn)
            shown = {d["EndpointId"]: d for d in g.describe()["EndpointDescriptions"]}
            return {"EndpointDescriptions": [shown[i] for i in added], "EndpointGroupArn": g.arn}

    def remove_endpoints(self, p: dict[str, Any]) -> None:
        with self.lock:
            g = self._group(p["EndpointGroupArn"])
            gone = {i["EndpointId"] for i in p["EndpointIdentifiers"]}
            g.endpoints = [e for e in g.endpoints if e["EndpointId"] not in gone]
            self._touch_listener(g.listener_arn)


globalaccelerator_backends = BackendDict(
    GlobalAcceleratorBackend, SERVICE, use_boto3_regions=False, additional_regions=PARTITION_NAMES
)


# --- responses ---------------------------------------------------------------------------


class GlobalAcceleratorResponse(BaseResponse):
    """awsJson1_1 handler: one method per operation (X-Amz-Target's operation name)."""

    def __init__(self) -> None:
        super().__init__(service_name=SERVICE)

    @property
    def backend(self) -> GlobalAcceleratorBackend:
        return globalaccelerator_backends[self.current_account][self.partition]

    def _params(self) -> dict[str, Any]:
        try:
            params = json.loads(self.body or "{}")
        except ValueError:
            raise _error("SerializationException", "The request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise _error("SerializationException", "The request body is not a JSON object")
        validate(self._get_action(), params)
        return params

    def _listed(self, key: str, lister: Callable[[dict[str, Any]], tuple[list[dict[str, Any]], str | None]]) -> ActionResult:
        items, token = lister(self._params())
        out: dict[str, Any] = {key: items}
        if token:
            out["NextToken"] = token
        return ActionResult(out)

    def create_accelerator(self) -> ActionResult:
        return ActionResult({"Accelerator": self.backend.create_accelerator(self._params())})

    def describe_accelerator(self) -> ActionResult:
        return ActionResult({"Accelerator": self.backend.describe_accelerator(self._params()["AcceleratorArn"])})

    def list_accelerators(self) -> ActionResult:
        return self._listed("Accelerators", self.backend.list_accelerators)

    def update_accelerator(self) -> ActionResult:
        return ActionResult({"Accelerator": self.backend.update_accelerator(self._params())})

    def delete_accelerator(self) -> ActionResult:
        self.backend.delete_accelerator(self._params()["AcceleratorArn"])
        return EmptyResult()

    def list_tags_for_resource(self) -> ActionResult:
        return ActionResult({"Tags": self.backend.list_tags(self._params()["ResourceArn"])})

    def tag_resource(self) -> ActionResult:
        p = self._params()
        self.backend.tag_resource(p["ResourceArn"], p["Tags"])
        return EmptyResult()

    def untag_resource(self) -> ActionResult:
        p = self._params()
        self.backend.untag_resource(p["ResourceArn"], p["TagKeys"])
        return EmptyResult()

    def create_listener(self) -> ActionResult:
        return ActionResult({"Listener": self.backend.create_listener(self._params())})

    def describe_listener(self) -> ActionResult:
        return ActionResult({"Listener": self.backend.describe_listener(self._params()["ListenerArn"])})

    def list_listeners(self) -> ActionResult:
        return self._listed("Listeners", self.backend.list_listeners)

    def update_listener(self) -> ActionResult:
        return ActionResult({"Listener": self.backend.update_listener(self._params())})

    def delete_listener(self) -> ActionResult:
        self.backend.delete_listener(self._params()["ListenerArn"])
        return EmptyResult()

    def create_endpoint_group(self) -> ActionResult:
        return ActionResult({"EndpointGroup": self.backend.create_endpoint_group(self._params())})

    def describe_endpoint_group(self) -> ActionResult:
        return ActionResult({"EndpointGroup": self.backend.describe_endpoint_group(self._params()["EndpointGroupArn"])})

    def list_endpoint_groups(self) -> ActionResult:
        return self._listed("EndpointGroups", self.backend.list_endpoint_groups)

    def update_endpoint_group(self) -> ActionResult:
        return ActionResult({"EndpointGroup": self.backend.update_endpoint_group(self._params())})

    def delete_endpoint_group(self) -> ActionResult:
        self.backend.delete_endpoint_group(self._params()["EndpointGroupArn"])
        return EmptyResult()

    def add_endpoints(self) -> ActionResult:
        return ActionResult(self.backend.add_endpoints(self._params()))

    def remove_endpoints(self) -> ActionResult:
        self.backend.remove_endpoints(self._params())
        return EmptyResult()


# The backend's URL module (BaseBackend reads `url_bases` and `url_paths` from it).
url_bases = [r"https?://globalaccelerator\.(.+)\.amazonaws\.com"]
url_paths = {"{0}/$": GlobalAcceleratorResponse.dispatch}


def apply() -> None:
    """Registers the backend with moto's server (see the module docstring)."""
    import moto.backend_index as backend_index

    sys.modules.setdefault(f"moto.{SERVICE}", sys.modules[__name__])
    if not any(name == SERVICE for name, _ in backend_index.backend_url_patterns):
        backend_index.backend_url_patterns.append((SERVICE, re.compile(url_bases[0])))
