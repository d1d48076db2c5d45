"""RDS: automated backups go with a deleted cluster; DescribeGlobalClusters by identifier;
Aurora Global Database across regions (members, switchover, failover, removal)."""

import os
import re
import time
import unittest
import unittest.mock
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from emulator.tests.support import ACCOUNT, client, error_code, status, unique


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


# ---- Aurora Global Database ----

PRIMARY, SECONDARY = "us-east-1", "us-east-2"
ENGINE = "aurora-postgresql"
DEADLINE = 15.0


def wait_for(what: str, probe: Callable[[], Any], deadline: float = DEADLINE) -> Any:
    """Polls `probe` until it returns something truthy, for at most `deadline` seconds."""
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline} s waiting for {what}")
        time.sleep(0.05)


def describe_global(rds, gid: str) -> dict:
    return rds.describe_global_clusters(GlobalClusterIdentifier=gid)["GlobalClusters"][0]


def members(g: dict) -> dict[str, dict]:
    return {m["DBClusterArn"]: m for m in g.get("GlobalClusterMembers", [])}


def describe_cluster(rds, cid: str) -> dict:
    return rds.describe_db_clusters(DBClusterIdentifier=cid)["DBClusters"][0]


class GlobalDatabaseBase(unittest.TestCase):
    """A global cluster with a primary in us-east-1 and a secondary in us-east-2, each with one
    instance, made as Tandem makes them (the secondary takes no master credentials)."""

    def setUp(self) -> None:
        self.east1 = client("rds", PRIMARY)
        self.east2 = client("rds", SECONDARY)
        self.gid = unique("global")
        self.pid, self.sid = unique("primary"), unique("secondary")
        self.east1.create_global_cluster(GlobalClusterIdentifier=self.gid, Engine=ENGINE, StorageEncrypted=True)
        p = self.east1.create_db_cluster(
            DBClusterIdentifier=self.pid,
            Engine=ENGINE,
            GlobalClusterIdentifier=self.gid,
            MasterUsername="admin_user",
            MasterUserPassword="not-a-secret-1",
        )["DBCluster"]
        s = self.east2.create_db_cluster(DBClusterIdentifier=self.sid, Engine=ENGINE, GlobalClusterIdentifier=self.gid)[
            "DBCluster"
        ]
        self.parn, self.sarn = p["DBClusterArn"], s["DBClusterArn"]
        for rds, cid in ((self.east1, self.pid), (self.east2, self.sid)):
            rds.create_db_instance(
                DBInstanceIdentifier=f"{cid}-1", DBClusterIdentifier=cid, DBInstanceClass="db.r6g.large", Engine=ENGINE
            )

    def writer_flags(self) -> tuple[bool, bool]:
        """IsClusterWriter of the primary's and of the secondary's instance (DescribeDBClusters)."""
        p = describe_cluster(self.east1, self.pid)["DBClusterMembers"]
        s = describe_cluster(self.east2, self.sid)["DBClusterMembers"]
        return p[0]["IsClusterWriter"], s[0]["IsClusterWriter"]

    def wait_settled(self, rds=None) -> dict:
        """The global cluster once no switchover/failover is in progress (bounded poll)."""
        rds = rds or self.east1

        def probe() -> dict | None:
            g = describe_global(rds, self.gid)
            return None if g.get("FailoverState") else g

        return wait_for("FailoverState to clear", probe)

    def assert_error(self, code: str, call: Callable[[], Any], http: int | None = None) -> ClientError:
        with self.assertRaises(ClientError) as e:
            call()
        self.assertEqual(error_code(e.exception), code, e.exception)
        if http is not None:
            self.assertEqual(status(e.exception), http)
        return e.exception


