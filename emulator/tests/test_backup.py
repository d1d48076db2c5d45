"""AWS Backup: plans (a deleted plan's name is free again)."""

import unittest

from botocore.exceptions import ClientError

from emulator.tests.support import client, error_code, unique


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


if __name__ == "__main__":
    unittest.main()
