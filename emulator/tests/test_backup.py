"""AWS Backup: plans (a deleted plan's name is free again)."""

import unittest

from botocore.exceptions import ClientError

from urllib.parse import quote

from emulator.tests.support import client, error_code, signed_json, unique


def plan(name: str) -> dict:
    return {
        "BackupPlanName": name,
        "Rules": [{"RuleName": "daily", "TargetBackupVaultName": "vault", "ScheduleExpression": "cron(0 5 * * ? *)"}],
    }


class BackupPlanNames(unittest.TestCase):
    def setUp(self) -> None:
        self.backup = client("backup", "us-east-1")

    def test_a_deleted_plans_name_can_be_reused(self) -> None:
        name = unique("plan")
        first = self.backup.create_backup_plan(BackupPlan=plan(name))["BackupPlanId"]
        self.backup.delete_backup_plan(BackupPlanId=first)
        second = self.backup.create_backup_plan(BackupPlan=plan(name))["BackupPlanId"]
        self.assertNotEqual(first, second)
        live = [p for p in self.backup.list_backup_plans(IncludeDeleted=False)["BackupPlansList"] if p["BackupPlanName"] == name]
        self.assertEqual([p["BackupPlanId"] for p in live], [second])
        every = [p for p in self.backup.list_backup_plans(IncludeDeleted=True)["BackupPlansList"] if p["BackupPlanName"] == name]
        self.assertEqual({p["BackupPlanId"] for p in every}, {first, second})
        self.assertIn("DeletionDate", self.backup.get_backup_plan(BackupPlanId=first))

    def test_a_live_plans_name_is_taken(self) -> None:
        name = unique("plan")
        self.backup.create_backup_plan(BackupPlan=plan(name))
        with self.assertRaises(ClientError) as e:
            self.backup.create_backup_plan(BackupPlan=plan(name))
        self.assertEqual(error_code(e.exception), "AlreadyExistsException")


ROLE = "arn:aws:iam::123456789012:role/backup"
CLUSTER = "arn:aws:rds:us-east-1:123456789012:cluster:db-primary"


class BackupSelections(unittest.TestCase):
    def setUp(self) -> None:
        self.backup = client("backup", "us-east-1")
        self.plan_id = self.backup.create_backup_plan(BackupPlan=plan(unique("plan")))["BackupPlanId"]

    def selection(self, name: str) -> dict:
        return {"SelectionName": name, "IamRoleArn": ROLE, "Resources": [CLUSTER]}

    def test_create_get_list_delete(self) -> None:
        created = self.backup.create_backup_selection(
            BackupPlanId=self.plan_id, BackupSelection=self.selection("aurora"), CreatorRequestId="tandem-aurora"
        )
        sid = created["SelectionId"]
        self.assertEqual(created["BackupPlanId"], self.plan_id)
        self.assertIn("CreationDate", created)
        got = self.backup.get_backup_selection(BackupPlanId=self.plan_id, SelectionId=sid)
        self.assertEqual(got["SelectionId"], sid)
        self.assertEqual(got["BackupPlanId"], self.plan_id)
        self.assertEqual(got["CreatorRequestId"], "tandem-aurora")
        self.assertEqual(got["BackupSelection"]["SelectionName"], "aurora")
        self.assertEqual(got["BackupSelection"]["IamRoleArn"], ROLE)
        self.assertEqual(got["BackupSelection"]["Resources"], [CLUSTER])
        listed = self.backup.list_backup_selections(BackupPlanId=self.plan_id)["BackupSelectionsList"]
        self.assertEqual([(s["SelectionId"], s["SelectionName"], s["IamRoleArn"]) for s in listed], [(sid, "aurora", ROLE)])
        # The plan cannot go while it has a selection.
        with self.assertRaises(ClientError) as e:
            self.backup.delete_backup_plan(BackupPlanId=self.plan_id)
        self.assertEqual(error_code(e.exception), "InvalidRequestException")
        self.backup.delete_backup_selection(BackupPlanId=self.plan_id, SelectionId=sid)
        self.assertEqual(self.backup.list_backup_selections(BackupPlanId=self.plan_id)["BackupSelectionsList"], [])
        with self.assertRaises(ClientError) as e:
            self.backup.get_backup_selection(BackupPlanId=self.plan_id, SelectionId=sid)
        self.assertEqual(error_code(e.exception), "ResourceNotFoundException")
        with self.assertRaises(ClientError) as e:
            self.backup.delete_backup_selection(BackupPlanId=self.plan_id, SelectionId=sid)
        self.assertEqual(error_code(e.exception), "ResourceNotFoundException")
        self.backup.delete_backup_plan(BackupPlanId=self.plan_id)

    def test_the_same_creator_request_id_returns_the_same_selection(self) -> None:
        a = self.backup.create_backup_selection(
            BackupPlanId=self.plan_id, BackupSelection=self.selection("aurora"), CreatorRequestId="tok-1"
        )["SelectionId"]
        b = self.backup.create_backup_selection(
            BackupPlanId=self.plan_id, BackupSelection=self.selection("aurora"), CreatorRequestId="tok-1"
        )["SelectionId"]
        self.assertEqual(a, b)
        self.assertEqual(len(self.backup.list_backup_selections(BackupPlanId=self.plan_id)["BackupSelectionsList"]), 1)

    def test_a_selection_needs_a_live_plan(self) -> None:
        self.backup.delete_backup_plan(BackupPlanId=self.plan_id)
        with self.assertRaises(ClientError) as e:
            self.backup.create_backup_selection(BackupPlanId=self.plan_id, BackupSelection=self.selection("x"))
        self.assertEqual(error_code(e.exception), "ResourceNotFoundException")