class GlobalClusterMembership(GlobalDatabaseBase):
    def test_a_secondary_of_another_region_is_a_reader_member_seen_from_every_region(self) -> None:
        from_east1 = describe_global(self.east1, self.gid)
        from_east2 = describe_global(self.east2, self.gid)
        self.assertEqual(from_east1, from_east2)
        m = members(from_east1)
        self.assertEqual(set(m), {self.parn, self.sarn})
        self.assertTrue(m[self.parn]["IsWriter"])
        self.assertEqual(m[self.parn]["Readers"], [self.sarn])
        self.assertNotIn("GlobalWriteForwardingStatus", m[self.parn])
        self.assertFalse(m[self.sarn]["IsWriter"])
        self.assertEqual(m[self.sarn]["Readers"], [])
        self.assertEqual(m[self.sarn]["GlobalWriteForwardingStatus"], "disabled")
        self.assertEqual({x["SynchronizationStatus"] for x in m.values()}, {"connected"})
        self.assertNotIn("FailoverState", from_east1)
        self.assertRegex(
            from_east1["Endpoint"], rf"^{re.escape(self.gid)}\.global-[a-z0-9]{{12}}\.global\.rds\.amazonaws\.com$"
        )
        self.assertEqual(from_east1["GlobalClusterArn"], f"arn:aws:rds::{ACCOUNT}:global-cluster:{self.gid}")
        # Each cluster names the global cluster; the secondary's instance is a reader.
        self.assertEqual(describe_cluster(self.east2, self.sid)["GlobalClusterIdentifier"], self.gid)
        self.assertEqual(describe_cluster(self.east1, self.pid)["GlobalClusterIdentifier"], self.gid)
        self.assertEqual(self.writer_flags(), (True, False))

    def test_create_global_cluster_from_an_existing_cluster_makes_it_the_writer(self) -> None:
        cid, gid = unique("solo"), unique("global")
        arn = self.east2.create_db_cluster(
            DBClusterIdentifier=cid, Engine=ENGINE, MasterUsername="admin_user", MasterUserPassword="not-a-secret-1"
        )["DBCluster"]["DBClusterArn"]
        # Signed for us-east-1, the source cluster lives in us-east-2: found by its ARN.
        g = self.east1.create_global_cluster(GlobalClusterIdentifier=gid, SourceDBClusterIdentifier=arn)[
            "GlobalCluster"
        ]
        self.assertEqual(g["Engine"], ENGINE)
        self.assertEqual([(x["DBClusterArn"], x["IsWriter"]) for x in g["GlobalClusterMembers"]], [(arn, True)])
        self.assertEqual(describe_cluster(self.east2, cid)["GlobalClusterIdentifier"], gid)
        self.assert_error(
            "GlobalClusterAlreadyExistsFault",
            lambda: self.east2.create_global_cluster(GlobalClusterIdentifier=gid, Engine=ENGINE),
            400,
        )
        self.assert_error(
            "InvalidDBClusterStateFault",
            lambda: self.east1.create_global_cluster(
                GlobalClusterIdentifier=unique("global"), SourceDBClusterIdentifier=arn
            ),
        )


