"""S3 fidelity fixes."""

from __future__ import annotations

import os
import threading
from typing import Any

import moto.core.utils as core_utils
from moto.core.responses import ActionResult
from moto.s3.exceptions import ReplicationConfigurationNotFoundError
from moto.s3.models import FakeDeleteMarker, FakeKey, S3Backend
from moto.s3.responses import S3Response

# Root elements of S3 answers that moto 5.2.5's serializer names `<Operation>Response`
# because its model extras (moto/s3/2006-03-01/service-2.moto-extras.json) lack them. The
# S3 API reference gives each answer's root element; strict clients (the AWS SDK for Rust)
# refuse any other.
RESULT_ROOTS = {
    # https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html:
    # <VersioningConfiguration><Status>...</Status><MfaDelete>...</MfaDelete></VersioningConfiguration>
    "GetBucketVersioning": "VersioningConfiguration",
}


def _patch_service_model() -> None:
    original_load = core_utils._load_service_model

    def load_service_model(service_name: str, model_name: str) -> dict[str, Any]:
        model = original_load(service_name, model_name)
        if service_name == "s3" and model_name == "service-2":
            for operation, root in RESULT_ROOTS.items():
                model["operations"][operation]["output"]["resultWrapper"] = root
        return model

    core_utils._load_service_model = load_service_model
    core_utils.get_service_model.cache_clear()




# ---------------------------------------------------------------------------------------
# Replication (S3 Replication, live replication of new objects).
#
# AWS: "Replication enables automatic, asynchronous copying of objects across Amazon S3
# buckets." An object put into a bucket with a replication configuration whose enabled rule
# matches its key (Filter Prefix / Tag / And, or the rule's legacy Prefix) is copied to the
# rule's destination bucket, keeping its key, version ID, metadata and tags. HeadObject and
# GetObject report `x-amz-replication-status`: PENDING on the source until the copy is
# made, then COMPLETED (FAILED when it cannot be made), and REPLICA on the copy. Replicas
# are not replicated again. With DeleteMarkerReplication Enabled, a delete marker added to
# the source (DeleteObject without a version ID) is replicated; deletes of a given version
# never are.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication.html
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-marker-replication.html
# moto 5.2.5 stores the configuration and replicates nothing.
# ---------------------------------------------------------------------------------------

REPLICATION_HEADER = "x-amz-replication-status"
_replication_lock = threading.RLock()


def replication_delay() -> float:
    """Seconds an object stays PENDING before it is copied (EMULATOR_S3_REPLICATION_DELAY_SECONDS)."""
    try:
        return max(0.0, float(os.environ.get("EMULATOR_S3_REPLICATION_DELAY_SECONDS", "1")))
    except ValueError:
        return 1.0


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _tags_of(tag_elements: Any) -> dict[str, str]:
    return {t.get("Key", ""): t.get("Value") or "" for t in _as_list(tag_elements) if isinstance(t, dict)}


def _rule_matches(rule: dict[str, Any], key: str, tags: dict[str, str]) -> bool:
    if str(rule.get("Status", "")) != "Enabled":
        return False
    if "Filter" not in rule:
        return key.startswith(rule.get("Prefix") or "")
    flt = rule.get("Filter") or {}
    if "And" in flt:
        cond = flt.get("And") or {}
        prefix = cond.get("Prefix") or ""
        wanted = _tags_of(cond.get("Tag"))
    else:
        prefix = flt.get("Prefix") or ""
        wanted = _tags_of(flt.get("Tag"))
    return key.startswith(prefix) and all(tags.get(k) == v for k, v in wanted.items())


def _matching_rule(replication: dict[str, Any] | None, key: str, tags: dict[str, str]) -> dict[str, Any] | None:
    """The enabled rule that applies to `key` (the highest Priority wins, as on AWS)."""
    if not replication:
        return None
    rules = [r for r in _as_list(replication.get("Rule")) if _rule_matches(r, key, tags)]
    if not rules:
        return None
    return max(rules, key=lambda r: int(r.get("Priority") or 0))


