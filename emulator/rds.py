"""RDS (Aurora) fidelity fixes, and Aurora Global Database switchover / failover."""

from __future__ import annotations

import copy
import os
import random
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.rds.exceptions import (
    DBClusterNotFoundError,
    InvalidDBClusterStateFault,
    InvalidParameterCombination,
    InvalidParameterValue,
    RDSClientError,
)
from moto.rds.models import DBCluster, GlobalCluster, RDSBackend, rds_backends
from moto.rds.responses import RDSResponse

from . import outage

# moto 5.2.5 keeps every global cluster in the backend of this region
# (`RDSResponse.global_backend`), whatever region a request is signed for: that backend is
# this module's one store of global clusters, so every region sees the same ones.
GLOBAL_REGION = "us-east-1"

# How long a switchover or failover stays in FailoverState (seconds, from the request).
FAILOVER_SECONDS_ENV = "EMULATOR_RDS_FAILOVER_SECONDS"

# One lock for every RDS request: moto's server is threaded, and the global-cluster state
# (members, roles, FailoverState) is read and changed by requests signed for any region.
_lock = threading.RLock()
_applied = False


def _boolean(value: Any, default: bool) -> bool:
    """An awsQuery boolean parameter (parsed or raw)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def _failover_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get(FAILOVER_SECONDS_ENV, "1")))
    except ValueError:
        return 1.0


def _region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


class GlobalClusterNotFoundFault(RDSClientError):
    """botocore rds model: `GlobalClusterNotFoundFault`, HTTP 404."""

    def __init__(self, identifier: str) -> None:
        super().__init__("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.")


class GlobalClusterAlreadyExistsFault(RDSClientError):
    """botocore rds model: `GlobalClusterAlreadyExistsFault`, HTTP 400."""

    def __init__(self, identifier: str) -> None:
        super().__init__("GlobalClusterAlreadyExistsFault", f"Global cluster {identifier} already exists.")


class GlobalClusterStateFault(RDSClientError):
    """botocore rds model: `InvalidGlobalClusterStateFault`, HTTP 400 (with a message of ours;
    moto's own class only says "is not empty")."""

    def __init__(self, message: str) -> None:
        super().__init__("InvalidGlobalClusterStateFault", message)


@dataclass
class _Transition:
    """A switchover or failover under way (AWS FailoverState)."""

    from_arn: str
    to_arn: str
    data_loss: bool
    status: str  # pending | switching-over | failing-over | cancelling
    phase_started: float  # time.monotonic() when `status` began (pending: the request)
    requested_at: datetime  # UTC, the request (the point of failure of a failover)


@dataclass
class _GlobalState:
    """What this module adds to a moto GlobalCluster."""

    endpoint_suffix: str = field(
        default_factory=lambda: "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(12))
    )
    transition: _Transition | None = None
    # Members being rebuilt after a failover with data loss (SynchronizationStatus
    # pending-resync): ARN -> (time of the failure, take the old primary's snapshot?).
    resync: dict[str, tuple[datetime, bool]] = field(default_factory=dict)


def _state(gc: GlobalCluster) -> _GlobalState:
    st = gc.__dict__.get("_emulator_state")
    if st is None:
        st = _GlobalState()
        gc.__dict__["_emulator_state"] = st
    return st


def _global_backend(account_id: str) -> RDSBackend:
    return rds_backends[account_id][GLOBAL_REGION]


def _member(gc: GlobalCluster, arn: str) -> DBCluster | None:
    return next((m for m in gc.members if m.db_cluster_arn == arn), None)


def _global_of(cluster: DBCluster) -> GlobalCluster | None:
    """The global cluster `cluster` is a member of, if any."""
    for gc in _global_backend(cluster.account_id).global_clusters.values():
        if any(m is cluster for m in gc.members):
            return gc
    return None


def _writer(gc: GlobalCluster) -> DBCluster | None:
    return next((m for m in gc.members if m.is_writer), None)


def _find_global(response: RDSResponse, identifier: str) -> GlobalCluster:
    """A global cluster by identifier (not case-sensitive) or ARN; GlobalClusterNotFoundFault."""
    clusters = response.global_backend.global_clusters
    if identifier in clusters:
        return clusters[identifier]
    for gc in clusters.values():
        if gc.global_cluster_arn == identifier:
            return gc
    raise GlobalClusterNotFoundFault(identifier)


def _find_cluster(response: RDSResponse, identifier: str) -> DBCluster:
    """A DB cluster by ARN (in the ARN's region, whatever region the request is signed for:
    AWS asks for the ARN "so that Aurora can locate the cluster in its Amazon Web Services
    Region") or by identifier (in the request's region); DBClusterNotFoundFault."""
    backend = response.backend
    if identifier.startswith("arn:"):
        parts = identifier.split(":")
        if len(parts) < 7 or parts[2] != "rds" or parts[5] != "cluster":
            raise DBClusterNotFoundError(identifier)
        try:
            backend = rds_backends[parts[4]][parts[3]]
        except KeyError:
            raise DBClusterNotFoundError(identifier) from None
    return backend.describe_db_clusters(db_cluster_identifier=identifier)[0]


# ---- the lazy clock: transitions complete when a request sees they are due ----


def _settle(account_id: str) -> None:
    """Moves every global cluster of the account forward to now (called under `_lock`)."""
    for gc in list(_global_backend(account_id).global_clusters.values()):
        _settle_one(gc)


def _settle_one(gc: GlobalCluster) -> None:
    st = _state(gc)
    duration = _failover_seconds()
    while st.transition is not None:
        t = st.transition
        elapsed = time.monotonic() - t.phase_started
        if t.status == "cancelling":
            if elapsed < duration:
                break
            st.transition = None
        elif elapsed >= duration:
            # A switchover needs both clusters (AWS: "designed to be used on an Aurora global
            # database where all the Aurora clusters [...] are in a healthy state"): with either
            # region cut off it is cancelled, the roles "returning to their previous states".
            if not t.data_loss and (outage.is_cut(_region_of(t.from_arn)) or outage.is_cut(_region_of(t.to_arn))):
                t.status = "cancelling"
                t.phase_started += duration
                continue
            _complete(gc, st, t)
            st.transition = None
        else:
            if t.status == "pending" and elapsed >= duration / 4:
                t.status = "failing-over" if t.data_loss else "switching-over"
            break
    for arn, (failed_at, snapshot) in list(st.resync.items()):
        cluster = _member(gc, arn)
        if cluster is None:
            del st.resync[arn]
        elif not outage.is_cut(_region_of(arn)):
            if snapshot:
                _take_failover_snapshot(cluster, failed_at)
            del st.resync[arn]


def _complete(gc: GlobalCluster, st: _GlobalState, t: _Transition) -> None:
    target = _member(gc, t.to_arn)
    if target is None:  # removed or deleted meanwhile
        return
    for m in gc.members:
        m.is_writer = m is target
    if t.data_loss:
        # AWS, managed failover: "As soon as that old primary Region is healthy and available
        # again, Aurora automatically adds it back to the global cluster as a secondary Region.
        # Before creating the new storage volume in the old primary Region, Aurora tries to take
        # a snapshot of the old storage volume at the point of failure [...] named
        # rds:unplanned-global-failover-name-of-old-primary-DB-cluster-timestamp." and "After
        # Aurora promotes the new primary cluster, it automatically rebuilds all additional
        # secondary Region clusters." Until then they are pending-resync.
        for m in gc.members:
            if m is not target:
                st.resync[m.db_cluster_arn] = (t.requested_at, m.db_cluster_arn == t.from_arn)


def _take_failover_snapshot(cluster: DBCluster, failed_at: datetime) -> None:
    # "The snapshot of the old storage volume is a system snapshot that's subject to the backup
    # retention period configured on the old primary cluster": SnapshotType automated.
    backend = cluster.backend
    snapshot_id = f"rds:unplanned-global-failover-{cluster.db_cluster_identifier}-{failed_at:%Y-%m-%d-%H-%M}"
    if snapshot_id in backend.cluster_snapshots or cluster.db_cluster_identifier not in backend.clusters:
        return
    backend.create_db_cluster_snapshot(cluster.db_cluster_identifier, snapshot_id, snapshot_type="automated")


# ---- what DescribeGlobalClusters shows ----


def _members_view(gc: GlobalCluster) -> list[dict[str, Any]]:
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_GlobalClusterMember.html
    st = _state(gc)
    readers = [m.db_cluster_arn for m in gc.members if not m.is_writer]
    out: list[dict[str, Any]] = []
    for m in gc.members:
        entry: dict[str, Any] = {
            "DBClusterArn": m.db_cluster_arn,
            "IsWriter": bool(m.is_writer),
            "Readers": readers if m.is_writer else [],
            "SynchronizationStatus": "pending-resync" if m.db_cluster_arn in st.resync else "connected",
        }
        if not m.is_writer:
            requested = getattr(m, "_global_write_forwarding_requested", False)
            entry["GlobalWriteForwardingStatus"] = "enabled" if requested else "disabled"
        out.append(entry)
    return out


def _failover_state_view(gc: GlobalCluster) -> dict[str, Any] | None:
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverState.html: "This
    # data type is empty unless a switchover or failover operation is scheduled or is in
    # progress". Absent here when none is.
    t = _state(gc).transition
    if t is None:
        return None
    return {
        "Status": t.status,
        "FromDbClusterArn": t.from_arn,
        "ToDbClusterArn": t.to_arn,
        "IsDataLossAllowed": t.data_loss,
    }


def _status_view(gc: GlobalCluster) -> str:
    # GlobalCluster.Status while an operation runs: "switching-over" (SwitchoverGlobalCluster)
    # or "failing-over" (FailoverGlobalCluster with AllowDataLoss), as in the AWS CLI examples
    # of switchover-global-cluster / failover-global-cluster; otherwise moto's ("available").
    t = _state(gc).transition
    if t is not None:
        return "failing-over" if t.data_loss else "switching-over"
    return str(gc.__dict__.get("_emulator_base_status", "available"))


def _set_status(gc: GlobalCluster, value: str) -> None:
    gc.__dict__["_emulator_base_status"] = value


def _endpoint_view(gc: GlobalCluster) -> str:
    # The global writer endpoint: "This endpoint always points to the writer DB instance in the
    # current primary cluster" and "has a value that remains the same even when a new Region
    # becomes the primary cluster because of switchover or failover".
    # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-connecting.html
    return f"{gc.global_cluster_identifier}.global-{_state(gc).endpoint_suffix}.global.rds.amazonaws.com"


def _render(gc: GlobalCluster) -> dict[str, Any]:
    """The GlobalCluster as it is now, frozen (a response that must not follow later changes)."""
    return {
        "GlobalClusterIdentifier": gc.global_cluster_identifier,
        "GlobalClusterResourceId": gc.global_cluster_resource_id,
        "GlobalClusterArn": gc.global_cluster_arn,
        "Status": gc.status,
        "Engine": gc.engine,
        "EngineVersion": gc.engine_version,
        "StorageEncrypted": gc.storage_encrypted,
        "DeletionProtection": gc.deletion_protection,
        "GlobalClusterMembers": copy.deepcopy(_members_view(gc)),
        "Endpoint": _endpoint_view(gc),
        "FailoverState": _failover_state_view(gc),
        "TagList": list(gc.tags),
    }


def _db_cluster_members_view(cluster: DBCluster, original: Any) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = original.fget(cluster)
    gc = _global_of(cluster)
    if gc is not None and not cluster.is_writer:
        # A secondary cluster of a global database is read-only: its instances are all
        # readers (DBClusterMember.IsClusterWriter false) until it is promoted.
        # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.html
        for m in members:
            m["IsClusterWriter"] = False
    return members


# ---- switchover and failover ----


def _start_transition(response: RDSResponse, global_id: str, target_id: str, data_loss: bool) -> GlobalCluster:
    gc = _find_global(response, global_id)
    target = _find_cluster(response, target_id)
    st = _state(gc)
    what = "failover" if data_loss else "switchover"
    if st.transition is not None:
        raise GlobalClusterStateFault(
            f"Global cluster {gc.global_cluster_identifier} has a {st.transition.status} operation in progress."
        )
    if not any(m is target for m in gc.members):
        raise GlobalClusterStateFault(
            f"DB cluster {target.db_cluster_arn} is not a member of global cluster {gc.global_cluster_identifier}."
        )
    if target.is_writer:
        raise GlobalClusterStateFault(
            f"DB cluster {target.db_cluster_arn} is already the primary cluster of global cluster "
            f"{gc.global_cluster_identifier}."
        )
    writer = _writer(gc)
    if writer is None:
        raise GlobalClusterStateFault(f"Global cluster {gc.global_cluster_identifier} has no primary cluster.")
    if target.db_cluster_arn in st.resync:
        raise GlobalClusterStateFault(
            f"DB cluster {target.db_cluster_arn} is being resynchronized (pending-resync); {what} is not possible now."
        )
    if not data_loss and st.resync:
        raise GlobalClusterStateFault(
            f"Global cluster {gc.global_cluster_identifier} has members being resynchronized; a switchover "
            "needs every cluster healthy."
        )
    st.transition = _Transition(
        from_arn=writer.db_cluster_arn,
        to_arn=target.db_cluster_arn,
        data_loss=data_loss,
        status="pending",
        phase_started=time.monotonic(),
        requested_at=datetime.now(UTC),
    )
    return gc


def switchover_global_cluster(self: RDSResponse) -> ActionResult:
    # AWS SwitchoverGlobalCluster: promotes the secondary TargetDbClusterIdentifier (an ARN,
    # "so that Aurora can locate the cluster in its Amazon Web Services Region") and demotes the
    # primary, no data loss; FailoverState {Status pending -> switching-over, From, To,
    # IsDataLossAllowed false} while it runs (EMULATOR_RDS_FAILOVER_SECONDS), then the roles are
    # swapped and FailoverState is empty. Errors: GlobalClusterNotFoundFault,
    # DBClusterNotFoundFault, InvalidGlobalClusterStateFault (an operation in progress, the
    # target not a member or already the writer).
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_SwitchoverGlobalCluster.html
    params = self.params
    gc = _start_transition(
        self,
        str(params.get("GlobalClusterIdentifier") or ""),
        str(params.get("TargetDbClusterIdentifier") or ""),
        False,
    )
    return ActionResult({"GlobalCluster": gc})


def failover_global_cluster(self: RDSResponse) -> ActionResult:
    # AWS FailoverGlobalCluster: "Failing over - Specify the AllowDataLoss parameter and don't
    # specify the Switchover parameter. Switching over - Specify the Switchover parameter or omit
    # it, but don't specify the AllowDataLoss parameter." AllowDataLoss: "If you don't specify
    # AllowDataLoss, the global database cluster operation defaults to a switchover" and "Can't
    # be specified together with the Switchover parameter" (InvalidParameterCombination). A
    # failover does not wait for the old primary: it works with the old primary's region cut off
    # (the call is signed for the secondary's region).
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverGlobalCluster.html
    params = self.params
    allow_data_loss = params.get("AllowDataLoss")
    switchover = params.get("Switchover")
    if allow_data_loss is not None and switchover is not None:
        raise InvalidParameterCombination("AllowDataLoss can't be specified together with Switchover.")
    data_loss = _boolean(allow_data_loss, default=False)
    gc = _start_transition(
        self,
        str(params.get("GlobalClusterIdentifier") or ""),
        str(params.get("TargetDbClusterIdentifier") or ""),
        data_loss,
    )
    return ActionResult({"GlobalCluster": gc})


def remove_from_global_cluster(self: RDSResponse) -> ActionResult:
    # AWS RemoveFromGlobalCluster: "Detaches an Aurora secondary cluster from an Aurora global
    # database cluster. The cluster becomes a standalone cluster with read-write capability";
    # DbClusterIdentifier is the member's ARN, wherever it lives. The primary goes last: "You
    # can't detach (remove) the primary Aurora DB cluster from an Aurora global database until
    # after you remove all secondary clusters." A cluster that is no member is
    # InvalidParameterValue "... is not found in global cluster ...". moto 5.2.5 looked the
    # global cluster up in the request's region only, and answered 200 without detaching a
    # member of another region. The answer shows the global cluster as the request found it
    # (AWS detaches asynchronously; its example answer still lists the member).
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RemoveFromGlobalCluster.html
    # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-detaching.html
    params = self.params
    gc = _find_global(self, str(params.get("GlobalClusterIdentifier") or ""))
    wanted = str(params.get("DbClusterIdentifier") or "")
    cluster = _find_cluster(self, wanted)
    if not any(m is cluster for m in gc.members):
        raise InvalidParameterValue(
            f"The DB cluster {wanted} is not found in global cluster {gc.global_cluster_identifier}."
        )
    st = _state(gc)
    if st.transition is not None:
        raise GlobalClusterStateFault(
            f"Global cluster {gc.global_cluster_identifier} has a {st.transition.status} operation in progress."
        )
    if cluster.is_writer and len(gc.members) > 1:
        raise GlobalClusterStateFault(
            f"DB cluster {cluster.db_cluster_arn} is the primary cluster of global cluster "
            f"{gc.global_cluster_identifier}; remove the secondary clusters first."
        )
    before = _render(gc)
    _detach(gc, cluster)
    return ActionResult({"GlobalCluster": before})


def _detach(gc: GlobalCluster, cluster: DBCluster) -> None:
    gc.members[:] = [m for m in gc.members if m is not cluster]
    _state(gc).resync.pop(cluster.db_cluster_arn, None)
    cluster.is_writer = False
    cluster.global_cluster_identifier = None


def create_global_cluster(self: RDSResponse) -> ActionResult:
    # AWS CreateGlobalCluster: an identifier in use is GlobalClusterAlreadyExistsFault (moto
    # 5.2.5 replaced the existing global cluster); SourceDBClusterIdentifier (an ARN, in any
    # region) becomes the primary: IsWriter true (moto 5.2.5 listed it as a reader), its
    # GlobalClusterIdentifier the global cluster's identifier (moto: the ARN). A cluster already
    # in a global cluster is InvalidDBClusterStateFault.
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateGlobalCluster.html
    params = self.params
    global_id = str(params.get("GlobalClusterIdentifier") or "")
    backend = self.global_backend
    if global_id in backend.global_clusters:
        raise GlobalClusterAlreadyExistsFault(global_id)
    source_id = params.get("SourceDBClusterIdentifier")
    if source_id is None:
        gc = backend.create_global_cluster(
            global_cluster_identifier=global_id,
            source_db_cluster_identifier=None,
            engine=params.get("Engine"),
            engine_version=params.get("EngineVersion"),
            storage_encrypted=params.get("StorageEncrypted"),
            deletion_protection=params.get("DeletionProtection"),
        )
        _state(gc)
        return ActionResult({"GlobalCluster": gc})
    if not str(source_id).startswith("arn:"):
        raise InvalidParameterValue("Malformed db cluster arn dbci")
    if params.get("Engine") is not None:
        raise InvalidParameterCombination(
            "When creating global cluster from existing db cluster, value for engineName should not be "
            "specified since it will be inherited from source cluster"
        )
    source = _find_cluster(self, str(source_id))
    if _global_of(source) is not None:
        raise InvalidDBClusterStateFault(f"DB cluster {source.db_cluster_arn} is already a member of a global cluster.")
    gc = backend.create_global_cluster(
        global_cluster_identifier=global_id,
        source_db_cluster_identifier=None,
        engine=source.engine,
        engine_version=source.engine_version,
        storage_encrypted=source.storage_encrypted,
        deletion_protection=params.get("DeletionProtection"),
    )
    _state(gc)
    gc.members.append(source)
    source.is_writer = True
    source.global_cluster_identifier = gc.global_cluster_identifier
    return ActionResult({"GlobalCluster": gc})


def _version(value: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in str(value).split("."))
    except ValueError:
        return None


def modify_global_cluster(self: RDSResponse) -> ActionResult:
    # AWS ModifyGlobalCluster, EngineVersion: "The version number of the database engine to
    # which you want to upgrade. [...] To perform a major version upgrade, AllowMajorVersionUpgrade
    # must be set" and it upgrades every member of the global database ("you upgrade the global
    # database cluster instead of the individual clusters that it contains"). Errors:
    # GlobalClusterNotFoundFault, InvalidParameterCombination (a major upgrade without
    # AllowMajorVersionUpgrade), InvalidParameterValue (not newer: Aurora cannot downgrade),
    # InvalidGlobalClusterStateFault (a switchover or failover in progress). moto 5.2.5 has no
    # ModifyGlobalCluster. Only EngineVersion and DeletionProtection are served; the upgrade
    # completes at once.
    # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyGlobalCluster.html
    params = self.params
    gc = _find_global(self, str(params.get("GlobalClusterIdentifier") or ""))
    if _state(gc).transition is not None:
        raise GlobalClusterStateFault(f"Global cluster {gc.global_cluster_identifier} has a switchover or failover in progress")
    version = params.get("EngineVersion")
    if version:
        have, want = _version(gc.engine_version), _version(version)
        if have is None or want is None:
            raise InvalidParameterValue(f"Cannot upgrade {gc.engine} from {gc.engine_version} to {version}")
        if want < have:
            raise InvalidParameterValue(f"Cannot downgrade {gc.engine} from {gc.engine_version} to {version}")
        if want[0] != have[0] and not _boolean(params.get("AllowMajorVersionUpgrade"), default=False):
            raise InvalidParameterCombination(
                "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version."
            )
        gc.engine_version = str(version)
        for member in gc.members:
            member.engine_version = str(version)
    if params.get("DeletionProtection") is not None:
        gc.deletion_protection = _boolean(params.get("DeletionProtection"), default=False)
    return ActionResult({"GlobalCluster": _render(gc)})


def apply() -> None:
    global _applied
    with _lock:
        if _applied:
            return
        _apply()
        _applied = True


def _apply() -> None:
    original_call_action = RDSResponse.call_action

    def call_action(self: RDSResponse) -> Any:
        # Every RDS request, whatever its region, first brings the global clusters up to now
        # (a switchover or failover that is due completes), under one lock.
        with _lock:
            account = getattr(self, "current_account", None)
            if account:
                _settle(account)
            return original_call_action(self)

    RDSResponse.call_action = call_action  # type: ignore[method-assign]

    GlobalCluster.global_cluster_members = property(_members_view)  # type: ignore[assignment]
    GlobalCluster.failover_state = property(_failover_state_view)  # type: ignore[attr-defined]
    GlobalCluster.endpoint = property(_endpoint_view)  # type: ignore[assignment]
    GlobalCluster.status = property(_status_view, _set_status)  # type: ignore[assignment]
    original_cluster_members = DBCluster.db_cluster_members
    DBCluster.db_cluster_members = property(  # type: ignore[assignment]
        lambda cluster: _db_cluster_members_view(cluster, original_cluster_members)
    )

    RDSResponse.switchover_global_cluster = switchover_global_cluster  # type: ignore[attr-defined]
    RDSResponse.failover_global_cluster = failover_global_cluster  # type: ignore[attr-defined]
    RDSResponse.remove_from_global_cluster = remove_from_global_cluster  # type: ignore[method-assign]
    RDSResponse.create_global_cluster = create_global_cluster  # type: ignore[method-assign]
    RDSResponse.modify_global_cluster = modify_global_cluster  # type: ignore[attr-defined]

    original_delete_cluster = RDSResponse.delete_db_cluster

    def delete_db_cluster(self: RDSResponse) -> Any:
        # AWS DeleteDBCluster, DeleteAutomatedBackups: "Specifies whether to remove automated
        # backups immediately after the DB cluster is deleted. [...] The default is to remove
        # automated backups immediately after the DB cluster is deleted." moto 5.2.5 ignores
        # the parameter and keeps the cluster's automated snapshots (`rds:<id>-<minute>`), so
        # they outlive the cluster, and a cluster created again under the same name within
        # the minute fails on its own automated snapshot's name.
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBCluster.html
        #
        # A member of a global database: the primary can't go while other members remain
        # (AWS: InvalidGlobalClusterStateFault "Unable to delete cluster that is a primary
        # member of global cluster while there are other global cluster members"); a
        # secondary leaves the global cluster with it. moto 5.2.5 removed it only from a global
        # cluster kept in the cluster's own region, so a deleted secondary of another region
        # stayed a member for ever and the global cluster could never be deleted.
        cluster_id = str(self.params.get("DBClusterIdentifier") or "")
        remove_automated = _boolean(self.params.get("DeleteAutomatedBackups"), default=True)
        cluster = self.backend.clusters.get(cluster_id)
        gc = _global_of(cluster) if cluster is not None else None
        if gc is not None and cluster is not None and cluster.is_writer and len(gc.members) > 1:
            raise GlobalClusterStateFault(
                "Unable to delete cluster that is a primary member of global cluster while there are "
                "other global cluster members"
            )
        result = original_delete_cluster(self)
        if gc is not None and cluster is not None:
            _detach(gc, cluster)
        if remove_automated:
            snapshots = self.backend.cluster_snapshots
            for snapshot_id, snapshot in list(snapshots.items()):
                if (
                    snapshot.snapshot_type == "automated"
                    and snapshot.cluster.db_cluster_identifier.lower() == cluster_id.lower()
                ):
                    snapshots.pop(snapshot_id, None)
        return result

    RDSResponse.delete_db_cluster = delete_db_cluster  # type: ignore[method-assign]

    def describe_global_clusters(self: RDSResponse) -> ActionResult:
        # AWS DescribeGlobalClusters, GlobalClusterIdentifier: "If this parameter is
        # specified, information from only the specific DB cluster is returned. This
        # parameter isn't case-sensitive." An identifier that names no global cluster is
        # GlobalClusterNotFoundFault (404, botocore rds model). moto 5.2.5 ignores the
        # identifier and lists every global cluster.
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeGlobalClusters.html
        clusters = self.global_backend.describe_global_clusters()
        wanted = self.params.get("GlobalClusterIdentifier")
        if wanted:
            clusters = [
                c
                for c in clusters
                if c.global_cluster_identifier.lower() == str(wanted).lower() or c.global_cluster_arn == wanted
            ]
            if not clusters:
                raise GlobalClusterNotFoundFault(str(wanted))
        return ActionResult({"GlobalClusters": clusters})

    RDSResponse.describe_global_clusters = describe_global_clusters  # type: ignore[method-assign]

    original_delete_global = RDSResponse.delete_global_cluster

    def delete_global_cluster(self: RDSResponse) -> ActionResult:
        # AWS DeleteGlobalCluster of an unknown identifier: GlobalClusterNotFoundFault (404).
        # moto 5.2.5 answers 500 (KeyError).
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteGlobalCluster.html
        wanted = self.params.get("GlobalClusterIdentifier")
        if wanted not in self.global_backend.global_clusters:
            raise GlobalClusterNotFoundFault(str(wanted))
        return original_delete_global(self)

    RDSResponse.delete_global_cluster = delete_global_cluster  # type: ignore[method-assign]
