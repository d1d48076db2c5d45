"""DynamoDB global tables, version 2019.11.21 (Current): replicas and item replication.

moto 5.2.5 accepts `UpdateTable` with `ReplicaUpdates` and ignores it: nothing is created in
the other region and `DescribeTable` never reports `Replicas`. This module models the AWS
behaviour on moto's per-region backends (one server serves every region):

- `UpdateTable ReplicaUpdates [{Create: {RegionName}}]` creates the replica table in that
  region's backend (same name, key schema, attributes, GSIs, LSIs, billing mode, throughput,
  stream specification, SSE type, TTL; tags, PITR and deletion protection stay regional) and
  copies the existing items. A table without a stream gets NEW_AND_OLD_IMAGES.
- `DescribeTable` (and every answer carrying a TableDescription) in any member region lists
  the OTHER members in `Replicas` (`RegionName`, `ReplicaStatus`, ...) and says
  `GlobalTableVersion: 2019.11.21` while the table has replicas. A new replica is CREATING
  (its own table too, the table it was added from UPDATING) for
  `EMULATOR_DYNAMODB_REPLICA_SECONDS` (default 1), then ACTIVE; a removed one is DELETING for
  as long, then its table is gone in its region and it leaves the lists. Statuses are computed
  from timestamps when read.
- `{Delete: {RegionName}}`, or `DeleteTable` in a member region, removes that replica only.
- Items written in any member (PutItem, UpdateItem, DeleteItem, BatchWriteItem,
  TransactWriteItems, PartiQL) are applied to every other member at the end of the request
  (synchronous; last writer wins; no `aws:rep:*` attributes, which only version 2017.11.29
  adds). A write whose source or destination region is cut (`emulator.outage.is_cut`) is
  queued and applied, in order, when the region is restored (and at the start of every
  DynamoDB request, should a restore go unnoticed).
- `UpdateTimeToLive` is group-wide.

AWS references:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ReplicaDescription.html
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_versions.html
(DescribeTable in a replica region lists the other regions). Error codes and messages are the
ones AWS answers (measured AWS behaviour as recorded in aws-controllers-k8s' DynamoDB API quirks
and ScyllaDB's global-table tests, both run against AWS); each check below quotes its message.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from moto.dynamodb.exceptions import (
    MockValidationException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from . import outage

log = logging.getLogger(__name__)

GLOBAL_TABLE_VERSION = "2019.11.21"
# A region that was the endpoint of a replica Create cannot be removed (ReplicaUpdates Delete,
# or DeleteTable there) for 24 hours while that replica exists.
SOURCE_RULE_SECONDS = 24 * 3600

CREATING, ACTIVE, DELETING, UPDATING = "CREATING", "ACTIVE", "DELETING", "UPDATING"

# Messages AWS answers (see the module docstring).
MSG_ONLY_OPERATION = (
    "One or more parameter values were invalid: Replica modification must be the only operation in the request"
)
MSG_MIXED_TYPES = "Update table operation with more than one type of replica actions not allowed"
MSG_MORE_THAN_ONE = "Update table operation with more than one create or delete replica actions not allowed"
MSG_NO_ACTIONS = "There are no actions specified in the Replica Update Action of the request."
MSG_LOCAL_REGION = (
    "Cannot add or delete the local region through ReplicaUpdates. "
    "Use CreateTable, DeleteTable, or UpdateTable as required."
)
MSG_IN_USE = "The resource which you are attempting to change is in use."
MSG_SOURCE_RULE = (
    "Replica cannot be deleted because it has acted as a source region for new replica(s) "
    "being added to the table in the last 24 hours."
)
MSG_STREAM_DISABLE = (
    "One or more parameter values were invalid: Disabling Stream is not allowed for a Global Table replica."
)


def replica_seconds() -> float:
    """How long a replica stays CREATING / DELETING (EMULATOR_DYNAMODB_REPLICA_SECONDS, default 1)."""
    try:
        return max(0.0, float(os.environ.get("EMULATOR_DYNAMODB_REPLICA_SECONDS", "1")))
    except ValueError:
        return 1.0


# ---------------------------------------------------------------------------------------
# Replication groups
# ---------------------------------------------------------------------------------------


@dataclass
class Member:
    region: str
    created_at: float  # time.time(); 0 for the table the group started from
    source: str | None  # the region whose endpoint added this replica
    deleting_at: float | None = None

    def status(self, now: float) -> str:
        if self.deleting_at is not None:
            return DELETING
        if now < self.created_at + replica_seconds():
            return CREATING
        return ACTIVE


@dataclass
class Group:
    account: str
    name: str
    members: dict[str, Member] = field(default_factory=dict)  # creation order


@dataclass
class Pending:
    """A replicated write held back while its source or destination region is cut."""

    account: str
    source: str
    dest: str
    name: str
    hash_key: DynamoType
    range_key: DynamoType | None
    attrs: dict[str, Any] | None  # None: the item was deleted


# One lock for every DynamoDB request of the server (moto's DynamoDB is not thread-safe, and
# replication touches two regions at once).
_lock = threading.RLock()
# (account, region, table name) -> the group that region's table belongs to.
_membership: dict[tuple[str, str, str], Group] = {}
_pending: list[Pending] = []


class _Context(threading.local):
    def __init__(self) -> None:
        self.active = False  # inside a DynamoDB request
        self.dirty: list[tuple[str, str, str, DynamoType, DynamoType | None]] = []
        self.suppress = 0  # > 0 while applying replicated writes


_ctx = _Context()


@contextmanager
def _suppressed() -> Iterator[None]:
    _ctx.suppress += 1
    try:
        yield
    finally:
        _ctx.suppress -= 1


def group_of(account: str, region: str, name: str) -> Group | None:
    return _membership.get((account, region, name))


def _backend(account: str, region: str) -> DynamoDBBackend:
    return dynamodb_backends[account][region]


def _table(account: str, region: str, name: str) -> Table | None:
    return _backend(account, region).tables.get(name)


def _tick(now: float) -> None:
    """Ends the DELETING replicas whose time is up, then applies held-back writes."""
    for group in {id(g): g for g in _membership.values()}.values():
        for region, member in list(group.members.items()):
            if member.deleting_at is not None and now >= member.deleting_at + replica_seconds():
                _backend(group.account, region).tables.pop(group.name, None)
                del group.members[region]
                _membership.pop((group.account, region, group.name), None)
        if len(group.members) <= 1:
            for region in group.members:
                _membership.pop((group.account, region, group.name), None)
            group.members.clear()
    _flush()


def _sourced_recently(group: Group, region: str, now: float) -> bool:
    return any(
        m.source == region and now - m.created_at < SOURCE_RULE_SECONDS
        for r, m in group.members.items()
        if r != region
    )


def _in_progress(group: Group, now: float) -> bool:
    return any(m.status(now) in (CREATING, DELETING) for m in group.members.values())


# ---------------------------------------------------------------------------------------
# TableDescription: Replicas, GlobalTableVersion, TableStatus
# ---------------------------------------------------------------------------------------


def _replica_description(group: Group, member: Member, now: float) -> dict[str, Any]:
    """ReplicaDescription (botocore model dynamodb 2012-08-10)."""
    out: dict[str, Any] = {"RegionName": member.region, "ReplicaStatus": member.status(now)}
    table = _table(group.account, member.region, group.name)
    if table is not None:
        sse = table.sse_specification or {}
        if sse.get("Enabled") and sse.get("KMSMasterKeyId"):
            out["KMSMasterKeyId"] = sse["KMSMasterKeyId"]
        if table.global_indexes:
            out["GlobalSecondaryIndexes"] = [{"IndexName": g.name} for g in table.global_indexes]
    return out


def _decorate(table: Table, desc: dict[str, Any]) -> None:
    group = group_of(table.account_id, table.region_name, table.name)
    if group is None or table.region_name not in group.members:
        return
    now = time.time()
    me = group.members[table.region_name]
    others = [m for r, m in group.members.items() if r != table.region_name]
    if not others:
        return
    mine = me.status(now)
    if mine in (CREATING, DELETING):
        desc["TableStatus"] = mine
    elif any(m.source == table.region_name and m.status(now) == CREATING for m in others):
        # The table a replica is being added from is UPDATING until the replica is ACTIVE.
        desc["TableStatus"] = UPDATING
    desc["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
    desc["Replicas"] = [_replica_description(group, m, now) for m in others]


# ---------------------------------------------------------------------------------------
# Item replication
# ---------------------------------------------------------------------------------------


def _record(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> None:
    if _ctx.suppress:
        return
    if group_of(table.account_id, table.region_name, table.name) is None:
        return
    entry = (table.account_id, table.region_name, table.name, hash_key, range_key)
    if _ctx.active:
        _ctx.dirty.append(entry)
    else:  # a write made outside a DynamoDB request (another module): replicate now
        with _lock:
            _replicate([entry])


def _snapshot(item: Item | None) -> dict[str, Any] | None:
    return None if item is None else copy.deepcopy(item.to_json()["Attributes"])


def _apply(account: str, dest: str, name: str, hash_key: DynamoType, range_key: DynamoType | None,
           attrs: dict[str, Any] | None) -> None:
    table = _table(account, dest, name)
    if table is None:
        return
    with _suppressed():
        current = table.get_item(hash_key, range_key)
        if attrs is None:
            if current is not None:
                table.delete_item(hash_key, range_key)
        elif current is None or _snapshot(current) != attrs:
            table.put_item(copy.deepcopy(attrs))


def _replicate(entries: list[tuple[str, str, str, DynamoType, DynamoType | None]]) -> None:
    """Applies the current state of each written item to every other live member."""
    seen: set[tuple[Any, ...]] = set()
    for account, region, name, hash_key, range_key in entries:
        key = (account, region, name, hash_key, range_key)
        if key in seen:
            continue
        seen.add(key)
        group = group_of(account, region, name)
        if group is None or region not in group.members or group.members[region].deleting_at is not None:
            continue
        source = _table(account, region, name)
        if source is None:
            continue
        attrs = _snapshot(source.get_item(hash_key, range_key))
        for dest, member in group.members.items():
            if dest == region or member.deleting_at is not None:
                continue
            if outage.is_cut(region) or outage.is_cut(dest) or any(p.dest == dest for p in _pending):
                _pending.append(Pending(account, region, dest, name, hash_key, range_key, attrs))
                continue
            _apply(account, dest, name, hash_key, range_key, attrs)


def _flush() -> None:
    """Applies, in order, the held-back writes whose regions are both reachable again."""
    if not _pending:
        return
    kept: list[Pending] = []
    blocked: set[str] = set()
    for p in _pending:
        if p.dest in blocked or outage.is_cut(p.source) or outage.is_cut(p.dest):
            blocked.add(p.dest)
            kept.append(p)
            continue
        group = group_of(p.account, p.dest, p.name)
        member = group.members.get(p.dest) if group else None
        if member is not None and member.deleting_at is None:
            _apply(p.account, p.dest, p.name, p.hash_key, p.range_key, p.attrs)
    _pending[:] = kept


def pending_count() -> int:
    """Replicated writes waiting for a region to be restored (for tests and diagnostics)."""
    with _lock:
        return len(_pending)


# ---------------------------------------------------------------------------------------
# UpdateTable ReplicaUpdates
# ---------------------------------------------------------------------------------------


def _supported_regions(account: str) -> list[str]:
    return list(dynamodb_backends[account].regions)


def _autoscaled(account: str, region: str, resource_id: str, dimension: str) -> bool:
    """A write dimension with an Application Auto Scaling target AND a policy."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    aas = applicationautoscaling_backends[account][region]
    if resource_id not in aas.targets.get(dimension, {}):
        return False
    return any(
        p.service_namespace == "dynamodb" and p.resource_id == resource_id and p.scalable_dimension == dimension
        for p in aas.policies.values()
    )


