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
                if c.global_cluster_identifier.lower() == str(wanted).lower()
                or c.global_cluster_arn == wanted
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