class RemoveFromGlobalClusterAcrossRegions(GlobalDatabaseBase):
    def _remove_all_then_delete(self, secondary_signer, primary_signer) -> None:
        # The primary goes last.
        self.assert_error(
            "InvalidGlobalClusterStateFault",
            lambda: primary_signer.remove_from_global_cluster(
                GlobalClusterIdentifier=self.gid, DbClusterIdentifier=self.parn
            ),
        )
        out = secondary_signer.remove_from_global_cluster(
            GlobalClusterIdentifier=self.gid, DbClusterIdentifier=self.sarn
        )
        self.assertEqual(out["GlobalCluster"]["GlobalClusterIdentifier"], self.gid)
        g = describe_global(self.east2, self.gid)
        self.assertEqual(list(members(g)), [self.parn])
        self.assertEqual(members(g)[self.parn]["Readers"], [])
        # A standalone cluster now: no global identifier, its instance the writer.
        detached = describe_cluster(self.east2, self.sid)
        self.assertNotIn("GlobalClusterIdentifier", detached)
        self.assertTrue(detached["DBClusterMembers"][0]["IsClusterWriter"])
        # Not a member any more.
        e = self.assert_error(
            "InvalidParameterValue",
            lambda: secondary_signer.remove_from_global_cluster(
                GlobalClusterIdentifier=self.gid, DbClusterIdentifier=self.sarn
            ),
        )
        self.assertIn("is not found in global cluster", str(e))
        self.assert_error(
            "InvalidGlobalClusterStateFault", lambda: self.east1.delete_global_cluster(GlobalClusterIdentifier=self.gid)
        )
        primary_signer.remove_from_global_cluster(GlobalClusterIdentifier=self.gid, DbClusterIdentifier=self.parn)
        self.assertEqual(describe_global(self.east1, self.gid).get("GlobalClusterMembers", []), [])
        self.east2.delete_global_cluster(GlobalClusterIdentifier=self.gid)
        self.assert_error(
            "GlobalClusterNotFoundFault",
            lambda: self.east1.describe_global_clusters(GlobalClusterIdentifier=self.gid),
            404,
        )

    def test_remove_signed_in_each_members_region_then_delete_the_global_cluster(self) -> None:
        self._remove_all_then_delete(self.east2, self.east1)

    def test_remove_signed_in_the_other_region_then_delete_the_global_cluster(self) -> None:
        self._remove_all_then_delete(self.east1, self.east2)

    def test_unknown_global_cluster_or_cluster(self) -> None:
        self.assert_error(
            "GlobalClusterNotFoundFault",
            lambda: self.east2.remove_from_global_cluster(
                GlobalClusterIdentifier=unique("absent"), DbClusterIdentifier=self.sarn
            ),
            404,
        )
        absent = self.sarn.rsplit(":", 1)[0] + ":" + unique("absent")
        self.assert_error(
            "DBClusterNotFoundFault",
            lambda: self.east2.remove_from_global_cluster(GlobalClusterIdentifier=self.gid, DbClusterIdentifier=absent),
            404,
        )

    def test_deleting_the_secondary_leaves_the_global_cluster_and_the_primary_goes_last(self) -> None:
        self.assert_error(
            "InvalidGlobalClusterStateFault",
            lambda: self.east1.delete_db_cluster(DBClusterIdentifier=self.pid, SkipFinalSnapshot=True),
        )
        self.east2.delete_db_instance(DBInstanceIdentifier=f"{self.sid}-1", SkipFinalSnapshot=True)
        self.east2.delete_db_cluster(DBClusterIdentifier=self.sid, SkipFinalSnapshot=True)
        self.assertEqual(list(members(describe_global(self.east1, self.gid))), [self.parn])
        self.east1.delete_db_instance(DBInstanceIdentifier=f"{self.pid}-1", SkipFinalSnapshot=True)
        self.east1.delete_db_cluster(DBClusterIdentifier=self.pid, SkipFinalSnapshot=True)
        self.east1.delete_global_cluster(GlobalClusterIdentifier=self.gid)


