"""RDS (Aurora) fidelity fixes."""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.rds.exceptions import RDSClientError
from moto.rds.responses import RDSResponse


def _boolean(value: Any, default: bool) -> bool:
    """An awsQuery boolean parameter (parsed or raw)."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


class GlobalClusterNotFoundFault(RDSClientError):
    """botocore rds model: `GlobalClusterNotFoundFault`, HTTP 404."""

    def __init__(self, identifier: str) -> None:
        super().__init__("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.")


def apply() -> None:
    original_delete_cluster = RDSResponse.delete_db_cluster

    def delete_db_cluster(self: RDSResponse) -> Any:
        # AWS DeleteDBCluster, DeleteAutomatedBackups: "Specifies whether to remove automated
        # backups immediately after the DB cluster is deleted. [...] The default is to remove
        # automated backups immediately after the DB cluster is deleted." moto 5.2.5 ignores
        # the parameter and keeps the cluster's automated snapshots (`rds:<id>-<minute>`), so
        # they outlive the cluster, and a cluster created again under the same name within
        # the minute fails on its own automated snapshot's name.
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBCluster.html
        cluster_id = str(self.params.get("DBClusterIdentifier") or "")
        remove_automated = _boolean(self.params.get("DeleteAutomatedBackups"), default=True)
        result = original_delete_cluster(self)
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