def _destination_bucket(rule: dict[str, Any]) -> str:
    arn = str((rule.get("Destination") or {}).get("Bucket") or "")
    return arn.split(":::", 1)[-1]


def _find_version(backend: S3Backend, bucket_name: str, key_name: str, version_id: str) -> Any:
    try:
        bucket = backend.get_bucket(bucket_name)
    except Exception:  # noqa: BLE001 - the bucket went away: nothing to replicate
        return None
    for k in bucket.keys.getlist(key_name, []):
        if str(k.version_id) == str(version_id):
            return k
    return None


def _apply_replication(original_put: Any, original_delete: Any) -> None:
    def replicate_object(backend: S3Backend, bucket_name: str, key_name: str, version_id: str) -> None:
        with _replication_lock:
            source = _find_version(backend, bucket_name, key_name, version_id)
            if not isinstance(source, FakeKey):
                return
            try:
                src_bucket = backend.get_bucket(bucket_name)
                tags = backend.tagger.get_tag_dict_for_resource(source.arn)
                rule = _matching_rule(getattr(src_bucket, "replication", None), key_name, tags)
                if rule is None:
                    source._emulator_replication = None  # type: ignore[attr-defined]
                    return
                dest_name = _destination_bucket(rule)
                dest_bucket = backend.get_bucket(dest_name)
                if not dest_bucket.is_versioned:
                    raise ValueError(f"destination bucket {dest_name} is not versioned")
                storage = (rule.get("Destination") or {}).get("StorageClass") or source.storage_class
                replica = original_put(
                    backend,
                    dest_name,
                    key_name,
                    source.value,
                    storage=storage,
                    encryption=source.encryption,
                    kms_key_id=source.kms_key_id,
                    bucket_key_enabled=source.bucket_key_enabled,
                )
                # The replica keeps the source's version ID, metadata and tags.
                if source._version_id and source._version_id != "null":
                    replica._version_id = source._version_id
                replica.set_metadata(dict(source.metadata))
                if tags:
                    backend.put_object_tagging(replica, tags)
                replica._emulator_replication = "REPLICA"  # type: ignore[attr-defined]
                source._emulator_replication = "COMPLETED"  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - any failure is FAILED, as on AWS
                source._emulator_replication = "FAILED"  # type: ignore[attr-defined]

    def replicate_delete_marker(backend: S3Backend, dest_name: str, key_name: str, marker_version: str) -> None:
        with _replication_lock:
            try:
                dest_bucket = backend.get_bucket(dest_name)
                current = dest_bucket.keys.get(key_name)
            except Exception:  # noqa: BLE001 - no destination: nothing to mark
                return
            if current is None or isinstance(current, FakeDeleteMarker):
                return
            marker = FakeDeleteMarker(key=current)
            marker._version_id = marker_version
            dest_bucket.keys[key_name] = marker

    def schedule(fn: Any, *args: Any) -> None:
        timer = threading.Timer(replication_delay(), fn, args)
        timer.daemon = True
        timer.start()

    def put_object(self: S3Backend, bucket_name: str, key_name: str, value: bytes, *args: Any, **kwargs: Any) -> FakeKey:
        new_key = original_put(self, bucket_name, key_name, value, *args, **kwargs)
        bucket = self.get_bucket(bucket_name)
        replication = getattr(bucket, "replication", None)
        # Tags are set by the request after this call: the rule is matched again when the
        # copy is made; here, a rule that could match (prefix) makes the object PENDING.
        if replication and any(
            _rule_matches({**r, "Filter": _without_tags(r.get("Filter"))} if "Filter" in r else r, key_name, {})
            for r in _as_list(replication.get("Rule"))
        ):
            new_key._emulator_replication = "PENDING"  # type: ignore[attr-defined]
            schedule(replicate_object, self, bucket_name, key_name, new_key.version_id)
        return new_key

    def delete_object(
        self: S3Backend, bucket_name: str, key_name: str, version_id: str | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        result = original_delete(self, bucket_name, key_name, version_id, *args, **kwargs)
        if version_id is None:
            bucket = self.get_bucket(bucket_name)
            current = bucket.keys.get(key_name) if bucket.is_versioned else None
            if isinstance(current, FakeDeleteMarker):
                replication = getattr(bucket, "replication", None)
                for rule in _as_list((replication or {}).get("Rule")):
                    # A rule with a Filter replicates delete markers only with
                    # DeleteMarkerReplication Enabled (never for tag-based rules); a legacy
                    # rule (Prefix, no Filter) always does.
                    marker_on = "Filter" not in rule or (
                        str((rule.get("DeleteMarkerReplication") or {}).get("Status", "")) == "Enabled"
                    )
                    if marker_on and _rule_matches(
                        {**rule, "Filter": _without_tags(rule.get("Filter"))} if "Filter" in rule else rule, key_name, {}
                    ):
                        schedule(replicate_delete_marker, self, _destination_bucket(rule), key_name, current.version_id)
                        break
        return result

    S3Backend.put_object = put_object  # type: ignore[method-assign]
    S3Backend.delete_object = delete_object  # type: ignore[method-assign]

    original_response_dict = FakeKey.response_dict

    def response_dict(self: FakeKey) -> dict[str, Any]:
        res = original_response_dict.fget(self)  # type: ignore[attr-defined]
        status = getattr(self, "_emulator_replication", None)
        if status:
            res[REPLICATION_HEADER] = status
        return res

    FakeKey.response_dict = property(response_dict)  # type: ignore[assignment,method-assign]


def _without_tags(flt: Any) -> dict[str, Any]:
    """A rule filter reduced to its prefix (tags are checked when the copy is made)."""
    flt = flt or {}
    if "And" in flt:
        return {"Prefix": (flt.get("And") or {}).get("Prefix") or ""}
    return {"Prefix": flt.get("Prefix") or ""}


# GetBucketReplication answers the configuration that was put. moto 5.2.5 rewrites every
# rule with `DeleteMarkerReplication: Disabled` and `Filter: {Prefix: ""}` and drops the
# rest. https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketReplication.html
RULE_MEMBERS = (
    "ID",
    "Priority",
    "Prefix",
    "Filter",
    "Status",
    "SourceSelectionCriteria",
    "ExistingObjectReplication",
    "Destination",
    "DeleteMarkerReplication",
)


def _filter_out(flt: Any) -> dict[str, Any]:
    flt = dict(flt or {})
    if "And" in flt:
        cond = dict(flt["And"] or {})
        out: dict[str, Any] = {}
        if "Prefix" in cond:
            out["Prefix"] = cond.get("Prefix") or ""
        if "Tag" in cond:
            out["Tags"] = _as_list(cond["Tag"])
        return {"And": out}
    if "Tag" in flt:
        return {"Tag": flt["Tag"]}
    return {"Prefix": flt.get("Prefix") or ""}


def _rule_out(rule: dict[str, Any]) -> dict[str, Any]:
    out = {k: rule[k] for k in RULE_MEMBERS if k in rule}
    if "Filter" in out:
        out["Filter"] = _filter_out(out["Filter"])
    elif "Prefix" in out:
        out["Prefix"] = out["Prefix"] or ""
    return out


def _apply_get_bucket_replication() -> None:
    def get_bucket_replication(self: S3Response) -> Any:
        self.data["Action"] = "GetBucketReplication"
        replication = self.backend.get_bucket_replication(self.bucket_name)
        if not replication:
            raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
        rules = [_rule_out(r) for r in _as_list(replication.get("Rule"))]
        return self.serialized(
            ActionResult({"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}})
        )

    S3Response.get_bucket_replication = get_bucket_replication  # type: ignore[method-assign]


# aws:SecureTransport of the S3 request being served (set per request, per thread).
_transport = threading.local()

_LOOPBACK_PREFIXES = ("127.", "::1", "::ffff:127.")


def request_is_secure(scheme: str | None, remote_addr: str | None) -> bool:
    """`aws:SecureTransport` of a request: true over TLS; also true from a loopback address,
    the only place the emulator listens (scripts/local-aws binds 127.0.0.1), where plain
    HTTP stands for the TLS connection every AWS endpoint offers."""
    if (scheme or "").lower() == "https":
        return True
    return (remote_addr or "").startswith(_LOOPBACK_PREFIXES)


def secure_transport_condition(condition: Any, secure: bool) -> bool | None:
    """Whether a statement's Condition holds when it is exactly `{"Bool":
    {"aws:SecureTransport": value(s)}}`; None for any other condition (left to moto)."""
    if not isinstance(condition, dict) or list(condition) != ["Bool"]:
        return None
    block = condition["Bool"]
    if not isinstance(block, dict) or list(block) != ["aws:SecureTransport"]:
        return None
    values = block["aws:SecureTransport"]
    values = values if isinstance(values, list) else [values]
    return str(secure).lower() in [str(v).lower() for v in values]


def _apply_secure_transport() -> None:
    """moto evaluates bucket policies without their conditions, so the common TLS-only
    statement (Deny s3:* when aws:SecureTransport is false) denied every object call. The
    condition is now evaluated (https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html,
    "Enforce encryption of data in transit"): it applies to requests without TLS only."""
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    if getattr(FakeBucket, "_emulator_secure_transport", False):
        return
    original_setup = S3Response.setup_class

    def setup_class(self: S3Response, request: Any, full_url: str | None = None, headers: Any = None) -> None:
        _transport.secure = request_is_secure(getattr(request, "scheme", None), getattr(request, "remote_addr", None))
        original_setup(self, request, full_url, headers)

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        raw = self.policy.decode() if isinstance(self.policy, bytes) else self.policy
        try:
            doc = json.loads(raw)
        except ValueError:
            return IAMPolicy(raw).is_action_permitted(action, resource)
        statements = doc.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        secure = bool(getattr(_transport, "secure", True))
        kept = []
        for st in statements:
            holds = secure_transport_condition(st.get("Condition"), secure) if isinstance(st, dict) else None
            if holds is False:
                continue
            if holds is True:
                st = {k: v for k, v in st.items() if k != "Condition"}
            kept.append(st)
        return IAMPolicy(json.dumps({**doc, "Statement": kept})).is_action_permitted(action, resource)

    S3Response.setup_class = setup_class  # type: ignore[method-assign]
    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
    FakeBucket._emulator_secure_transport = True  # type: ignore[attr-defined]


def owner_mismatch(expected: str | None, owner: str | None) -> bool:
    """Whether `x-amz-expected-bucket-owner: expected` refuses a bucket owned by `owner`
    (AWS answers 403 AccessDenied; a missing header or unknown bucket is not checked here)."""
    return bool(expected) and owner is not None and expected != owner


def _apply_expected_bucket_owner() -> None:
    """moto ignores `ExpectedBucketOwner` (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html):
    a bucket of another account (moto serves several, `x-moto-account-id`) was read and
    changed as if it were the caller's. A request naming another owner now gets 403
    AccessDenied, before moto acts on it."""
    from moto.s3.models import s3_backends

    if getattr(S3Response, "_emulator_expected_owner", False):
        return

    def guarded(original: Any) -> Any:
        def response(self: S3Response, request: Any, full_url: str) -> Any:
            expected = request.headers.get("x-amz-expected-bucket-owner")
            if expected:
                bucket = self.parse_bucket_name_from_url(request, full_url)
                owner = s3_backends.bucket_accounts.get(bucket)
                if owner_mismatch(expected, owner[1] if owner else None):
                    body = (
                        '<?xml version="1.0" encoding="UTF-8"?>\n'
                        "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
                    )
                    return 403, {"content-type": "application/xml"}, body
            return original(self, request, full_url)

        return response

    S3Response._bucket_response = guarded(S3Response._bucket_response)  # type: ignore[method-assign]
    S3Response._key_response = guarded(S3Response._key_response)  # type: ignore[method-assign]
    S3Response._emulator_expected_owner = True  # type: ignore[attr-defined]


def apply() -> None:
    _patch_service_model()
    _apply_secure_transport()
    _apply_expected_bucket_owner()
    _apply_replication(S3Backend.put_object, S3Backend.delete_object)
    _apply_get_bucket_replication()
