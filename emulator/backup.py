"""AWS Backup fidelity fixes."""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import unquote

import moto.backup.urls as backup_urls
from moto.backup.exceptions import (
    AlreadyExistsException,
    InvalidParameterValueException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from moto.backup.models import BackupBackend, Plan, backup_backends
from moto.backup.responses import BackupResponse
from moto.core.utils import unix_time
from moto.moto_api._internal import mock_random


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

    _apply_list_tags()
    _apply_update_backup_plan()
    _apply_selections()
    _apply_recovery_points()


def _apply_list_tags() -> None:
    def list_tags(self: BackupResponse) -> str:
        # AWS ListTags is `GET /tags/{resourceArn}/`; clients built from the Smithy model
        # (the AWS SDK for Rust) send it without the trailing slash. moto 5.2.5 takes the
        # next-to-last path segment as the ARN, so without the slash it reads `tags` and
        # answers `{}`. The ARN is everything after `/tags/`.
        # https://docs.aws.amazon.com/aws-backup/latest/devguide/API_ListTags.html
        arn = unquote(self.path.split("/tags/", 1)[-1].split("?", 1)[0].rstrip("/"))
        return json.dumps({"Tags": self.backup_backend.list_tags(resource_arn=arn)})

    BackupResponse.list_tags = list_tags  # type: ignore[method-assign]


def _apply_update_backup_plan() -> None:
    def update_backup_plan(self: BackupResponse) -> str:
        # AWS UpdateBackupPlan (POST /backup/plans/{backupPlanId}): replaces the plan's
        # document; "The new version is uniquely identified by its ID" (a new VersionId), the
        # plan ID and ARN stay. An unknown or deleted plan is ResourceNotFoundException.
        # moto 5.2.5 lacks the operation.
        # https://docs.aws.amazon.com/aws-backup/latest/devguide/API_UpdateBackupPlan.html
        plan_id = unquote(self.path.split("?", 1)[0].split("/backup/plans/", 1)[-1]).strip("/")
        params = json.loads(self.body or "{}")
        document = params.get("BackupPlan") or {}
        if not document.get("BackupPlanName") or not document.get("Rules"):
            raise InvalidParameterValueException(msg="BackupPlan needs a BackupPlanName and Rules")
        backend = self.backup_backend
        with _lock:
            plan = _live_plan(backend, plan_id)
            # A Plan built from the new document gives its rules the defaults and RuleIds
            # moto's CreateBackupPlan gives them, and a new version id.
            fresh = Plan(backup_plan=document, creator_request_id=plan.creator_request_id, backend=backend)
            plan.backup_plan = fresh.backup_plan
            plan.version_id = fresh.version_id
            plan.advanced_backup_settings = fresh.advanced_backup_settings
        return json.dumps(plan.to_dict())

    BackupResponse.update_backup_plan = update_backup_plan  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# Backup selections (CreateBackupSelection, GetBackupSelection, ListBackupSelections,
# DeleteBackupSelection), which moto 5.2.5 lacks (CreateBackupSelection answers 500).
# https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateBackupSelection.html
# - a selection belongs to a live plan (ResourceNotFoundException otherwise);
# - CreatorRequestId "allows failed requests to be retried without the risk of running the
#   operation twice": the same id on the same plan returns the existing selection;
# - "A backup plan can only be deleted after all associated selections of resources have
#   been deleted" (DeleteBackupPlan): InvalidRequestException otherwise.
# ---------------------------------------------------------------------------------------

_lock = threading.RLock()


class Selection:
    def __init__(self, plan_id: str, selection: dict[str, Any], creator_request_id: str | None) -> None:
        self.selection_id = str(mock_random.uuid4())
        self.plan_id = plan_id
        self.selection = selection
        self.creator_request_id = creator_request_id
        self.creation_date = unix_time()

    def to_get_dict(self) -> dict[str, Any]:
        out = {
            "BackupSelection": self.selection,
            "SelectionId": self.selection_id,
            "BackupPlanId": self.plan_id,
            "CreationDate": self.creation_date,
        }
        if self.creator_request_id:
            out["CreatorRequestId"] = self.creator_request_id
        return out

    def to_list_dict(self) -> dict[str, Any]:
        out = {
            "SelectionId": self.selection_id,
            "SelectionName": self.selection.get("SelectionName"),
            "BackupPlanId": self.plan_id,
            "CreationDate": self.creation_date,
            "IamRoleArn": self.selection.get("IamRoleArn"),
        }
        if self.creator_request_id:
            out["CreatorRequestId"] = self.creator_request_id
        return out


def _selections(backend: BackupBackend) -> dict[str, dict[str, Selection]]:
    table = getattr(backend, "_emulator_selections", None)
    if table is None:
        table = {}
        backend._emulator_selections = table  # type: ignore[attr-defined]
    return table


def _live_plan(backend: BackupBackend, plan_id: str) -> Plan:
    plan = backend.plans.get(plan_id)
    if plan is None or plan.deletion_date is not None:
        raise ResourceNotFoundException(msg=f"Failed reading Backup plan with provided version: {plan_id}")
    return plan


def _plan_and_selection_ids(path: str) -> tuple[str, str]:
    """(plan id, selection id or "") from /backup/plans/{id}/selections/[{selectionId}]."""
    rest = unquote(path.split("?", 1)[0]).split("/backup/plans/", 1)[-1]
    plan_id, _, tail = rest.partition("/selections")
    return plan_id.strip("/"), tail.strip("/")


def _apply_selections() -> None:
    def create_backup_selection(self: BackupResponse) -> str:
        plan_id, _ = _plan_and_selection_ids(self.path)
        params = json.loads(self.body or "{}")
        selection = params.get("BackupSelection") or {}
        request_id = params.get("CreatorRequestId")
        for member in ("SelectionName", "IamRoleArn"):
            if not selection.get(member):
                raise InvalidParameterValueException(msg=f"BackupSelection.{member} is required")
        backend = self.backup_backend
        with _lock:
            _live_plan(backend, plan_id)
            table = _selections(backend).setdefault(plan_id, {})
            found = next(
                (s for s in table.values() if request_id and s.creator_request_id == request_id), None
            )
            if found is None:
                found = Selection(plan_id, selection, request_id)
                table[found.selection_id] = found
        return json.dumps(
            {"SelectionId": found.selection_id, "BackupPlanId": plan_id, "CreationDate": found.creation_date}
        )

    def _get(self: BackupResponse) -> Selection:
        plan_id, selection_id = _plan_and_selection_ids(self.path)
        found = _selections(self.backup_backend).get(plan_id, {}).get(selection_id)
        if found is None:
            raise ResourceNotFoundException(msg=f"Backup selection {selection_id} of plan {plan_id} not found")
        return found

    def get_backup_selection(self: BackupResponse) -> str:
        return json.dumps(_get(self).to_get_dict())

    def list_backup_selections(self: BackupResponse) -> str:
        plan_id, _ = _plan_and_selection_ids(self.path)
        backend = self.backup_backend
        _live_plan(backend, plan_id)
        found = list(_selections(backend).get(plan_id, {}).values())
        return json.dumps({"BackupSelectionsList": [s.to_list_dict() for s in found]})

    def delete_backup_selection(self: BackupResponse) -> str:
        with _lock:
            found = _get(self)
            _selections(self.backup_backend)[found.plan_id].pop(found.selection_id, None)
        return "{}"

    BackupResponse.create_backup_selection = create_backup_selection  # type: ignore[attr-defined]
    BackupResponse.get_backup_selection = get_backup_selection  # type: ignore[attr-defined]
    BackupResponse.list_backup_selections = list_backup_selections  # type: ignore[attr-defined]
    BackupResponse.delete_backup_selection = delete_backup_selection  # type: ignore[attr-defined]

    original_delete_plan = BackupBackend.delete_backup_plan

    def delete_backup_plan(self: BackupBackend, backup_plan_id: str) -> tuple[str, str, float, str]:
        if _selections(self).get(backup_plan_id):
            raise InvalidRequestException(
                msg="Related backup plan selections must be deleted prior to backup plan deletion"
            )
        return original_delete_plan(self, backup_plan_id)

    BackupBackend.delete_backup_plan = delete_backup_plan  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------
# Recovery points per vault, made by backup jobs and copy jobs, which moto 5.2.5 lacks
# (ListRecoveryPointsByBackupVault answers 404).
# - StartBackupJob makes a COMPLETED job and its recovery point in the vault; an Aurora /
#   RDS cluster's recovery point is a cluster snapshot
#   (arn:aws:rds:REGION:ACCOUNT:cluster-snapshot:awsbackup:job-ID), anything else
#   arn:aws:backup:REGION:ACCOUNT:recovery-point:ID;
#   https://docs.aws.amazon.com/aws-backup/latest/devguide/API_StartBackupJob.html
# - StartCopyJob copies a recovery point into the destination vault (any region);
#   https://docs.aws.amazon.com/aws-backup/latest/devguide/API_StartCopyJob.html
# - ListRecoveryPointsByBackupVault / DescribeRecoveryPoint / DeleteRecoveryPoint;
# - DeleteBackupVault: "Deletes the backup vault identified by its name. A vault can be
#   deleted only if it is empty." (InvalidRequestException otherwise), and an unknown vault
#   is ResourceNotFoundException.
#   https://docs.aws.amazon.com/aws-backup/latest/devguide/API_DeleteBackupVault.html
# ---------------------------------------------------------------------------------------


def _points(backend: BackupBackend) -> dict[str, dict[str, dict[str, Any]]]:
    """vault name -> recovery point ARN -> recovery point."""
    table = getattr(backend, "_emulator_points", None)
    if table is None:
        table = {}
        backend._emulator_points = table  # type: ignore[attr-defined]
    return table


def _jobs(backend: BackupBackend, kind: str) -> dict[str, dict[str, Any]]:
    attr = f"_emulator_{kind}_jobs"
    table = getattr(backend, attr, None)
    if table is None:
        table = {}
        setattr(backend, attr, table)
    return table


def _resource_type(resource_arn: str) -> str:
    parts = resource_arn.split(":")
    service = parts[2] if len(parts) > 2 else ""
    if service == "rds":
        return "Aurora" if ":cluster:" in resource_arn else "RDS"
    return {"dynamodb": "DynamoDB", "s3": "S3", "ec2": "EC2", "elasticfilesystem": "EFS"}.get(service, service)


def _vault(backend: BackupBackend, name: str) -> Any:
    vault = backend.vaults.get(name)
    if vault is None:
        raise ResourceNotFoundException(msg=f"Backup vault {name} not found")
    return vault


def _add_point(backend: BackupBackend, vault_name: str, point: dict[str, Any]) -> None:
    vault = _vault(backend, vault_name)
    point["BackupVaultName"] = vault_name
    point["BackupVaultArn"] = vault.backup_vault_arn
    _points(backend).setdefault(vault_name, {})[point["RecoveryPointArn"]] = point
    vault.num_of_recovery_points = len(_points(backend)[vault_name])


def _point_arn(backend: BackupBackend, resource_arn: str, job_id: str) -> str:
    region, account = backend.region_name, backend.account_id
    if resource_arn.startswith("arn:aws:rds:") and ":cluster:" in resource_arn:
        return f"arn:aws:rds:{region}:{account}:cluster-snapshot:awsbackup:job-{job_id}"
    return f"arn:aws:backup:{region}:{account}:recovery-point:{job_id.upper()}"


def _vault_and_point(path: str) -> tuple[str, str]:
    """(vault name, recovery point ARN or "") from /backup-vaults/{name}/recovery-points/[{arn}]."""
    rest = path.split("?", 1)[0].split("/backup-vaults/", 1)[-1]
    vault, _, tail = rest.partition("/recovery-points")
    return unquote(vault), unquote(tail.strip("/"))


def _apply_recovery_points() -> None:
    # Routes moto's backup app lacks (the operation is found from botocore's model). Each
    # collection with and without its trailing slash (werkzeug rules are strict about it).
    dispatch = backup_urls.response.dispatch
    for path in (
        "{0}/backup/plans/(?P<plan>[^/]+)/selections",
        "{0}/backup/plans/(?P<plan>[^/]+)/selections/",
        "{0}/backup/plans/(?P<plan>[^/]+)/selections/(?P<selection>[^/]+)",
        "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points",
        "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/",
        "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<arn>.+)",
        "{0}/backup-jobs",
        "{0}/backup-jobs/",
        "{0}/backup-jobs/(?P<job>[^/]+)",
        "{0}/copy-jobs",
        "{0}/copy-jobs/",
        "{0}/copy-jobs/(?P<job>[^/]+)",
    ):
        backup_urls.url_paths[path + "$"] = dispatch

    def start_backup_job(self: BackupResponse) -> str:
        params = json.loads(self.body or "{}")
        backend = self.backup_backend
        for member in ("BackupVaultName", "ResourceArn", "IamRoleArn"):
            if not params.get(member):
                raise InvalidParameterValueException(msg=f"{member} is required")
        with _lock:
            token = params.get("IdempotencyToken")
            jobs = _jobs(backend, "backup")
            for job in jobs.values():
                if token and job.get("_token") == token:
                    return json.dumps(
                        {"BackupJobId": job["BackupJobId"], "RecoveryPointArn": job["RecoveryPointArn"],
                         "CreationDate": job["CreationDate"], "IsParent": False}
                    )
            vault = _vault(backend, params["BackupVaultName"])
            job_id = str(mock_random.uuid4())
            now = unix_time()
            resource_arn = params["ResourceArn"]
            point = {
                "RecoveryPointArn": _point_arn(backend, resource_arn, job_id),
                "ResourceArn": resource_arn,
                "ResourceType": _resource_type(resource_arn),
                "CreatedBy": {},
                "IamRoleArn": params["IamRoleArn"],
                "Status": "COMPLETED",
                "CreationDate": now,
                "InitiationDate": now,
                "CompletionDate": now,
                "BackupSizeInBytes": 0,
                "IsEncrypted": bool(vault.encryption_key_arn),
                "IsParent": False,
            }
            if vault.encryption_key_arn:
                point["EncryptionKeyArn"] = vault.encryption_key_arn
            if params.get("Lifecycle"):
                point["Lifecycle"] = params["Lifecycle"]
            _add_point(backend, vault.backup_vault_name, point)
            jobs[job_id] = {
                "AccountId": backend.account_id,
                "BackupJobId": job_id,
                "BackupVaultName": vault.backup_vault_name,
                "BackupVaultArn": vault.backup_vault_arn,
                "RecoveryPointArn": point["RecoveryPointArn"],
                "ResourceArn": resource_arn,
                "ResourceType": point["ResourceType"],
                "IamRoleArn": params["IamRoleArn"],
                "CreationDate": now,
                "CompletionDate": now,
                "State": "COMPLETED",
                "PercentDone": "100.0",
                "BackupSizeInBytes": 0,
                "IsParent": False,
                "_token": token,
            }
        return json.dumps(
            {"BackupJobId": job_id, "RecoveryPointArn": point["RecoveryPointArn"], "CreationDate": now, "IsParent": False}
        )

    def describe_backup_job(self: BackupResponse) -> str:
        job_id = unquote(self.path.split("?", 1)[0].rstrip("/").split("/")[-1])
        job = _jobs(self.backup_backend, "backup").get(job_id)
        if job is None:
            raise ResourceNotFoundException(msg=f"Backup job {job_id} not found")
        return json.dumps({k: v for k, v in job.items() if not k.startswith("_")})

    def start_copy_job(self: BackupResponse) -> str:
        params = json.loads(self.body or "{}")
        backend = self.backup_backend
        for member in ("RecoveryPointArn", "SourceBackupVaultName", "DestinationBackupVaultArn", "IamRoleArn"):
            if not params.get(member):
                raise InvalidParameterValueException(msg=f"{member} is required")
        source_vault = params["SourceBackupVaultName"]
        with _lock:
            source = _points(backend).get(source_vault, {}).get(params["RecoveryPointArn"])
            if source is None:
                raise ResourceNotFoundException(msg=f"Recovery point {params['RecoveryPointArn']} not found")
            # arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME
            parts = str(params["DestinationBackupVaultArn"]).split(":")
            if len(parts) < 7:
                raise InvalidParameterValueException(msg="DestinationBackupVaultArn is not a backup vault ARN")
            dest_backend = backup_backends[parts[4]][parts[3]]
            job_id = str(mock_random.uuid4())
            now = unix_time()
            copy = dict(source)
            copy.update(
                {
                    "RecoveryPointArn": _point_arn(dest_backend, source["ResourceArn"], job_id),
                    "SourceBackupVaultArn": _vault(backend, source_vault).backup_vault_arn,
                    "IamRoleArn": params["IamRoleArn"],
                    "CreationDate": now,
                    "InitiationDate": now,
                    "CompletionDate": now,
                }
            )
            if params.get("Lifecycle"):
                copy["Lifecycle"] = params["Lifecycle"]
            _add_point(dest_backend, parts[6], copy)
            _jobs(backend, "copy")[job_id] = {
                "CopyJobId": job_id,
                "SourceRecoveryPointArn": source["RecoveryPointArn"],
                "DestinationRecoveryPointArn": copy["RecoveryPointArn"],
                "State": "COMPLETED",
            }
        return json.dumps({"CopyJobId": job_id, "CreationDate": now, "IsParent": False})

    def list_recovery_points_by_backup_vault(self: BackupResponse) -> str:
        vault, _ = _vault_and_point(self.path)
        backend = self.backup_backend
        _vault(backend, vault)
        query = self._get_params()

        def one(name: str) -> str | None:
            v = query.get(name)
            return (v[0] if isinstance(v, list) else v) or None

        by_resource, by_type = one("resourceArn"), one("resourceType")
        points = [
            p
            for p in _points(backend).get(vault, {}).values()
            if (by_resource is None or p["ResourceArn"] == by_resource)
            and (by_type is None or p["ResourceType"] == by_type)
        ]
        return json.dumps({"RecoveryPoints": points})

    def _point(self: BackupResponse) -> tuple[str, dict[str, Any]]:
        vault, arn = _vault_and_point(self.path)
        _vault(self.backup_backend, vault)
        point = _points(self.backup_backend).get(vault, {}).get(arn)
        if point is None:
            raise ResourceNotFoundException(msg=f"Recovery point {arn} not found in vault {vault}")
        return vault, point

    def describe_recovery_point(self: BackupResponse) -> str:
        return json.dumps(_point(self)[1])

    def delete_recovery_point(self: BackupResponse) -> str:
        with _lock:
            vault, point = _point(self)
            _points(self.backup_backend)[vault].pop(point["RecoveryPointArn"], None)
            _vault(self.backup_backend, vault).num_of_recovery_points = len(_points(self.backup_backend)[vault])
        return "{}"

    for fn in (
        start_backup_job,
        describe_backup_job,
        start_copy_job,
        list_recovery_points_by_backup_vault,
        describe_recovery_point,
        delete_recovery_point,
    ):
        setattr(BackupResponse, fn.__name__, fn)

    def delete_backup_vault(self: BackupBackend, backup_vault_name: str) -> None:
        _vault(self, backup_vault_name)
        if _points(self).get(backup_vault_name):
            raise InvalidRequestException(
                msg=f"Backup vault {backup_vault_name} cannot be deleted: it contains recovery points"
            )
        self.vaults.pop(backup_vault_name, None)
        _points(self).pop(backup_vault_name, None)

    BackupBackend.delete_backup_vault = delete_backup_vault  # type: ignore[method-assign]