class RecoveryPoints(unittest.TestCase):
    def setUp(self) -> None:
        self.east1 = client("backup", "us-east-1")
        self.east2 = client("backup", "us-east-2")
        self.vault1, self.vault2 = unique("vault-primary"), unique("vault-secondary")
        self.east1.create_backup_vault(BackupVaultName=self.vault1)
        self.vault2_arn = self.east2.create_backup_vault(BackupVaultName=self.vault2)["BackupVaultArn"]

    def test_backup_job_copy_job_list_and_delete(self) -> None:
        job = self.east1.start_backup_job(BackupVaultName=self.vault1, ResourceArn=CLUSTER, IamRoleArn=ROLE)
        arn = job["RecoveryPointArn"]
        self.assertTrue(arn.startswith("arn:aws:rds:us-east-1:123456789012:cluster-snapshot:awsbackup:job-"), arn)
        described = self.east1.describe_backup_job(BackupJobId=job["BackupJobId"])
        self.assertEqual((described["State"], described["RecoveryPointArn"]), ("COMPLETED", arn))
        points = self.east1.list_recovery_points_by_backup_vault(BackupVaultName=self.vault1)["RecoveryPoints"]
        self.assertEqual([(p["RecoveryPointArn"], p["ResourceArn"], p["Status"]) for p in points], [(arn, CLUSTER, "COMPLETED")])
        self.assertEqual(points[0]["ResourceType"], "Aurora")
        self.assertEqual(points[0]["BackupVaultName"], self.vault1)
        # Copied across regions into the secondary vault.
        self.east1.start_copy_job(
            RecoveryPointArn=arn, SourceBackupVaultName=self.vault1, DestinationBackupVaultArn=self.vault2_arn, IamRoleArn=ROLE
        )
        copies = self.east2.list_recovery_points_by_backup_vault(BackupVaultName=self.vault2)["RecoveryPoints"]
        self.assertEqual(len(copies), 1)
        self.assertTrue(copies[0]["RecoveryPointArn"].startswith("arn:aws:rds:us-east-2:"))
        self.assertEqual(copies[0]["ResourceArn"], CLUSTER)
        # A vault with recovery points cannot be deleted; emptied, it can.
        with self.assertRaises(ClientError) as e:
            self.east1.delete_backup_vault(BackupVaultName=self.vault1)
        self.assertEqual(error_code(e.exception), "InvalidRequestException")
        self.assertEqual(
            self.east1.describe_recovery_point(BackupVaultName=self.vault1, RecoveryPointArn=arn)["RecoveryPointArn"], arn
        )
        self.east1.delete_recovery_point(BackupVaultName=self.vault1, RecoveryPointArn=arn)
        self.assertEqual(self.east1.list_recovery_points_by_backup_vault(BackupVaultName=self.vault1)["RecoveryPoints"], [])
        self.east1.delete_backup_vault(BackupVaultName=self.vault1)
        with self.assertRaises(ClientError) as e:
            self.east1.describe_backup_vault(BackupVaultName=self.vault1)
        self.assertEqual(error_code(e.exception), "ResourceNotFoundException")

    def test_an_empty_vault_lists_no_recovery_points_and_an_unknown_one_is_not_found(self) -> None:
        self.assertEqual(self.east2.list_recovery_points_by_backup_vault(BackupVaultName=self.vault2)["RecoveryPoints"], [])
        with self.assertRaises(ClientError) as e:
            self.east2.list_recovery_points_by_backup_vault(BackupVaultName=unique("absent"))
        self.assertEqual(error_code(e.exception), "ResourceNotFoundException")


