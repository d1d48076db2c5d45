"""Elastic Load Balancing v2 fidelity fixes: the create calls are idempotent, as on AWS.

AWS, Elastic Load Balancing API reference (version 2015-12-01):
- CreateLoadBalancer: "This operation is idempotent, which means that it completes at most
  one time. If you attempt to create multiple load balancers with the same settings, each
  call succeeds." A name in use with other settings is DuplicateLoadBalancerName (400; AWS's
  message: "A load balancer with the same name '...' exists, but with different settings").
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
- CreateTargetGroup: "If you attempt to create multiple target groups with the same
  settings, each call succeeds." Other settings: DuplicateTargetGroupName (400; "A target
  group with the same name '...' exists, but with different settings").
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html
- CreateListener: "If you attempt to create multiple listeners with the same settings, each
  call succeeds." A port in use on the load balancer with other settings is
  DuplicateListener (400, "A listener with the specified port already exists.").
  https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html

moto 5.2.5 creates a second load balancer with the same name, refuses any second target
group of the same name (DuplicateTargetGroupName even with the same settings), and creates a
second listener on a port already in use (its check compares the port with the listeners'
ARNs, so it never fires): a create retried after a lost answer (SDK retry, resumed run) left
two resources, or failed, where AWS answers the first one.

"Settings" are compared with the resource as it is now (a modification since the first
call counts), after defaults: the candidate is built by moto's own create code on a scratch
view of the backend that stores nothing, so a setting left out is its default in both.
Tags are not settings: AWS documents no comparison of them (unlike the Classic ELB API,
whose error names "different tags"), and the answer is the existing resource with its tags.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.elbv2.exceptions import DuplicateListenerError, ELBClientError
from moto.elbv2.models import ELBv2Backend, FakeAction, FakeListener, FakeLoadBalancer, FakeTargetGroup


class DuplicateLoadBalancerName(ELBClientError):
    """botocore elbv2 model: `DuplicateLoadBalancerNameException`, code DuplicateLoadBalancerName, 400."""

    code = "DuplicateLoadBalancerName"

    def __init__(self, name: str) -> None:
        super().__init__(f"A load balancer with the same name '{name}' exists, but with different settings")


class DuplicateTargetGroupName(ELBClientError):
    """botocore elbv2 model: `DuplicateTargetGroupNameException`, code DuplicateTargetGroupName, 400."""

    code = "DuplicateTargetGroupName"

    def __init__(self, name: str) -> None:
        super().__init__(f"A target group with the same name '{name}' exists, but with different settings")


class _Scratch:
    """The backend as moto's create code sees it, minus its stores: nothing built is kept.

    Reads (ec2_backend, account_id, region_name, ...) go to the real backend; the
    collections a create checks or fills are empty and private; tagging does nothing.
    """

    def __init__(self, backend: ELBv2Backend) -> None:
        self._backend = backend
        self.load_balancers: dict[str, Any] = {}
        self.target_groups: dict[str, Any] = {}
        self.tagging_service = _NoTags()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def add_tags(self, resource_arns: list[str], tags: list[dict[str, str]]) -> None:
        return None


class _NoTags:
    def tag_resource(self, arn: str, tags: Any) -> None:
        return None


def _text(value: Any) -> Any:
    """A scalar as text (moto keeps some numbers as given: 3 and "3" are one setting)."""
    if value is None or isinstance(value, (dict, list, tuple, frozenset)):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _lb_settings(lb: FakeLoadBalancer) -> dict[str, Any]:
    return {
        "type": lb.type or "application",
        # CreateLoadBalancer's Scheme defaults to internet-facing (moto stores None).
        "scheme": lb.scheme or "internet-facing",
        "ip_address_type": lb.ip_address_type or "ipv4",
        "vpc_id": lb.vpc_id,
        "subnets": frozenset(s.id for s in lb.subnets),
        # SubnetMappings' Elastic IPs and private addresses (NLB), kept by the patch.
        "subnet_mappings": getattr(lb, "_emulator_subnet_mappings", frozenset()),
        "security_groups": frozenset(lb.security_groups or []),
    }


def _subnet_mappings(mappings: list[dict[str, str]] | None) -> frozenset:
    """The part of SubnetMappings moto does not keep: addresses given per subnet."""
    kept = set()
    for m in mappings or []:
        extra = tuple(sorted((k, str(v)) for k, v in m.items() if k != "SubnetId" and v not in (None, "")))
        if extra:
            kept.add((m.get("SubnetId"), extra))
    return frozenset(kept)


_TG_FIELDS = (
    "protocol",
    "protocol_version",
    "port",
    "vpc_id",
    "target_type",
    "ip_address_type",
    "health_check_enabled",
    "health_check_protocol",
    "health_check_port",
    "health_check_path",
    "health_check_interval_seconds",
    "health_check_timeout_seconds",
    "healthy_threshold_count",
    "unhealthy_threshold_count",
)


def _tg_settings(tg: FakeTargetGroup) -> dict[str, Any]:
    settings = {f: _text(getattr(tg, f, None)) for f in _TG_FIELDS}
    matcher = getattr(tg, "matcher", None) or {}
    settings["matcher"] = {k: _text(v) for k, v in matcher.items() if v is not None}
    return settings


def _actions(actions: list[Any]) -> list[dict[str, Any]]:
    """Default actions as moto keeps them (FakeAction fills ForwardConfig defaults)."""
    out = []
    for a in actions:
        data = a.data if isinstance(a, FakeAction) else FakeAction(copy.deepcopy(a)).data
        out.append(_plain(data))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return _text(value)


def _listener_settings(
    protocol: str | None,
    ssl_policy: str | None,
    certificate: str | None,
    actions: list[Any],
    alpn_policy: list[str] | None,
) -> dict[str, Any]:
    return {
        "protocol": (protocol or "").upper(),
        "ssl_policy": ssl_policy,
        "certificate": certificate,
        "default_actions": _actions(actions),
        "alpn_policy": list(alpn_policy or []),
    }


def apply() -> None:
    original_create_lb = ELBv2Backend.create_load_balancer
    original_create_tg = ELBv2Backend.create_target_group
    original_create_listener = ELBv2Backend.create_listener

    def create_load_balancer(
        self: ELBv2Backend,
        name: str,
        security_groups: list[str],
        subnet_ids: list[str],
        subnet_mappings: list[dict[str, str]] | None = None,
        scheme: str = "internet-facing",
        loadbalancer_type: str | None = None,
        ip_address_type: str = "ipv4",
        tags: list[dict[str, str]] | None = None,
    ) -> FakeLoadBalancer:
        # AWS CreateLoadBalancer is idempotent on the name (module docstring): the same
        # settings return the load balancer, others are DuplicateLoadBalancerName.
        args = (name, security_groups, subnet_ids, subnet_mappings, scheme, loadbalancer_type, ip_address_type)
        existing = next((lb for lb in self.load_balancers.values() if lb.name == name), None)
        if existing is not None:
            candidate = original_create_lb(_Scratch(self), *args, tags=None)  # type: ignore[arg-type]
            candidate._emulator_subnet_mappings = _subnet_mappings(subnet_mappings)  # type: ignore[attr-defined]
            if _lb_settings(candidate) == _lb_settings(existing):
                return existing
            raise DuplicateLoadBalancerName(name)
        lb = original_create_lb(self, *args, tags=tags)
        lb._emulator_subnet_mappings = _subnet_mappings(subnet_mappings)  # type: ignore[attr-defined]
        return lb

    def create_target_group(self: ELBv2Backend, name: str, **kwargs: Any) -> FakeTargetGroup:
        # AWS CreateTargetGroup is idempotent on the name (module docstring); moto refuses
        # every second call.
        existing = next((tg for tg in self.target_groups.values() if tg.name == name), None)
        if existing is not None:
            wanted = {k: v for k, v in kwargs.items() if k != "tags"}
            candidate = original_create_tg(_Scratch(self), name, **wanted)  # type: ignore[arg-type]
            if _tg_settings(candidate) == _tg_settings(existing):
                return existing
            raise DuplicateTargetGroupName(name)
        return original_create_tg(self, name, **kwargs)

    def create_listener(
        self: ELBv2Backend,
        load_balancer_arn: str,
        protocol: str,
        port: str,
        ssl_policy: str,
        certificate: str | None,
        actions: list[dict[str, Any]],
        alpn_policy: list[str] | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> FakeListener:
        # AWS CreateListener is idempotent on (load balancer, port) (module docstring): the
        # same settings return the listener, others are DuplicateListener.
        balancer = self.load_balancers.get(load_balancer_arn)
        if balancer is not None and port is not None:
            on_port = [ls for ls in balancer.listeners.values() if str(ls.port) == str(port)]
            if on_port:
                existing = on_port[0]
                have = _listener_settings(
                    existing.protocol,
                    existing.ssl_policy,
                    existing.certificate,
                    existing.default_actions,
                    existing.alpn_policy,
                )
                want = _listener_settings(protocol, ssl_policy, certificate, actions, alpn_policy)
                if have == want:
                    return existing
                raise DuplicateListenerError()
        return original_create_listener(
            self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions, alpn_policy, tags
        )

    ELBv2Backend.create_load_balancer = create_load_balancer  # type: ignore[method-assign]
    ELBv2Backend.create_target_group = create_target_group  # type: ignore[method-assign]
    ELBv2Backend.create_listener = create_listener  # type: ignore[method-assign]