class Switchover(GlobalDatabaseBase):
    def test_switchover_reports_its_state_then_swaps_the_roles(self) -> None:
        endpoint = describe_global(self.east1, self.gid)["Endpoint"]
        started = time.monotonic()
        g = self.east1.switchover_global_cluster(GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.sarn)[
            "GlobalCluster"
        ]
        state = g["FailoverState"]
        self.assertEqual(g["Status"], "switching-over")
        self.assertIn(state["Status"], ("pending", "switching-over"))
        self.assertEqual(state["FromDbClusterArn"], self.parn)
        self.assertEqual(state["ToDbClusterArn"], self.sarn)
        self.assertFalse(state["IsDataLossAllowed"])
        # The same call again while it runs: refused.
        self.assert_error(
            "InvalidGlobalClusterStateFault",
            lambda: self.east1.switchover_global_cluster(
                GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.sarn
            ),
            400,
        )
        seen: set[str] = set()

        def probe() -> dict | None:
            g = describe_global(self.east2, self.gid)
            if g.get("FailoverState"):
                seen.add(g["FailoverState"]["Status"])
                # Roles unchanged while it runs.
                self.assertTrue(members(g)[self.parn]["IsWriter"])
                return None
            return g

        g = wait_for("the switchover to complete", probe)
        self.assertEqual(g["Status"], "available")
        self.assertGreaterEqual(time.monotonic() - started, 0.9)  # EMULATOR_RDS_FAILOVER_SECONDS, default 1
        self.assertIn("switching-over", seen)
        self.assertLessEqual(seen, {"pending", "switching-over"})
        m = members(g)
        self.assertTrue(m[self.sarn]["IsWriter"])
        self.assertEqual(m[self.sarn]["Readers"], [self.parn])
        self.assertFalse(m[self.parn]["IsWriter"])
        self.assertEqual(m[self.parn]["Readers"], [])
        self.assertEqual(m[self.parn]["GlobalWriteForwardingStatus"], "disabled")
        self.assertEqual(g["Endpoint"], endpoint)
        self.assertEqual(self.writer_flags(), (False, True))
        self.assertEqual(describe_cluster(self.east1, self.pid)["GlobalClusterIdentifier"], self.gid)
        # And back again (planned fail-back), through FailoverGlobalCluster Switchover=true.
        g = self.east2.failover_global_cluster(
            GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.parn, Switchover=True
        )["GlobalCluster"]
        self.assertFalse(g["FailoverState"]["IsDataLossAllowed"])
        self.assertEqual(g["FailoverState"]["FromDbClusterArn"], self.sarn)
        m = members(self.wait_settled())
        self.assertTrue(m[self.parn]["IsWriter"])
        self.assertFalse(m[self.sarn]["IsWriter"])
        self.assertEqual(describe_global(self.east1, self.gid)["Endpoint"], endpoint)
        self.assertEqual(self.writer_flags(), (True, False))

    def test_failover_without_allow_data_loss_defaults_to_a_switchover(self) -> None:
        g = self.east2.failover_global_cluster(GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.sarn)[
            "GlobalCluster"
        ]
        self.assertFalse(g["FailoverState"]["IsDataLossAllowed"])
        self.assertTrue(members(self.wait_settled())[self.sarn]["IsWriter"])
        snaps = self.east1.describe_db_cluster_snapshots(DBClusterIdentifier=self.pid)["DBClusterSnapshots"]
        self.assertFalse([s for s in snaps if "unplanned-global-failover" in s["DBClusterSnapshotIdentifier"]])

    def test_errors(self) -> None:
        sw = self.east1.switchover_global_cluster
        self.assert_error(
            "GlobalClusterNotFoundFault",
            lambda: sw(GlobalClusterIdentifier=unique("absent"), TargetDbClusterIdentifier=self.sarn),
            404,
        )
        absent = self.sarn.rsplit(":", 1)[0] + ":" + unique("absent")
        self.assert_error(
            "DBClusterNotFoundFault",
            lambda: sw(GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=absent),
            404,
        )
        # Already the writer.
        self.assert_error(
            "InvalidGlobalClusterStateFault",
            lambda: sw(GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.parn),
        )
        # Not a member.
        other = self.east2.create_db_cluster(
            DBClusterIdentifier=unique("solo"),
            Engine=ENGINE,
            MasterUsername="admin_user",
            MasterUserPassword="not-a-secret-1",
        )["DBCluster"]["DBClusterArn"]
        self.assert_error(
            "InvalidGlobalClusterStateFault",
            lambda: sw(GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=other),
        )
        self.assert_error(
            "InvalidParameterCombination",
            lambda: self.east2.failover_global_cluster(
                GlobalClusterIdentifier=self.gid,
                TargetDbClusterIdentifier=self.sarn,
                AllowDataLoss=True,
                Switchover=True,
            ),
        )
        self.assert_error(
            "GlobalClusterNotFoundFault",
            lambda: self.east2.failover_global_cluster(
                GlobalClusterIdentifier=unique("absent"), TargetDbClusterIdentifier=self.sarn, AllowDataLoss=True
            ),
            404,
        )
        # Nothing started by the refused calls.
        self.assertNotIn("FailoverState", describe_global(self.east1, self.gid))

    def test_concurrent_identical_calls_start_one_switchover(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        def call(_: int) -> str:
            try:
                self.east1.switchover_global_cluster(
                    GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.sarn
                )
                return "started"
            except ClientError as e:
                return error_code(e)

        with ThreadPoolExecutor(max_workers=6) as pool:
            outcomes = sorted(pool.map(call, range(6)))
        self.assertEqual(outcomes, ["InvalidGlobalClusterStateFault"] * 5 + ["started"])
        self.assertTrue(members(self.wait_settled())[self.sarn]["IsWriter"])

    def test_no_removal_or_second_operation_while_one_runs(self) -> None:
        self.east1.switchover_global_cluster(GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.sarn)
        self.assert_error(
            "InvalidGlobalClusterStateFault",
            lambda: self.east2.failover_global_cluster(
                GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.sarn, AllowDataLoss=True
            ),
        )
        self.assert_error(
            "InvalidGlobalClusterStateFault",
            lambda: self.east2.remove_from_global_cluster(
                GlobalClusterIdentifier=self.gid, DbClusterIdentifier=self.sarn
            ),
        )
        self.wait_settled()


class UnplannedFailover(GlobalDatabaseBase):
    def test_failover_with_allow_data_loss_promotes_and_snapshots_the_old_primary(self) -> None:
        endpoint = describe_global(self.east2, self.gid)["Endpoint"]
        g = self.east2.failover_global_cluster(
            GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.sarn, AllowDataLoss=True
        )["GlobalCluster"]
        state = g["FailoverState"]
        self.assertEqual(g["Status"], "failing-over")
        self.assertIn(state["Status"], ("pending", "failing-over"))
        self.assertTrue(state["IsDataLossAllowed"])
        self.assertEqual((state["FromDbClusterArn"], state["ToDbClusterArn"]), (self.parn, self.sarn))
        g = self.wait_settled(self.east2)
        m = members(g)
        self.assertTrue(m[self.sarn]["IsWriter"])
        self.assertEqual(m[self.sarn]["Readers"], [self.parn])
        # The old primary is back as a secondary (its region was reachable all along).
        self.assertFalse(m[self.parn]["IsWriter"])
        self.assertEqual(m[self.parn]["SynchronizationStatus"], "connected")
        self.assertEqual(g["Endpoint"], endpoint)
        snaps = self.east1.describe_db_cluster_snapshots(DBClusterIdentifier=self.pid, SnapshotType="automated")[
            "DBClusterSnapshots"
        ]
        names = [s["DBClusterSnapshotIdentifier"] for s in snaps]
        self.assertTrue(
            any(
                re.fullmatch(rf"rds:unplanned-global-failover-{re.escape(self.pid)}-\d{{4}}(-\d\d){{4}}", n)
                for n in names
            ),
            names,
        )
        self.assertEqual(self.writer_flags(), (False, True))


class UnplannedFailoverDuringOutage(unittest.TestCase):
    """In-process (moto's mock, this package's RDS patch): cuts us-east-1 off with
    emulator.outage, which the test server's process offers no handle for."""

    def setUp(self) -> None:
        import boto3
        from moto import mock_aws

        from emulator import outage, rds

        if os.environ.get("EMULATOR_TEST_PLAIN") == "1":
            self.skipTest("tests this package's patch in-process; nothing to compare with plain moto")
        if not hasattr(outage, "cut") or not hasattr(outage, "restore"):
            self.skipTest("emulator.outage offers no cut()/restore()")
        rds.apply()
        self.outage = outage
        self.mock = mock_aws()
        self.mock.start()
        self.addCleanup(self.mock.stop)
        env = unittest.mock.patch.dict(os.environ, {"EMULATOR_RDS_FAILOVER_SECONDS": "0.2"})
        env.start()
        self.addCleanup(env.stop)

        def rds_client(region: str):
            return boto3.client("rds", region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing")

        self.east1, self.east2 = rds_client(PRIMARY), rds_client(SECONDARY)
        self.gid, self.pid, self.sid = "g-outage", "primary-outage", "secondary-outage"
        self.east1.create_global_cluster(GlobalClusterIdentifier=self.gid, Engine=ENGINE)
        self.parn = self.east1.create_db_cluster(
            DBClusterIdentifier=self.pid,
            Engine=ENGINE,
            GlobalClusterIdentifier=self.gid,
            MasterUsername="admin_user",
            MasterUserPassword="not-a-secret-1",
        )["DBCluster"]["DBClusterArn"]
        self.sarn = self.east2.create_db_cluster(
            DBClusterIdentifier=self.sid, Engine=ENGINE, GlobalClusterIdentifier=self.gid
        )["DBCluster"]["DBClusterArn"]
        self.addCleanup(outage.restore, PRIMARY)

    def failover_snapshots(self) -> list[str]:
        from moto.rds.models import rds_backends

        snaps = rds_backends[ACCOUNT][PRIMARY].cluster_snapshots
        return [k for k in snaps if k.startswith(f"rds:unplanned-global-failover-{self.pid}-")]

    def settled(self) -> dict:
        def probe() -> dict | None:
            g = describe_global(self.east2, self.gid)
            return None if g.get("FailoverState") else g

        return wait_for("FailoverState to clear", probe, 5)

    def test_failover_while_the_primary_region_is_cut_off_then_it_rejoins(self) -> None:
        self.outage.cut(PRIMARY)
        self.east2.failover_global_cluster(
            GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.sarn, AllowDataLoss=True
        )
        m = members(self.settled())
        self.assertTrue(m[self.sarn]["IsWriter"])
        self.assertFalse(m[self.parn]["IsWriter"])
        self.assertEqual(m[self.parn]["SynchronizationStatus"], "pending-resync")
        self.assertEqual(self.failover_snapshots(), [])
        # A planned switchover back needs every cluster healthy.
        with self.assertRaises(ClientError) as e:
            self.east2.switchover_global_cluster(GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.parn)
        self.assertEqual(error_code(e.exception), "InvalidGlobalClusterStateFault")
        # The region comes back: the old primary rejoins as a secondary, after the snapshot.
        self.outage.restore(PRIMARY)
        m = members(describe_global(self.east2, self.gid))
        self.assertEqual(m[self.parn]["SynchronizationStatus"], "connected")
        self.assertFalse(m[self.parn]["IsWriter"])
        self.assertEqual(len(self.failover_snapshots()), 1)
        self.east2.switchover_global_cluster(GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.parn)
        self.assertTrue(members(self.settled())[self.parn]["IsWriter"])

    def test_a_switchover_with_the_primary_region_cut_off_is_cancelled(self) -> None:
        self.outage.cut(PRIMARY)
        self.east2.switchover_global_cluster(GlobalClusterIdentifier=self.gid, TargetDbClusterIdentifier=self.sarn)
        seen: set[str] = set()

        def probe() -> dict | None:
            g = describe_global(self.east2, self.gid)
            if g.get("FailoverState"):
                seen.add(g["FailoverState"]["Status"])
                return None
            return g

        m = members(wait_for("the switchover to end", probe, 5))
        self.assertIn("cancelling", seen)
        self.assertTrue(m[self.parn]["IsWriter"])
        self.assertFalse(m[self.sarn]["IsWriter"])


if __name__ == "__main__":
    unittest.main()


class EngineUpgrades(GlobalDatabaseBase):
    def test_modify_global_cluster_major_upgrade_upgrades_every_member(self) -> None:
        before = describe_global(self.east1, self.gid)["EngineVersion"]
        major = int(before.split(".")[0]) + 1
        self.assert_error(
            "InvalidParameterCombination",
            lambda: self.east1.modify_global_cluster(GlobalClusterIdentifier=self.gid, EngineVersion=f"{major}.1"),
        )
        out = self.east1.modify_global_cluster(
            GlobalClusterIdentifier=self.gid, EngineVersion=f"{major}.1", AllowMajorVersionUpgrade=True
        )["GlobalCluster"]
        self.assertEqual(out["EngineVersion"], f"{major}.1")
        self.assertEqual(describe_global(self.east2, self.gid)["EngineVersion"], f"{major}.1")
        self.assertEqual(describe_cluster(self.east1, self.pid)["EngineVersion"], f"{major}.1")
        self.assertEqual(describe_cluster(self.east2, self.sid)["EngineVersion"], f"{major}.1")

    def test_a_downgrade_or_an_unknown_global_cluster_is_refused(self) -> None:
        before = describe_global(self.east1, self.gid)["EngineVersion"]
        older = f"{int(before.split('.')[0]) - 1}.1"
        self.assert_error(
            "InvalidParameterValue",
            lambda: self.east1.modify_global_cluster(
                GlobalClusterIdentifier=self.gid, EngineVersion=older, AllowMajorVersionUpgrade=True
            ),
        )
        self.assertEqual(describe_global(self.east1, self.gid)["EngineVersion"], before)
        self.assert_error(
            "GlobalClusterNotFoundFault",
            lambda: self.east1.modify_global_cluster(GlobalClusterIdentifier=unique("absent"), EngineVersion="99.1"),
        )
