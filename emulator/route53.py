"""Route 53 fidelity fixes."""

from __future__ import annotations

from typing import Any

from moto.route53.exceptions import Route53ClientError
from moto.route53.models import HealthCheck, Route53Backend


class HealthCheckAlreadyExists(Route53ClientError):
    """botocore route53 model: `HealthCheckAlreadyExists`, HTTP 409."""

    def __init__(self, caller_reference: str) -> None:
        super().__init__(
            "HealthCheckAlreadyExists",
            f"A health check with caller reference {caller_reference} already exists "
            "with different settings, or was deleted.",
        )


def _normalized(args: dict[str, Any]) -> dict[str, Any]:
    """The settings of a CreateHealthCheck request, absent values dropped."""
    return {k: v for k, v in args.items() if v not in (None, [], {})}


def apply() -> None:
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
