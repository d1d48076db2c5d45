"""RDS: automated backups go with a deleted cluster; DescribeGlobalClusters by identifier."""

import unittest

from botocore.exceptions import ClientError

from emulator.tests.support import client, error_code, status, unique


def create_cluster(rds, cluster_id: str) -> None:
    rds.create_db_cluster(
        DBClusterIdentifier=cluster_id,
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
    )


def automated(rds, cluster_id: str) -> list:
    return rds.describe_db_cluster_snapshots(DBClusterIdentifier=cluster_id, SnapshotType="automated")[
        "DBClusterSnapshots"
    ]


class DeleteAutomatedBackups(unittest.TestCase):
    def setUp(self) -> None:
        self.rds = client("rds", "us-east-2")

    def test_delete_automated_backups_true_removes_the_automated_snapshots(self) -> None:
        cid = unique("db")
        create_cluster(self.rds, cid)
        self.assertEqual(len(automated(self.rds, cid)), 1)
        self.rds.delete_db_cluster(DBClusterIdentifier=cid, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
        self.assertEqual(automated(self.rds, cid), [])
        # The same name again, within the same minute: no clash with a left-over snapshot.
        create_cluster(self.rds, cid)
        self.assertEqual(len(automated(self.rds, cid)), 1)

    def test_the_default_removes_them_too(self) -> None:
        cid = unique("db")
        create_cluster(self.rds, cid)
        self.rds.delete_db_cluster(DBClusterIdentifier=cid, SkipFinalSnapshot=True)
        self.assertEqual(automated(self.rds, cid), [])

    def test_false_keeps_them_and_a_final_snapshot_stays(self) -> None:
        cid = unique("db")
        create_cluster(self.rds, cid)
        final = f"{cid}-final"
        self.rds.delete_db_cluster(
            DBClusterIdentifier=cid, FinalDBSnapshotIdentifier=final, DeleteAutomatedBackups=False
        )
        self.assertEqual(len(automated(self.rds, cid)), 1)
        manual = self.rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=final)["DBClusterSnapshots"]
        self.assertEqual(len(manual), 1)


class DescribeGlobalClustersByIdentifier(unittest.TestCase):
    def setUp(self) -> None:
        self.rds = client("rds", "us-east-1")

    def test_the_identifier_selects_one_global_cluster(self) -> None:
        a, b = unique("global"), unique("global")
        for g in (a, b):
            self.rds.create_global_cluster(GlobalClusterIdentifier=g, Engine="aurora-postgresql")
        out = self.rds.describe_global_clusters(GlobalClusterIdentifier=b)["GlobalClusters"]
        self.assertEqual([g["GlobalClusterIdentifier"] for g in out], [b])
        every = {g["GlobalClusterIdentifier"] for g in self.rds.describe_global_clusters()["GlobalClusters"]}
        self.assertTrue({a, b} <= every)

    def test_an_unknown_identifier_is_global_cluster_not_found(self) -> None:
        with self.assertRaises(ClientError) as e:
            self.rds.describe_global_clusters(GlobalClusterIdentifier=unique("absent"))
        self.assertEqual(error_code(e.exception), "GlobalClusterNotFoundFault")
        self.assertEqual(status(e.exception), 404)

    def test_deleting_an_unknown_global_cluster_is_not_found(self) -> None:
        with self.assertRaises(ClientError) as e:
            self.rds.delete_global_cluster(GlobalClusterIdentifier=unique("absent"))
        self.assertEqual(error_code(e.exception), "GlobalClusterNotFoundFault")


if __name__ == "__main__":
    unittest.main()
