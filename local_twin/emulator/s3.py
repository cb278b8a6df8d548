"""S3 reads across accounts: allowed only when the bucket's policy allows the reading account.

moto 5.2.5 keeps buckets per account but finds any account's bucket by name for every caller, without a policy check
(``S3Backend.get_bucket`` falls back to ``s3_backends.bucket_accounts``). AWS (S3 user guide, "Example 2: Bucket
owner granting cross-account bucket permissions" and "How Amazon S3 authorizes a request for an object operation")
requires the bucket policy of the owning account to grant the other account: ``s3:GetObject`` on
``arn:aws:s3:::<bucket>/<key>`` for GetObject and HeadObject, ``s3:ListBucket`` on ``arn:aws:s3:::<bucket>`` (with
the request's ``s3:prefix`` as condition key) for ListObjects / ListObjectsV2; otherwise ``AccessDenied`` (403,
"Access Denied").

Kept minimal: only these reads are checked (the three-account flow's only cross-account S3 use: a target account reads
the registry's model artifacts and test split); the caller is identified by its account only -- every principal is
matched as the account's root [simplified: a statement naming one role of the account would allow all of them]; the
object's KMS key policy is not evaluated (the template's key policy is checked by the policy tests). Same-account
requests are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.s3.exceptions import S3AccessDeniedError
from moto.s3.models import FakeBucket, S3Backend

from local_twin.emulator import core
from local_twin.emulator.policies import Caller, allows


def _check(backend: S3Backend, bucket: FakeBucket, action: str, resource: str, prefix: str | None = None) -> None:
    owner = str(getattr(bucket, "account_id", backend.account_id))
    if owner == backend.account_id:
        return
    policy = bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy
    caller = Caller(backend.account_id, f"arn:aws:iam::{backend.account_id}:root")
    if not allows(policy, caller, action, resource, {"s3:prefix": prefix}):
        emulator = core.current()
        if emulator is not None:
            emulator.notes.append(f"S3 denied {action} on {resource} to account {backend.account_id}")
        raise S3AccessDeniedError()


def _wrap_get_object(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_object(self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        bucket = self.get_bucket(bucket_name)
        _check(self, bucket, "s3:GetObject", f"arn:aws:s3:::{bucket_name}/{key_name}")
        return original(self, bucket_name, key_name, *args, **kwargs)

    return get_object


def _wrap_list(original: Callable[..., Any]) -> Callable[..., Any]:
    def list_objects(self: S3Backend, bucket: FakeBucket, prefix: str | None, *args: Any, **kwargs: Any) -> Any:
        _check(self, bucket, "s3:ListBucket", f"arn:aws:s3:::{bucket.name}", prefix or "")
        return original(self, bucket, prefix, *args, **kwargs)

    return list_objects


def patches() -> list[tuple[Any, str, Any]]:
    return [
        (S3Backend, "get_object", _wrap_get_object(S3Backend.get_object)),
        (S3Backend, "list_objects", _wrap_list(S3Backend.list_objects)),
        (S3Backend, "list_objects_v2", _wrap_list(S3Backend.list_objects_v2)),
    ]


def compatibility_problems() -> list[str]:
    problems = [
        f"S3Backend.{name} is gone"
        for name in ("get_object", "head_object", "list_objects", "list_objects_v2", "get_bucket")
        if not hasattr(S3Backend, name)
    ]
    if "get_object" not in S3Backend.head_object.__code__.co_names:
        problems.append("S3Backend.head_object no longer reads through get_object (its cross-account check)")
    return problems