def _check_write_capacity(table: Table) -> None:
    # AWS: adding a replica to a PROVISIONED table needs write auto scaling (target and
    # policy) on the table and on every GSI.
    if table.billing_mode != "PROVISIONED":
        return
    account, region, name = table.account_id, table.region_name, table.name
    if not _autoscaled(account, region, f"table/{name}", "dynamodb:table:WriteCapacityUnits"):
        raise MockValidationException("Table write capacity should either be Pay-Per-Request or AutoScaled.")
    for gsi in table.global_indexes:
        if not _autoscaled(account, region, f"table/{name}/index/{gsi.name}", "dynamodb:index:WriteCapacityUnits"):
            raise MockValidationException("GSI write capacity should either be Pay-Per-Request or AutoScaled.")


def _parse_replica_updates(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The one action type of the request and its actions (validated as AWS does)."""
    extra = [k for k, v in body.items() if k not in ("TableName", "ReplicaUpdates") and v is not None]
    if extra:
        raise MockValidationException(MSG_ONLY_OPERATION)
    kinds: set[str] = set()
    actions: list[dict[str, Any]] = []
    for element in body.get("ReplicaUpdates") or []:
        present = [k for k in ("Create", "Update", "Delete", "Disassociate") if element.get(k) is not None]
        if not present:
            raise MockValidationException(MSG_NO_ACTIONS)
        if len(present) > 1:
            raise MockValidationException(MSG_MIXED_TYPES)
        kinds.add(present[0])
        actions.append(element[present[0]] or {})
    if not actions:
        raise MockValidationException(MSG_NO_ACTIONS)
    if len(kinds) > 1:
        raise MockValidationException(MSG_MIXED_TYPES)
    kind = kinds.pop()
    if kind in ("Create", "Delete"):
        # Two identical Creates for one region are accepted as one.
        regions = {str(a.get("RegionName") or "") for a in actions}
        if len(regions) > 1:
            raise MockValidationException(MSG_MORE_THAN_ONE)
        actions = actions[:1]
    return kind, actions


def _not_member(region: str) -> MockValidationException:
    return MockValidationException(
        "Update global table operation failed because one or more replicas were not part of the "
        f"global table. Please retry the request without these replicas: [{region}]."
    )


def _already_exists(name: str) -> MockValidationException:
    return MockValidationException(
        f"Failed to create a the new replica of table with name: '{name}' because one or more "
        "replicas already existed as tables."
    )


def _deletion_protected(name: str, region: str) -> MockValidationException:
    return MockValidationException(
        f"Cannot delete table {name} in region {region} because it has deletion protection enabled. "
        "Disable deletion protection first."
    )


def _create_replica_table(table: Table, region: str, action: dict[str, Any]) -> None:
    """Creates the replica table in `region` and copies the items."""
    if not (table.stream_specification or {}).get("StreamEnabled"):
        # No stream (or a disabled one): DynamoDB enables NEW_AND_OLD_IMAGES (new label).
        # An enabled stream keeps its view type.
        table.set_stream_specification({"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    provisioned = table.billing_mode == "PROVISIONED"

    def capacity(throughput: dict[str, Any]) -> dict[str, Any]:
        return {k: throughput[k] for k in ("ReadCapacityUnits", "WriteCapacityUnits") if k in throughput}

    throughput = capacity(table.throughput) if provisioned else None
    override = (action.get("ProvisionedThroughputOverride") or {}).get("ReadCapacityUnits")
    if throughput is not None and override:
        throughput["ReadCapacityUnits"] = override
    gsis = []
    for gsi in table.global_indexes:
        spec: dict[str, Any] = {
            "IndexName": gsi.name,
            "KeySchema": copy.deepcopy(gsi.schema),
            "Projection": copy.deepcopy(gsi.projection),
        }
        if provisioned:
            spec["ProvisionedThroughput"] = capacity(gsi.throughput)
        gsis.append(spec)
    lsis = [
        {"IndexName": i.name, "KeySchema": copy.deepcopy(i.schema), "Projection": copy.deepcopy(i.projection)}
        for i in table.indexes
    ]
    sse = None
    if (table.sse_specification or {}).get("Enabled"):
        # The encryption type is group-wide, the key regional (the AWS managed key of the
        # replica region unless the Create names one).
        sse = {k: v for k, v in table.sse_specification.items() if k != "KMSMasterKeyId"}
        if action.get("KMSMasterKeyId"):
            sse["KMSMasterKeyId"] = action["KMSMasterKeyId"]
    replica = _backend(table.account_id, region).create_table(
        name=table.name,
        schema=copy.deepcopy(table.schema),
        throughput=throughput,
        attr=copy.deepcopy(table.attr),
        global_indexes=gsis or None,
        indexes=lsis or None,
        streams=copy.deepcopy(table.stream_specification),
        billing_mode=table.billing_mode,
        sse_specification=sse,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    replica.ttl = copy.deepcopy(table.ttl)  # TTL is group-wide
    with _suppressed():
        for item in table.all_items():
            replica.put_item(copy.deepcopy(item.to_json()["Attributes"]))


def update_replicas(account: str, home: str, body: dict[str, Any]) -> Table:
    """UpdateTable with ReplicaUpdates, issued in region `home`."""
    kind, actions = _parse_replica_updates(body)
    name = body.get("TableName") or ""
    try:
        table = _backend(account, home).get_table(name)
    except ResourceNotFoundException:
        raise ResourceNotFoundException(table_name=name)
    name = table.name
    if kind == "Disassociate":
        raise MockValidationException("Disassociate replica actions are not modelled by the emulator")
    supported = _supported_regions(account)
    for action in actions:
        region = str(action.get("RegionName") or "")
        if region not in supported:
            raise MockValidationException(
                f"Region {region} is not supported. The latest version of global tables are only "
                f"supported in the following regions: [{', '.join(supported)}]."
            )
        if region == home:
            raise MockValidationException(MSG_LOCAL_REGION)
    now = time.time()
    group = group_of(account, home, name)
    members = group.members if group else {}
    action = actions[0]
    region = str(action["RegionName"])
    if kind == "Create":
        if region in members or _table(account, region, name) is not None:
            raise _already_exists(name)
        if group is not None and _in_progress(group, now):
            raise ResourceInUseException(MSG_IN_USE)
        _check_write_capacity(table)
        _create_replica_table(table, region, action)
        if group is None:
            group = Group(account, name, {home: Member(home, 0.0, None)})
            _membership[(account, home, name)] = group
        group.members[region] = Member(region, now, home)
        _membership[(account, region, name)] = group
        return table
    # Update and Delete name a member of the group.
    if region not in members:
        raise _not_member(region)
    assert group is not None
    if kind == "Delete":
        target = _table(account, region, name)
        if target is not None and target.deletion_protection_enabled:
            raise _deletion_protected(name, region)
        if _sourced_recently(group, region, now):
            raise MockValidationException(MSG_SOURCE_RULE)
        if _in_progress(group, now):
            raise ResourceInUseException(MSG_IN_USE)
        members[region].deleting_at = now
        return table
    # Update: per-replica settings. Only the read capacity override is applied; the other
    # settings (table class, GSI overrides, KMS key) are accepted and not modelled.
    for action in actions:
        region = str(action["RegionName"])
        if region not in members:
            raise _not_member(region)
        if not any(v for k, v in action.items() if k != "RegionName"):
            raise MockValidationException(MSG_NO_ACTIONS)
    if _in_progress(group, now):
        raise ResourceInUseException(MSG_IN_USE)
    for action in actions:
        override = (action.get("ProvisionedThroughputOverride") or {}).get("ReadCapacityUnits")
        target = _table(account, str(action["RegionName"]), name)
        if override and target is not None and target.billing_mode == "PROVISIONED":
            target.throughput["ReadCapacityUnits"] = override
    return table


# ---------------------------------------------------------------------------------------
# Patches
# ---------------------------------------------------------------------------------------


def apply() -> None:
    original_call_action = DynamoHandler.call_action
    original_update_table = DynamoHandler.update_table
    original_describe = Table.describe
    original_put = Table.put_item
    original_delete_item = Table.delete_item
    original_update_item = DynamoDBBackend.update_item
    original_delete_table = DynamoDBBackend.delete_table
    original_ttl = DynamoDBBackend.update_time_to_live

    def call_action(self: DynamoHandler) -> Any:
        # Every DynamoDB request: end replicas whose DELETING time is up, apply held-back
        # writes, run the action, then replicate the items it wrote.
        with _lock:
            _tick(time.time())
            _ctx.active, _ctx.dirty = True, []
            try:
                return original_call_action(self)
            finally:
                dirty, _ctx.active, _ctx.dirty = _ctx.dirty, False, []
                try:
                    _replicate(dirty)
                except Exception:  # noqa: BLE001 - the write itself succeeded
                    log.exception("replicating DynamoDB writes failed")

    def update_table(self: DynamoHandler) -> Any:
        body = self.body
        account, region = self.current_account, self.region
        if body.get("ReplicaUpdates") is not None:
            # AWS UpdateTable ReplicaUpdates (global tables 2019.11.21); moto 5.2.5 ignores it.
            # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html
            table = update_replicas(account, region, body)
            return DynamoResult(table.describe())
        name = body.get("TableName") or ""
        try:
            table = self.dynamodb_backend.get_table(name)
        except ResourceNotFoundException:
            table = None
        group = group_of(account, region, table.name) if table is not None else None
        if group is not None:
            # While a replica is being added or removed any other UpdateTable is
            # ResourceInUseException; the stream of a global table cannot be disabled.
            stream = body.get("StreamSpecification")
            if stream is not None and not stream.get("StreamEnabled"):
                raise MockValidationException(MSG_STREAM_DISABLE)
            if _in_progress(group, time.time()):
                raise ResourceInUseException(MSG_IN_USE)
        return original_update_table(self)

    def describe(self: Table, base_key: str = "TableDescription") -> dict[str, Any]:
        result = original_describe(self, base_key)
        _decorate(self, result[base_key])
        return result

    def put_item(self: Table, *args: Any, **kwargs: Any) -> Item:
        item = original_put(self, *args, **kwargs)
        _record(self, item.hash_key, item.range_key)
        return item

    def delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
        item = original_delete_item(self, hash_key, range_key)
        if item is not None:
            _record(self, hash_key, range_key)
        return item

    def update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Item:
        item = original_update_item(self, table_name, *args, **kwargs)
        _record(self.get_table(table_name), item.hash_key, item.range_key)
        return item

    def delete_table(self: DynamoDBBackend, name: str) -> Table:
        # 2019.11.21: DeleteTable in a member region removes that replica only (DELETING,
        # then gone); it is refused while that region is the source of a replica added in
        # the last 24 hours. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html
        with _lock:
            table = self.get_table(name)
            group = group_of(self.account_id, self.region_name, table.name)
            if group is None or self.region_name not in group.members:
                return original_delete_table(self, name)
            now = time.time()
            member = group.members[self.region_name]
            status = member.status(now)
            if status == DELETING:
                raise ResourceInUseException(MSG_IN_USE)
            if status == CREATING:
                raise ResourceInUseException(
                    f"Attempt to change a resource which is still in use: Table: {table.name} is being used."
                )
            if table.deletion_protection_enabled:
                raise _deletion_protected(table.name, self.region_name)
            if _sourced_recently(group, self.region_name, now):
                raise MockValidationException(MSG_SOURCE_RULE)
            if _in_progress(group, now):
                raise ResourceInUseException(MSG_IN_USE)
            member.deleting_at = now
            return table

    def update_time_to_live(self: DynamoDBBackend, table_name: str, ttl_spec: dict[str, Any]) -> None:
        # TTL is a group-wide setting of a global table.
        original_ttl(self, table_name, ttl_spec)
        with _lock:
            table = self.get_table(table_name)
            group = group_of(self.account_id, self.region_name, table.name)
            for region, member in (group.members.items() if group else []):
                other = _table(self.account_id, region, table.name)
                if region != self.region_name and member.deleting_at is None and other is not None:
                    other.ttl = copy.deepcopy(table.ttl)

    def on_outage_change() -> None:
        # Replication resumes as soon as a region is restored.
        with _lock:
            _flush()

    subscribe = getattr(outage, "subscribe", None)
    if subscribe is not None:
        subscribe(on_outage_change)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    DynamoHandler.update_table = update_table  # type: ignore[method-assign]
    Table.describe = describe  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    DynamoDBBackend.delete_table = delete_table  # type: ignore[method-assign]
    DynamoDBBackend.update_time_to_live = update_time_to_live  # type: ignore[method-assign]