class RustSdkPaths(unittest.TestCase):
    def test_list_tags_without_the_trailing_slash(self) -> None:
        backup = client("backup", "us-east-1")
        vault = unique("vault")
        arn = backup.create_backup_vault(BackupVaultName=vault, BackupVaultTags={"tandem:stack": "t1"})["BackupVaultArn"]
        self.assertEqual(backup.list_tags(ResourceArn=arn)["Tags"], {"tandem:stack": "t1"})
        # As the AWS SDK for Rust sends it: /tags/{arn} without the trailing slash.
        self.assertEqual(signed_json("backup", "us-east-1", "GET", f"/tags/{quote(arn, safe='')}")["Tags"], {"tandem:stack": "t1"})

    def test_collections_without_the_trailing_slash(self) -> None:
        backup = client("backup", "us-east-1")
        vault = unique("vault")
        backup.create_backup_vault(BackupVaultName=vault)
        plan_id = backup.create_backup_plan(BackupPlan=plan(unique("plan")))["BackupPlanId"]
        body = f'{{"BackupSelection": {{"SelectionName": "s", "IamRoleArn": "{ROLE}", "Resources": ["{CLUSTER}"]}}}}'
        created = signed_json("backup", "us-east-1", "PUT", f"/backup/plans/{plan_id}/selections", body.encode())
        listed = signed_json("backup", "us-east-1", "GET", f"/backup/plans/{plan_id}/selections")
        self.assertEqual([s["SelectionId"] for s in listed["BackupSelectionsList"]], [created["SelectionId"]])
        points = signed_json("backup", "us-east-1", "GET", f"/backup-vaults/{vault}/recovery-points")
        self.assertEqual(points["RecoveryPoints"], [])


class UpdateBackupPlan(unittest.TestCase):
    def test_update_replaces_the_rules_with_a_new_version(self) -> None:
        backup = client("backup", "us-east-1")
        name = unique("plan")
        created = backup.create_backup_plan(BackupPlan=plan(name))
        doc = plan(name)
        doc["Rules"][0]["ScheduleExpression"] = "cron(0 6 * * ? *)"
        updated = backup.update_backup_plan(BackupPlanId=created["BackupPlanId"], BackupPlan=doc)
        self.assertEqual(updated["BackupPlanId"], created["BackupPlanId"])
        self.assertEqual(updated["BackupPlanArn"], created["BackupPlanArn"])
        self.assertNotEqual(updated["VersionId"], created["VersionId"])
        got = backup.get_backup_plan(BackupPlanId=created["BackupPlanId"])
        self.assertEqual(got["VersionId"], updated["VersionId"])
        self.assertEqual(got["BackupPlan"]["Rules"][0]["ScheduleExpression"], "cron(0 6 * * ? *)")
        with self.assertRaises(ClientError) as e:
            backup.update_backup_plan(BackupPlanId=unique("absent"), BackupPlan=doc)
        self.assertEqual(error_code(e.exception), "ResourceNotFoundException")


if __name__ == "__main__":
    unittest.main()
