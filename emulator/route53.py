"""Route 53: fidelity fixes, and the data plane of health checks.

moto 5.2.5 stores health checks but never evaluates them (GetHealthCheckStatus answers one
fixed "Success" observation). Here a check is evaluated as Route 53 does, against the
emulator's world: an endpoint check (HTTP, HTTPS, HTTP_STR_MATCH, HTTPS_STR_MATCH, TCP) fails
while the region of its endpoint is cut off (emulator.outage); a CLOUDWATCH_METRIC check
follows its alarm in moto's CloudWatch; a CALCULATED check counts its healthy children.
`is_healthy(health_check_id)` is the status other modules ask (EventBridge, failover
routing); GetHealthCheckStatus answers per-checker observations consistent with it; and the
`AWS/Route53` `HealthCheckStatus` metric is published into us-east-1 CloudWatch.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from moto.core.utils import utcnow
from moto.route53.exceptions import InvalidInput, Route53ClientError
from moto.route53.models import HealthCheck, Route53Backend, route53_backends

from . import outage


class HealthCheckAlreadyExists(Route53ClientError):
    """botocore route53 model: `HealthCheckAlreadyExists`, HTTP 409."""

    def __init__(self, caller_reference: str) -> None:
        super().__init__(
            "HealthCheckAlreadyExists",
            f"A health check with caller reference {caller_reference} already exists "
            "with different settings, or was deleted.",
        )


class HealthCheckVersionMismatch(Route53ClientError):
    """botocore route53 model: `HealthCheckVersionMismatch`, HTTP 409."""

    def __init__(self) -> None:
        super().__init__(
            "HealthCheckVersionMismatch",
            "The value of HealthCheckVersion in the request doesn't match the value of "
            "HealthCheckVersion in the health check.",
        )


def _normalized(args: dict[str, Any]) -> dict[str, Any]:
    """The settings of a CreateHealthCheck request, absent values dropped."""
    return {k: v for k, v in args.items() if v not in (None, [], {})}


_applied = False
_apply_lock = threading.Lock()


def apply() -> None:
    global _applied
    with _apply_lock:
        if _applied:
            return
        _apply_caller_reference()
        _apply_health_checks()
        _applied = True


def _apply_caller_reference() -> None:
    original_create = Route53Backend.create_health_check
    original_delete = Route53Backend.delete_health_check

    def create_health_check(
        self: Route53Backend, caller_reference: str, health_check_args: dict[str, Any]
    ) -> HealthCheck:
        # AWS CreateHealthCheck (API reference, CallerReference; botocore model of
        # HealthCheckAlreadyExists): the same CallerReference and settings as an existing
        # check returns that check; the same CallerReference with different settings, or the
        # reference of a deleted check whatever the settings, is HealthCheckAlreadyExists
        # (409). moto 5.2.5 creates a new check on every call.
        # https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHealthCheck.html
        if caller_reference:
            if caller_reference in _deleted_references(self):
                raise HealthCheckAlreadyExists(caller_reference)
            wanted = _normalized(health_check_args)
            for check in self.health_checks.values():
                if check.caller_reference == caller_reference:
                    if getattr(check, "_emulator_request", None) == wanted:
                        return check
                    raise HealthCheckAlreadyExists(caller_reference)
        check = original_create(self, caller_reference, health_check_args)
        check._emulator_request = _normalized(health_check_args)  # type: ignore[attr-defined]
        return check

    def delete_health_check(self: Route53Backend, health_check_id: str) -> None:
        check = self.health_checks.get(health_check_id)
        if check is not None and check.caller_reference:
            _deleted_references(self).add(check.caller_reference)
        original_delete(self, health_check_id)

    Route53Backend.create_health_check = create_health_check  # type: ignore[method-assign]
    Route53Backend.delete_health_check = delete_health_check  # type: ignore[method-assign]


def _deleted_references(backend: Route53Backend) -> set[str]:
    refs = getattr(backend, "_emulator_deleted_refs", None)
    if refs is None:
        refs = set()
        backend._emulator_deleted_refs = refs  # type: ignore[attr-defined]
    return refs


# ---------------------------------------------------------------------------------------------
# Health checks' data plane.
# How Route 53 determines health:
#   https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html
# GetHealthCheckStatus:
#   https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHealthCheckStatus.html
# The HealthCheckStatus metric (AWS/Route53, HealthCheckId, us-east-1, 1 healthy / 0 not):
#   https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html

ENDPOINT_TYPES = frozenset({"HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"})

# Route 53 health checker regions (botocore `HealthCheckRegion`) and, per region, an address
# of the ROUTE53_HEALTHCHECKS ranges AWS publishes in ip-ranges.json.
CHECKER_IPS: dict[str, str] = {
    "us-east-1": "54.243.31.202",
    "us-west-1": "54.183.255.138",
    "us-west-2": "54.244.52.202",
    "eu-west-1": "176.34.159.202",
    "ap-southeast-1": "54.251.31.138",
    "ap-southeast-2": "54.252.79.138",
    "ap-northeast-1": "54.248.220.10",
    "sa-east-1": "177.71.207.138",
}

STATUS_HTTP_OK = "Success: HTTP Status Code 200, OK"
STATUS_TCP_OK = "Success: TCP connection established"
STATUS_TIMEOUT = (
    "Failure: Connection timed out. The endpoint or the internet connection is down, or requests "
    "are being blocked by your firewall. See https://docs.aws.amazon.com/console/route53/connection-timeout"
)

METRIC_NAMESPACE = "AWS/Route53"
METRIC_REGION = "us-east-1"

_state_lock = threading.Lock()
# CLOUDWATCH_METRIC checks: the status from the alarm's last OK/ALARM state (LastKnownStatus).
_last_known: dict[str, bool] = {}
_wake = threading.Event()
_ticker: threading.Thread | None = None


def _apply_health_checks() -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.route53.responses import Route53

    # CreateHealthCheck/UpdateHealthCheck: moto drops AlarmIdentifier and
    # InsufficientDataHealthStatus (HealthCheckConfig, botocore model); keep them, and answer
    # them in GetHealthCheck/ListHealthChecks with the CloudWatchAlarmConfiguration of the alarm.
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
    original_init = HealthCheck.__init__

    def init(self: HealthCheck, health_check_id: str, caller_reference: str, args: dict[str, Any]) -> None:
        original_init(self, health_check_id, caller_reference, args)
        self.alarm_identifier = args.get("alarm_identifier") or None  # type: ignore[attr-defined]
        self.insufficient_data_health_status = args.get("insufficient_data_health_status") or None  # type: ignore[attr-defined]

    original_config = HealthCheck.health_check_config.fget  # type: ignore[attr-defined]

    def health_check_config(self: HealthCheck) -> dict[str, Any]:
        config = original_config(self)
        alarm = getattr(self, "alarm_identifier", None)
        if alarm:
            config["AlarmIdentifier"] = {"Region": alarm.get("Region"), "Name": alarm.get("Name")}
        status = getattr(self, "insufficient_data_health_status", None)
        if status:
            config["InsufficientDataHealthStatus"] = status
        return config

    def cloud_watch_alarm_configuration(self: HealthCheck) -> dict[str, Any] | None:
        if not getattr(self, "alarm_identifier", None):
            return None
        found = _alarm_of(_account_of(self), self)
        if found is None:
            return None
        return {
            "EvaluationPeriods": found.evaluation_periods,
            "Threshold": found.threshold,
            "ComparisonOperator": found.comparison_operator,
            "Period": found.period,
            "MetricName": found.metric_name,
            "Namespace": found.namespace,
            "Statistic": found.statistic,
            "Dimensions": [{"Name": d.name, "Value": d.value} for d in found.dimensions],
        }

    HealthCheck.__init__ = init  # type: ignore[method-assign]
    HealthCheck.health_check_config = property(health_check_config)  # type: ignore[method-assign,assignment]
    HealthCheck.cloud_watch_alarm_configuration = property(cloud_watch_alarm_configuration)  # type: ignore[attr-defined]

    original_create_response = Route53.create_health_check
    original_update_response = Route53.update_health_check

    def create_health_check_response(self: Route53) -> Any:
        config = self._get_param("HealthCheckConfig") or {}
        _pending_extra.value = _extra_args(config)
        try:
            return original_create_response(self)
        finally:
            _pending_extra.value = None

    def update_health_check_response(self: Route53) -> Any:
        # UpdateHealthCheck (API reference): elements not in the request keep their values
        # (moto 5.2.5 emptied ChildHealthChecks and Regions whenever they were absent);
        # ResetElements resets FullyQualifiedDomainName, ResourcePath, ChildHealthChecks to null
        # and Regions to the default set; every update increments HealthCheckVersion, and a
        # request's HealthCheckVersion lower than the check's is HealthCheckVersionMismatch (409).
        # https://docs.aws.amazon.com/Route53/latest/APIReference/API_UpdateHealthCheck.html
        check = self.backend.get_health_check(self._get_param("HealthCheckId"))
        version = self._get_param("HealthCheckVersion")
        if version is not None and int(version) != check.health_check_version:
            raise HealthCheckVersionMismatch()
        extra = _extra_args(
            {
                "AlarmIdentifier": self._get_param("AlarmIdentifier"),
                "InsufficientDataHealthStatus": self._get_param("InsufficientDataHealthStatus"),
            }
        )
        extra["_given"] = {
            name for name in ("ChildHealthChecks", "Regions") if self._get_param(name) is not None
        }
        extra["_reset"] = set(self._get_param("ResetElements") or [])
        _pending_extra.value = extra
        try:
            return original_update_response(self)
        finally:
            _pending_extra.value = None

    original_backend_create = Route53Backend.create_health_check
    original_backend_update = Route53Backend.update_health_check
    original_backend_delete = Route53Backend.delete_health_check

    def backend_create(self: Route53Backend, caller_reference: str, args: dict[str, Any]) -> HealthCheck:
        extra = getattr(_pending_extra, "value", None)
        if extra:
            args = {**args, **extra}
        check = original_backend_create(self, caller_reference, args)
        _wake.set()
        return check

    def backend_update(self: Route53Backend, health_check_id: str, args: dict[str, Any]) -> HealthCheck:
        extra = getattr(_pending_extra, "value", None) or {}
        before = self.health_checks.get(health_check_id)
        kept = (before.children, before.regions) if before is not None else (None, None)
        check = original_backend_update(self, health_check_id, args)
        if extra:  # an UpdateHealthCheck request (not an in-process call)
            given, reset = extra.get("_given", set()), extra.get("_reset", set())
            check.children = None if "ChildHealthChecks" in reset else (check.children if "ChildHealthChecks" in given else kept[0])
            check.regions = None if "Regions" in reset else (check.regions if "Regions" in given else kept[1])
            if "FullyQualifiedDomainName" in reset:
                check.fqdn = None
            if "ResourcePath" in reset:
                check.resource_path = None
            check.health_check_version += 1
        if extra.get("alarm_identifier"):
            check.alarm_identifier = extra["alarm_identifier"]  # type: ignore[attr-defined]
        if extra.get("insufficient_data_health_status"):
            check.insufficient_data_health_status = extra["insufficient_data_health_status"]  # type: ignore[attr-defined]
        _wake.set()
        return check

    def backend_delete(self: Route53Backend, health_check_id: str) -> None:
        original_backend_delete(self, health_check_id)
        with _state_lock:
            _last_known.pop(health_check_id, None)

    Route53.create_health_check = create_health_check_response  # type: ignore[method-assign]
    Route53.update_health_check = update_health_check_response  # type: ignore[method-assign]
    Route53Backend.create_health_check = backend_create  # type: ignore[method-assign]
    Route53Backend.update_health_check = backend_update  # type: ignore[method-assign]
    Route53Backend.delete_health_check = backend_delete  # type: ignore[method-assign]

    def get_health_check_status(self: Route53) -> Any:
        # GetHealthCheckStatus: one observation per health checker region (the check's Regions,
        # else all eight), the checker's address and its last StatusReport. A calculated check
        # has no checkers: "You can't use GetHealthCheckStatus to get the status of a
        # calculated health check" (API reference, HealthCheckId) -> InvalidInput.
        from moto.core.responses import ActionResult

        check = self.backend.get_health_check(self._get_param("HealthCheckId"))
        return ActionResult({"HealthCheckObservations": observations(self.current_account, check)})

    Route53.get_health_check_status = get_health_check_status  # type: ignore[method-assign]

    # Start the HealthCheckStatus publisher with the server's application (server process only:
    # importing or applying the extension in a test process starts no thread).
    original_app_init = DomainDispatcherApplication.__init__

    def app_init(self: DomainDispatcherApplication, *args: Any, **kwargs: Any) -> None:
        original_app_init(self, *args, **kwargs)
        start_ticker()

    DomainDispatcherApplication.__init__ = app_init  # type: ignore[method-assign]
    outage.subscribe(_wake.set)


_pending_extra = threading.local()


def _extra_args(config: dict[str, Any]) -> dict[str, Any]:
    """The HealthCheckConfig members moto drops, as health_check_args keys."""
    extra: dict[str, Any] = {}
    alarm = config.get("AlarmIdentifier")
    if isinstance(alarm, dict) and alarm.get("Name"):
        extra["alarm_identifier"] = {"Region": alarm.get("Region"), "Name": alarm.get("Name")}
    status = config.get("InsufficientDataHealthStatus")
    if status:
        extra["insufficient_data_health_status"] = status
    return extra


def _checks() -> list[tuple[str, HealthCheck]]:
    """Every health check of every account, with its account id."""
    found: list[tuple[str, HealthCheck]] = []
    for account_id, per_partition in list(route53_backends.items()):
        for backend in list(per_partition.values()):
            found.extend((account_id, check) for check in list(backend.health_checks.values()))
    return found


def _find(health_check_id: str) -> tuple[str, HealthCheck] | None:
    for account_id, per_partition in list(route53_backends.items()):
        for backend in list(per_partition.values()):
            check = backend.health_checks.get(health_check_id)
            if check is not None:
                return account_id, check
    return None


def _account_of(check: HealthCheck) -> str:
    found = _find(check.id)
    return found[0] if found else "123456789012"


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _endpoint_region(check: HealthCheck) -> str | None:
    return outage.region_of_host(check.fqdn) if check.fqdn else None


def _endpoint_reachable(check: HealthCheck) -> bool:
    """What the health checkers see of an endpoint: it answers unless its region is cut off
    (an IP address, or a name without a region, is always reachable)."""
    region = _endpoint_region(check)
    return region is None or not outage.is_cut(region)


def _alarm_of(account_id: str, check: HealthCheck) -> Any:
    alarm = getattr(check, "alarm_identifier", None)
    if not alarm or not alarm.get("Name") or not alarm.get("Region"):
        return None
    from moto.cloudwatch.models import cloudwatch_backends

    try:
        backend = cloudwatch_backends[account_id][alarm["Region"]]
    except KeyError:
        return None
    return backend.alarms.get(alarm["Name"])


def _alarm_state(account_id: str, check: HealthCheck) -> str:
    """OK, ALARM or INSUFFICIENT_DATA. Route 53 reads the alarm in its region: with the region
    cut off, or the alarm gone, it has no data."""
    region = (getattr(check, "alarm_identifier", None) or {}).get("Region")
    if region and outage.is_cut(region):
        return "INSUFFICIENT_DATA"
    found = _alarm_of(account_id, check)
    return found.state_value if found is not None else "INSUFFICIENT_DATA"


def _metric_check_healthy(account_id: str, check: HealthCheck) -> bool:
    # CLOUDWATCH_METRIC: ALARM is unhealthy, OK healthy; INSUFFICIENT_DATA is what
    # InsufficientDataHealthStatus says: Healthy, Unhealthy, or LastKnownStatus (the default;
    # a check without a known status yet is healthy).
    # https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
    state = _alarm_state(account_id, check)
    with _state_lock:
        if state in ("OK", "ALARM"):
            _last_known[check.id] = state == "OK"
            return state == "OK"
        policy = getattr(check, "insufficient_data_health_status", None) or "LastKnownStatus"
        if policy == "Healthy":
            return True
        if policy == "Unhealthy":
            return False
        return _last_known.get(check.id, True)


def _healthy_children(account_id: str, check: HealthCheck, visiting: frozenset[str]) -> int:
    count = 0
    for child_id in check.children or []:
        if child_id in visiting:
            continue  # a cycle: the child is not counted as healthy
        child = _find(child_id)
        if child is not None and _evaluate(child[0], child[1], visiting):
            count += 1
    return count


def _evaluate(account_id: str, check: HealthCheck, visiting: frozenset[str] = frozenset()) -> bool:
    visiting = visiting | {check.id}
    kind = (check.type_ or "").upper()
    if _flag(check.disabled):
        # "After you disable a health check, Route 53 considers the status of the health check to
        # always be healthy ... If you want to stop routing traffic to a resource, change the
        # value of Inverted." (UpdateHealthCheck, Disabled): Inverted still applies.
        healthy = True
    elif kind in ENDPOINT_TYPES:
        healthy = _endpoint_reachable(check)
    elif kind == "CALCULATED":
        # Healthy when at least HealthThreshold of the ChildHealthChecks are healthy
        # (0: always healthy).
        threshold = int(check.health_threshold or 0)
        healthy = _healthy_children(account_id, check, visiting) >= threshold
    elif kind == "CLOUDWATCH_METRIC":
        healthy = _metric_check_healthy(account_id, check)
    else:  # RECOVERY_CONTROL: routing controls are not modelled; on.
        healthy = True
    return healthy != _flag(check.inverted)


def is_healthy(health_check_id: str) -> bool:
    """Whether Route 53 currently sees the health check `health_check_id` as healthy (what
    failover routing and the HealthCheckStatus metric follow). An unknown id is healthy."""
    found = _find(health_check_id)
    if found is None:
        return True
    return _evaluate(found[0], found[1])


def observations(account_id: str, check: HealthCheck) -> list[dict[str, Any]]:
    """GetHealthCheckStatus's HealthCheckObservations: what each health checker reports of the
    endpoint (the raw result: Inverted applies to the check's status, not to the reports)."""
    kind = (check.type_ or "").upper()
    if kind == "CALCULATED":
        raise InvalidInput(
            "You can't use GetHealthCheckStatus to get the status of a calculated health check; "
            "use the Route 53 console or CloudWatch."
        )
    if kind in ENDPOINT_TYPES:
        ok = STATUS_TCP_OK if kind == "TCP" else STATUS_HTTP_OK
        status = ok if _endpoint_reachable(check) else STATUS_TIMEOUT
    elif kind == "CLOUDWATCH_METRIC":
        name = (getattr(check, "alarm_identifier", None) or {}).get("Name")
        state = _alarm_state(account_id, check)
        healthy = _metric_check_healthy(account_id, check)
        status = f"{'Success' if healthy else 'Failure'}: CloudWatch alarm {name} is in state {state}"
    else:
        status = "Success"
    now = utcnow()
    regions = [r for r in (check.regions or []) if r in CHECKER_IPS] or list(CHECKER_IPS)
    return [
        {"Region": region, "IPAddress": CHECKER_IPS[region], "StatusReport": {"Status": status, "CheckedTime": now}}
        for region in regions
    ]


def _tick_seconds() -> float:
    try:
        return max(0.1, float(os.environ.get("EMULATOR_HEALTH_TICK_SECONDS", "10")))
    except ValueError:
        return 10.0


def publish_metrics() -> None:
    """Puts the current HealthCheckStatus (and HealthCheckPercentageHealthy for endpoint
    checks, ChildHealthCheckHealthyCount for calculated ones) of every health check into the
    us-east-1 CloudWatch of its account, as Route 53 does every minute."""
    from moto.cloudwatch.models import cloudwatch_backends

    now = utcnow().replace(microsecond=0)
    by_account: dict[str, list[dict[str, Any]]] = {}
    for account_id, check in _checks():
        dimensions = [{"Name": "HealthCheckId", "Value": check.id}]
        healthy = _evaluate(account_id, check)
        data = by_account.setdefault(account_id, [])
        data.append(
            {
                "MetricName": "HealthCheckStatus",
                "Dimensions": dimensions,
                "Value": 1.0 if healthy else 0.0,
                "Timestamp": now,
                "Unit": "None",
            }
        )
        kind = (check.type_ or "").upper()
        if _flag(check.disabled):
            continue  # "When a health check is disabled, this metric is not available."
        if kind in ENDPOINT_TYPES:
            data.append(
                {
                    "MetricName": "HealthCheckPercentageHealthy",
                    "Dimensions": dimensions,
                    "Value": 100.0 if _endpoint_reachable(check) else 0.0,
                    "Timestamp": now,
                    "Unit": "Percent",
                }
            )
        elif kind == "CALCULATED":
            data.append(
                {
                    "MetricName": "ChildHealthCheckHealthyCount",
                    "Dimensions": dimensions,
                    "Value": float(_healthy_children(account_id, check, frozenset({check.id}))),
                    "Timestamp": now,
                    "Unit": "Count",
                }
            )
    for account_id, data in by_account.items():
        cloudwatch_backends[account_id][METRIC_REGION].put_metric_data(METRIC_NAMESPACE, data)


def _retention_seconds() -> float:
    try:
        return float(os.environ.get("EMULATOR_HEALTH_METRIC_RETENTION_SECONDS", "10800"))
    except ValueError:
        return 10800.0


def prune_metrics() -> None:
    """Drops the AWS/Route53 datapoints older than EMULATOR_HEALTH_METRIC_RETENTION_SECONDS
    (default 3 hours) from the us-east-1 CloudWatch of every account, so that a long-running
    emulator does not accumulate them. Datapoints put meanwhile by requests are kept: only the
    first n items, read before, are replaced, in one step."""
    from datetime import timedelta

    from moto.cloudwatch.models import cloudwatch_backends

    oldest = utcnow() - timedelta(seconds=_retention_seconds())
    for per_region in list(cloudwatch_backends.values()):
        backend = per_region.get(METRIC_REGION) if isinstance(per_region, dict) else None
        if backend is None:
            continue
        data = backend.metric_data
        n = len(data)
        kept = [d for d in data[:n] if d.namespace != METRIC_NAMESPACE or d.timestamp >= oldest]
        if len(kept) != n:
            data[:n] = kept


def _run_ticker() -> None:
    last_prune = 0.0
    while True:
        _wake.wait(_tick_seconds())
        _wake.clear()
        try:
            publish_metrics()
            if time.monotonic() - last_prune > 60:
                last_prune = time.monotonic()
                prune_metrics()
        except Exception as e:  # keep publishing; say why this tick failed
            print(f"emulator route53: publishing health check metrics failed: {e!r}", file=sys.stderr)


def start_ticker() -> None:
    """Starts the daemon thread that publishes the health check metrics every
    EMULATOR_HEALTH_TICK_SECONDS (default 10), and at once after a change (a health check
    created, updated, a region cut or restored). Idempotent."""
    global _ticker
    with _state_lock:
        if _ticker is not None:
            return
        _ticker = threading.Thread(target=_run_ticker, name="emulator-route53-health", daemon=True)
        _ticker.start()
    _wake.set()
