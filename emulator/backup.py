"""AWS Backup fidelity fixes."""

from __future__ import annotations

import json
from typing import Any

from moto.backup.exceptions import AlreadyExistsException
from moto.backup.models import BackupBackend, Plan
from moto.backup.responses import BackupResponse


def _truthy(value: Any) -> bool:
    """A boolean query parameter (`includeDeleted=false` is false)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).lower() == "true"


def apply() -> None:
    def create_backup_plan(
        self: BackupBackend,
        backup_plan: dict[str, Any],
        backup_plan_tags: dict[str, str],
        creator_request_id: str,
    ) -> Plan:
        # AWS CreateBackupPlan: "If you call CreateBackupPlan with a plan that already
        # exists, you receive an AlreadyExistsException". A deleted plan no longer exists
        # (DeleteBackupPlan; ListBackupPlans lists it only with IncludeDeleted), so its name
        # can be used again. moto 5.2.5 also compares the names of deleted plans.
        # https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateBackupPlan.html
        name = backup_plan.get("BackupPlanName")
        if any(
            p.deletion_date is None and p.backup_plan.get("BackupPlanName") == name
            for p in self.plans.values()
        ):
            raise AlreadyExistsException(msg="Backup plan with the same plan document already exists")
        # The rest as moto's create_backup_plan.
        plan = Plan(backup_plan=backup_plan, creator_request_id=creator_request_id, backend=self)
        if backup_plan_tags:
            self.tag_resource(plan.backup_plan_arn, backup_plan_tags)
        self.plans[plan.backup_plan_id] = plan
        return plan

    BackupBackend.create_backup_plan = create_backup_plan  # type: ignore[method-assign]

    def list_backup_plans(self: BackupResponse) -> str:
        # AWS ListBackupPlans: IncludeDeleted (query `includeDeleted`) is a boolean;
        # moto 5.2.5 takes any value, `false` included, as true.
        # https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListBackupPlans.html
        include_deleted = _truthy(self._get_params().get("includeDeleted"))
        plans = self.backup_backend.list_backup_plans(include_deleted=include_deleted)
        return json.dumps({"BackupPlansList": [p.to_list_dict() for p in plans]})

    BackupResponse.list_backup_plans = list_backup_plans  # type: ignore[method-assign]
