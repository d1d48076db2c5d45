"""DynamoDB global tables version 2019.11.21: replicas and item replication across regions."""

from __future__ import annotations

import time
import unittest
import urllib.request
from typing import Any, Callable

from botocore.exceptions import ClientError

from emulator.tests.support import client, endpoint, error_code, unique, wait_for

PRIMARY, SECONDARY = "us-east-1", "us-east-2"


def key(pk: str, sk: str = "x") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class GlobalTableCase(unittest.TestCase):
    """A PAY_PER_REQUEST table `pk`/`sk` (S) with a GSI and SSE in us-east-1, as Tandem makes it."""

    def setUp(self) -> None:
        self.ddb = {PRIMARY: client("dynamodb", PRIMARY), SECONDARY: client("dynamodb", SECONDARY)}
        self.name = unique("table")
        self.ddb[PRIMARY].create_table(
            TableName=self.name,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True},
        )
        self.addCleanup(self._cleanup)

    def _cleanup(self) -> None:
        # Replicas first (a source region cannot be deleted while its replica exists).
        try:
            table = self.describe(PRIMARY)
        except ClientError:
            return
        for replica in table.get("Replicas", []):
            if replica["ReplicaStatus"] != "DELETING":
                try:
                    self.update_replicas(PRIMARY, [{"Delete": {"RegionName": replica["RegionName"]}}])
                except ClientError:
                    pass
        wait_for(lambda: not self.describe(PRIMARY).get("Replicas"))
        try:
            self.ddb[PRIMARY].delete_table(TableName=self.name)
        except ClientError:
            pass

    def describe(self, region: str) -> dict[str, Any]:
        return self.ddb[region].describe_table(TableName=self.name)["Table"]

    def exists(self, region: str) -> bool:
        try:
            self.describe(region)
        except ClientError as e:
            if error_code(e) == "ResourceNotFoundException":
                return False
            raise
        return True

    def update_replicas(self, region: str, updates: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return self.ddb[region].update_table(TableName=self.name, ReplicaUpdates=updates, **extra)["TableDescription"]

    def replica(self, region: str, of: str = SECONDARY) -> dict[str, Any] | None:
        return next((r for r in self.describe(region).get("Replicas", []) if r["RegionName"] == of), None)

    def add_replica(self) -> dict[str, Any]:
        answer = self.update_replicas(PRIMARY, [{"Create": {"RegionName": SECONDARY}}])
        self.assertTrue(
            wait_for(lambda: (self.replica(PRIMARY) or {}).get("ReplicaStatus") == "ACTIVE"),
            "replica ACTIVE in time",
        )
        return answer

    def item(self, region: str, k: dict[str, Any]) -> dict[str, Any] | None:
        return self.ddb[region].get_item(TableName=self.name, Key=k, ConsistentRead=True).get("Item")

    def replicated(self, region: str, k: dict[str, Any], wanted: dict[str, Any] | None) -> bool:
        return bool(wait_for(lambda: self.item(region, k) == wanted))


class Replicas(GlobalTableCase):
    def test_a_replica_is_created_with_the_table_shape_and_goes_creating_then_active(self) -> None:
        self.ddb[PRIMARY].put_item(TableName=self.name, Item={**key("before"), "v": {"N": "1"}, "g": {"S": "a"}})
        self.assertNotIn("StreamSpecification", self.describe(PRIMARY))

        answer = self.update_replicas(PRIMARY, [{"Create": {"RegionName": SECONDARY}}])
        self.assertEqual(answer["GlobalTableVersion"], "2019.11.21")
        self.assertEqual(answer["Replicas"][0]["RegionName"], SECONDARY)
        self.assertEqual(answer["Replicas"][0]["ReplicaStatus"], "CREATING")
        self.assertEqual(answer["TableStatus"], "UPDATING")
        # A table without a stream gets NEW_AND_OLD_IMAGES when it becomes global.
        self.assertEqual(answer["StreamSpecification"], {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})

        self.assertTrue(wait_for(lambda: (self.replica(PRIMARY) or {}).get("ReplicaStatus") == "ACTIVE"))
        source = self.describe(PRIMARY)
        self.assertEqual(source["TableStatus"], "ACTIVE")
        self.assertEqual(wait_for(lambda: self.describe(SECONDARY)["TableStatus"] == "ACTIVE"), True)

        replica = self.describe(SECONDARY)
        self.assertEqual(replica["TableArn"], source["TableArn"].replace(PRIMARY, SECONDARY))
        self.assertEqual(replica["KeySchema"], source["KeySchema"])
        self.assertEqual(
            sorted(replica["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            sorted(source["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
        )
        self.assertEqual([g["IndexName"] for g in replica["GlobalSecondaryIndexes"]], ["by-g"])
        self.assertEqual(replica["GlobalSecondaryIndexes"][0]["KeySchema"], [{"AttributeName": "g", "KeyType": "HASH"}])
        self.assertEqual(replica["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual(replica["StreamSpecification"], {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        self.assertTrue(replica["LatestStreamArn"].startswith(replica["TableArn"] + "/stream/"))
        self.assertEqual(replica["SSEDescription"]["Status"], "ENABLED")
        self.assertIn(f":kms:{SECONDARY}:", replica["SSEDescription"]["KMSMasterKeyArn"])
        self.assertEqual(replica["GlobalTableVersion"], "2019.11.21")
        # The existing item was copied, without any aws:rep:* attribute (2017.11.29 only).
        self.assertEqual(self.item(SECONDARY, key("before")), {**key("before"), "v": {"N": "1"}, "g": {"S": "a"}})
        # The replica's index serves the copied item.
        found = self.ddb[SECONDARY].query(
            TableName=self.name,
            IndexName="by-g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "a"}},
        )["Items"]
        self.assertEqual(len(found), 1)

    def test_describe_in_each_region_lists_the_other_region(self) -> None:
        self.add_replica()
        from_primary = self.describe(PRIMARY)["Replicas"]
        from_secondary = self.describe(SECONDARY)["Replicas"]
        self.assertEqual([r["RegionName"] for r in from_primary], [SECONDARY])
        self.assertEqual([r["RegionName"] for r in from_secondary], [PRIMARY])
        for replicas in (from_primary, from_secondary):
            self.assertEqual(replicas[0]["ReplicaStatus"], "ACTIVE")
            self.assertEqual(replicas[0]["GlobalSecondaryIndexes"], [{"IndexName": "by-g"}])
            self.assertTrue(replicas[0]["KMSMasterKeyId"].startswith(f"arn:aws:kms:{replicas[0]['RegionName']}:"))

    def test_a_table_without_replicas_reports_no_global_fields(self) -> None:
        table = self.describe(PRIMARY)
        self.assertNotIn("Replicas", table)
        self.assertNotIn("GlobalTableVersion", table)

    def test_deleting_the_replica_removes_the_table_in_its_region(self) -> None:
        self.add_replica()
        answer = self.update_replicas(PRIMARY, [{"Delete": {"RegionName": SECONDARY}}])
        self.assertEqual(answer["Replicas"][0]["ReplicaStatus"], "DELETING")
        self.assertEqual(self.describe(SECONDARY)["TableStatus"], "DELETING")
        self.assertTrue(wait_for(lambda: not self.exists(SECONDARY)), "replica table deleted in its region")
        table = self.describe(PRIMARY)
        self.assertNotIn("Replicas", table)
        self.assertNotIn("GlobalTableVersion", table)
        # The stream DynamoDB enabled stays; the table is regional again.
        self.assertEqual(table["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES")
        self.ddb[PRIMARY].put_item(TableName=self.name, Item=key("after"))
        self.assertFalse(self.exists(SECONDARY))
        # The region can hold a replica again.
        self.add_replica()
        self.assertEqual(self.item(SECONDARY, key("after")), key("after"))

    def test_delete_table_in_the_replica_region_removes_only_that_replica(self) -> None:
        self.add_replica()
        answer = self.ddb[SECONDARY].delete_table(TableName=self.name)["TableDescription"]
        self.assertEqual(answer["TableStatus"], "DELETING")
        self.assertEqual((self.replica(PRIMARY) or {}).get("ReplicaStatus"), "DELETING")
        self.assertTrue(wait_for(lambda: not self.exists(SECONDARY)))
        self.assertTrue(wait_for(lambda: "Replicas" not in self.describe(PRIMARY)))
        self.assertEqual(self.describe(PRIMARY)["TableStatus"], "ACTIVE")

    def test_delete_table_of_the_source_region_is_refused_while_its_replica_exists(self) -> None:
        self.add_replica()
        with self.assertRaises(ClientError) as ctx:
            self.ddb[PRIMARY].delete_table(TableName=self.name)
        self.assertEqual(error_code(ctx.exception), "ValidationException")
        self.assertIn("acted as a source region", str(ctx.exception))
        self.assertTrue(self.exists(PRIMARY) and self.exists(SECONDARY))
        # Leaf first: the replica, then the table.
        self.update_replicas(PRIMARY, [{"Delete": {"RegionName": SECONDARY}}])
        self.assertTrue(wait_for(lambda: "Replicas" not in self.describe(PRIMARY)))
        self.ddb[PRIMARY].delete_table(TableName=self.name)
        self.assertFalse(self.exists(PRIMARY))

    def test_the_stream_of_a_global_table_cannot_be_disabled(self) -> None:
        self.add_replica()
        with self.assertRaises(ClientError) as ctx:
            self.ddb[SECONDARY].update_table(TableName=self.name, StreamSpecification={"StreamEnabled": False})
        self.assertEqual(error_code(ctx.exception), "ValidationException")
        self.assertIn("Disabling Stream is not allowed", str(ctx.exception))

    def test_time_to_live_is_group_wide(self) -> None:
        self.add_replica()
        self.ddb[SECONDARY].update_time_to_live(
            TableName=self.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
        )
        ttl = self.ddb[PRIMARY].describe_time_to_live(TableName=self.name)["TimeToLiveDescription"]
        self.assertEqual(ttl, {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"})


class ReplicaErrors(GlobalTableCase):
    def assert_error(self, code: str, text: str, fn: Callable[[], Any]) -> None:
        with self.assertRaises(ClientError) as ctx:
            fn()
        self.assertEqual(error_code(ctx.exception), code, str(ctx.exception))
        self.assertIn(text, str(ctx.exception))

    def test_a_replica_of_a_missing_table_is_not_found(self) -> None:
        self.assert_error(
            "ResourceNotFoundException",
            "not found",
            lambda: self.ddb[PRIMARY].update_table(
                TableName=unique("missing"), ReplicaUpdates=[{"Create": {"RegionName": SECONDARY}}]
            ),
        )
        self.assertFalse(self.exists(SECONDARY))

    def test_a_second_create_of_an_existing_replica_is_refused(self) -> None:
        self.add_replica()
        for region, other in ((PRIMARY, SECONDARY), (SECONDARY, PRIMARY)):
            self.assert_error(
                "ValidationException",
                "because one or more replicas already existed as tables",
                lambda: self.update_replicas(region, [{"Create": {"RegionName": other}}]),
            )

    def test_a_same_name_table_in_the_target_region_is_refused(self) -> None:
        self.ddb[SECONDARY].create_table(
            TableName=self.name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.addCleanup(self.ddb[SECONDARY].delete_table, TableName=self.name)
        self.assert_error(
            "ValidationException",
            "already existed as tables",
            lambda: self.update_replicas(PRIMARY, [{"Create": {"RegionName": SECONDARY}}]),
        )
        self.assertNotIn("Replicas", self.describe(PRIMARY))

    def test_the_local_region_is_refused(self) -> None:
        for action in ("Create", "Delete"):
            self.assert_error(
                "ValidationException",
                "Cannot add or delete the local region through ReplicaUpdates",
                lambda: self.update_replicas(PRIMARY, [{action: {"RegionName": PRIMARY}}]),
            )

    def test_one_create_or_delete_per_call(self) -> None:
        self.assert_error(
            "ValidationException",
            "more than one create or delete replica actions not allowed",
            lambda: self.update_replicas(
                PRIMARY, [{"Create": {"RegionName": SECONDARY}}, {"Create": {"RegionName": "us-west-2"}}]
            ),
        )
        self.assert_error(
            "ValidationException",
            "more than one type of replica actions not allowed",
            lambda: self.update_replicas(
                PRIMARY, [{"Create": {"RegionName": SECONDARY}}, {"Delete": {"RegionName": "us-west-2"}}]
            ),
        )
        self.assertFalse(self.exists(SECONDARY))
        # Two identical Creates are one.
        self.update_replicas(PRIMARY, [{"Create": {"RegionName": SECONDARY}}, {"Create": {"RegionName": SECONDARY}}])
        self.assertEqual([r["RegionName"] for r in self.describe(PRIMARY)["Replicas"]], [SECONDARY])

    def test_replica_updates_must_be_the_only_operation(self) -> None:
        self.assert_error(
            "ValidationException",
            "Replica modification must be the only operation in the request",
            lambda: self.update_replicas(
                PRIMARY, [{"Create": {"RegionName": SECONDARY}}], DeletionProtectionEnabled=False
            ),
        )

    def test_deleting_a_region_that_is_not_a_replica_is_refused(self) -> None:
        self.assert_error(
            "ValidationException",
            "were not part of the global table. Please retry the request without these replicas: [us-east-2]",
            lambda: self.update_replicas(PRIMARY, [{"Delete": {"RegionName": SECONDARY}}]),
        )

    def test_an_unknown_region_is_refused(self) -> None:
        self.assert_error(
            "ValidationException",
            "Region mars-north-1 is not supported",
            lambda: self.update_replicas(PRIMARY, [{"Create": {"RegionName": "mars-north-1"}}]),
        )

    def test_a_second_replica_action_while_one_is_in_progress_is_in_use(self) -> None:
        started = time.monotonic()
        self.update_replicas(PRIMARY, [{"Create": {"RegionName": SECONDARY}}])
        try:
            self.update_replicas(PRIMARY, [{"Create": {"RegionName": "us-west-2"}}])
        except ClientError as e:
            self.assertEqual(error_code(e), "ResourceInUseException")
            self.assertIn("in use", str(e))
            return
        # Accepted (us-west-2 is cleaned up with the other replicas): only right if the first
        # replica had already become ACTIVE.
        if time.monotonic() - started < 0.5:
            self.fail("a replica Create while another replica is CREATING was accepted")
        self.skipTest("the replica became ACTIVE before the second call (slow machine)")

    def test_a_provisioned_table_needs_write_auto_scaling(self) -> None:
        name = unique("provisioned")
        ddb = self.ddb[PRIMARY]
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        )
        create = {"TableName": name, "ReplicaUpdates": [{"Create": {"RegionName": SECONDARY}}]}
        self.assert_error(
            "ValidationException",
            "Table write capacity should either be Pay-Per-Request or AutoScaled.",
            lambda: ddb.update_table(**create),
        )
        aas = client("application-autoscaling", PRIMARY)
        target = {
            "ServiceNamespace": "dynamodb",
            "ResourceId": f"table/{name}",
            "ScalableDimension": "dynamodb:table:WriteCapacityUnits",
        }
        aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=10)
        self.assert_error(
            "ValidationException", "AutoScaled", lambda: ddb.update_table(**create)
        )  # a target without a policy is not enough
        aas.put_scaling_policy(
            PolicyName="write",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 70.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "DynamoDBWriteCapacityUtilization"},
            },
            **target,
        )
        answer = ddb.update_table(**create)["TableDescription"]
        self.assertEqual(answer["Replicas"][0]["RegionName"], SECONDARY)
        replica = client("dynamodb", SECONDARY).describe_table(TableName=name)["Table"]
        self.assertEqual(replica["ProvisionedThroughput"]["WriteCapacityUnits"], 1)
        self.assertTrue(wait_for(lambda: ddb.describe_table(TableName=name)["Table"]["Replicas"][0]["ReplicaStatus"] == "ACTIVE"))
        ddb.update_table(TableName=name, ReplicaUpdates=[{"Delete": {"RegionName": SECONDARY}}])
        self.assertTrue(wait_for(lambda: "Replicas" not in ddb.describe_table(TableName=name)["Table"]))
        ddb.delete_table(TableName=name)


class ItemReplication(GlobalTableCase):
    def setUp(self) -> None:
        super().setUp()
        self.add_replica()

    def test_an_item_put_in_either_region_is_readable_in_the_other(self) -> None:
        self.ddb[PRIMARY].put_item(TableName=self.name, Item={**key("east-1"), "n": {"N": "1"}})
        self.assertTrue(self.replicated(SECONDARY, key("east-1"), {**key("east-1"), "n": {"N": "1"}}))
        self.ddb[SECONDARY].put_item(TableName=self.name, Item={**key("east-2"), "l": {"L": [{"S": "a"}]}})
        self.assertTrue(self.replicated(PRIMARY, key("east-2"), {**key("east-2"), "l": {"L": [{"S": "a"}]}}))

    def test_updates_and_deletes_replicate(self) -> None:
        self.ddb[PRIMARY].put_item(TableName=self.name, Item={**key("u"), "n": {"N": "1"}})
        self.ddb[SECONDARY].update_item(
            TableName=self.name,
            Key=key("u"),
            UpdateExpression="SET n = n + :one, s = :s",
            ExpressionAttributeValues={":one": {"N": "1"}, ":s": {"S": "from east-2"}},
        )
        wanted = {**key("u"), "n": {"N": "2"}, "s": {"S": "from east-2"}}
        self.assertTrue(self.replicated(PRIMARY, key("u"), wanted))
        # UpdateItem of a missing item creates it, in both regions.
        self.ddb[PRIMARY].update_item(
            TableName=self.name, Key=key("new"), UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "x"}}
        )
        self.assertTrue(self.replicated(SECONDARY, key("new"), {**key("new"), "v": {"S": "x"}}))
        self.ddb[PRIMARY].delete_item(TableName=self.name, Key=key("u"))
        self.assertTrue(self.replicated(SECONDARY, key("u"), None))

    def test_last_writer_wins(self) -> None:
        self.ddb[PRIMARY].put_item(TableName=self.name, Item={**key("k"), "w": {"S": "first"}})
        self.ddb[SECONDARY].put_item(TableName=self.name, Item={**key("k"), "w": {"S": "second"}})
        wanted = {**key("k"), "w": {"S": "second"}}
        self.assertTrue(self.replicated(PRIMARY, key("k"), wanted))
        self.assertEqual(self.item(SECONDARY, key("k")), wanted)

    def test_batch_write_replicates_puts_and_deletes(self) -> None:
        self.ddb[PRIMARY].put_item(TableName=self.name, Item=key("gone"))
        self.assertTrue(self.replicated(SECONDARY, key("gone"), key("gone")))
        self.ddb[PRIMARY].batch_write_item(
            RequestItems={
                self.name: [
                    {"PutRequest": {"Item": {**key("b1"), "v": {"S": "1"}}}},
                    {"PutRequest": {"Item": {**key("b2"), "v": {"S": "2"}}}},
                    {"DeleteRequest": {"Key": key("gone")}},
                ]
            }
        )
        self.assertTrue(self.replicated(SECONDARY, key("b1"), {**key("b1"), "v": {"S": "1"}}))
        self.assertTrue(self.replicated(SECONDARY, key("b2"), {**key("b2"), "v": {"S": "2"}}))
        self.assertTrue(self.replicated(SECONDARY, key("gone"), None))

    def test_transact_write_replicates_and_a_cancelled_one_does_not(self) -> None:
        self.ddb[SECONDARY].transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.name, "Item": {**key("t1"), "v": {"S": "1"}}}},
                {
                    "Update": {
                        "TableName": self.name,
                        "Key": key("t2"),
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "2"}},
                    }
                },
            ]
        )
        self.assertTrue(self.replicated(PRIMARY, key("t1"), {**key("t1"), "v": {"S": "1"}}))
        self.assertTrue(self.replicated(PRIMARY, key("t2"), {**key("t2"), "v": {"S": "2"}}))
        with self.assertRaises(ClientError):
            self.ddb[SECONDARY].transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.name, "Item": {**key("t3"), "v": {"S": "3"}}}},
                    {
                        "Put": {
                            "TableName": self.name,
                            "Item": key("t1"),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        self.assertIsNone(self.item(SECONDARY, key("t3")))
        self.assertIsNone(self.item(PRIMARY, key("t3")))
        self.assertEqual(self.item(PRIMARY, key("t1")), {**key("t1"), "v": {"S": "1"}})

    def test_partiql_writes_replicate(self) -> None:
        self.ddb[PRIMARY].execute_statement(
            Statement=f"INSERT INTO \"{self.name}\" VALUE {{'pk': 'p', 'sk': 'x', 'v': 'q'}}"
        )
        self.assertTrue(self.replicated(SECONDARY, key("p"), {**key("p"), "v": {"S": "q"}}))

    def test_writes_to_a_cut_region_arrive_when_it_is_restored(self) -> None:
        control = f"{endpoint()}/_emulator/outage/{SECONDARY}"
        urllib.request.urlopen(urllib.request.Request(control, method="POST"), timeout=10)
        try:
            self.ddb[PRIMARY].put_item(TableName=self.name, Item={**key("during"), "v": {"S": "cut"}})
            self.ddb[PRIMARY].put_item(TableName=self.name, Item={**key("during"), "v": {"S": "cut, later"}})
            self.ddb[PRIMARY].put_item(TableName=self.name, Item=key("deleted-during"))
            self.ddb[PRIMARY].delete_item(TableName=self.name, Key=key("deleted-during"))
            self.assertEqual((self.replica(PRIMARY) or {}).get("ReplicaStatus"), "ACTIVE")
        finally:
            urllib.request.urlopen(urllib.request.Request(control, method="DELETE"), timeout=10)
        self.assertEqual(self.item(SECONDARY, key("during")), {**key("during"), "v": {"S": "cut, later"}})
        self.assertIsNone(self.item(SECONDARY, key("deleted-during")))


if __name__ == "__main__":
    unittest.main()
