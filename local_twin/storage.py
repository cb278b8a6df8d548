"""Object stores addressed by ``s3://bucket/key`` URIs: S3 through boto3, or a plain local directory.

The definition's URIs are used unchanged in both: the S3 store talks to whatever endpoint its boto3 client points at
(AWS, moto in-process, a moto server); the directory store keeps ``s3://bucket/key`` at ``<root>/bucket/key`` so a
quick run needs no emulator for data and its outputs can be opened with any file browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class StoreError(ValueError):
    """A URI is malformed or an object is missing."""


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` → ``("bucket", "a/b")``."""
    if not uri.startswith("s3://"):
        raise StoreError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise StoreError(f"{uri!r} has no bucket")
    return bucket, key


class ObjectStore(Protocol):
    """The three operations the runner needs."""

    def put_bytes(self, uri: str, body: bytes) -> None: ...

    def get_bytes(self, uri: str) -> bytes: ...

    def list_keys(self, uri: str) -> list[str]:
        """Keys (not URIs) in the URI's bucket that start with the URI's key."""
        ...


class S3Store:
    """S3 through a boto3 client; optional SSE-KMS on every write, as the project's buckets require."""

    def __init__(self, client: S3Client, kms_key_id: str | None = None) -> None:
        self.client = client
        self._kms_key_id = kms_key_id

    def put_bytes(self, uri: str, body: bytes) -> None:
        bucket, key = split_uri(uri)
        if self._kms_key_id:
            self.client.put_object(
                Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=self._kms_key_id
            )
        else:
            self.client.put_object(Bucket=bucket, Key=key, Body=body)

    def get_bytes(self, uri: str) -> bytes:
        bucket, key = split_uri(uri)
        try:
            return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey as error:
            raise StoreError(f"{uri} does not exist") from error

    def list_keys(self, uri: str) -> list[str]:
        bucket, prefix = split_uri(uri)
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys


class LocalDirectoryStore:
    """``s3://bucket/key`` kept at ``<root>/bucket/key``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, uri: str) -> Path:
        bucket, key = split_uri(uri)
        path = (self.root / bucket / key).resolve()
        if not path.is_relative_to(self.root):
            raise StoreError(f"{uri!r} points outside the store")
        return path

    def put_bytes(self, uri: str, body: bytes) -> None:
        path = self._path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)

    def get_bytes(self, uri: str) -> bytes:
        path = self._path(uri)
        if not path.is_file():
            raise StoreError(f"{uri} does not exist (looked for {path})")
        return path.read_bytes()

    def list_keys(self, uri: str) -> list[str]:
        bucket, prefix = split_uri(uri)
        base = self.root / bucket
        if not base.is_dir():
            return []
        keys = (p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
        return sorted(key for key in keys if key.startswith(prefix))


def download_prefix(store: ObjectStore, uri: str, local_dir: Path) -> list[Path]:
    """SageMaker's S3Prefix input: the object named by the URI, or every object under it as a folder.

    An object whose key equals the URI's key lands as ``local_dir/<its file name>``; objects under ``<key>/`` keep
    their relative paths. (SageMaker also matches keys that merely start with the prefix, e.g. ``train`` matching
    ``train-old/``; that surprise is deliberately not copied: such keys are ignored here.)
    """
    bucket, key = split_uri(uri)
    folder = key.rstrip("/")
    local_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for found in store.list_keys(uri):
        if found == key and not key.endswith("/"):
            relative = found.rsplit("/", 1)[-1]
        elif not folder or found.startswith(folder + "/"):
            relative = found[len(folder) :].lstrip("/") if folder else found
        else:
            continue
        if not relative or relative.endswith("/"):
            continue
        target = (local_dir / relative).resolve()
        if not target.is_relative_to(local_dir.resolve()):
            raise StoreError(f"s3://{bucket}/{found} would be written outside {local_dir}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.get_bytes(f"s3://{bucket}/{found}"))
        written.append(target)
    if not written:
        raise StoreError(f"no objects at {uri}")
    return written


def upload_directory(store: ObjectStore, local_dir: Path, uri: str) -> list[str]:
    """Every file under ``local_dir`` to ``<uri>/<relative path>`` (a processing output at end of job)."""
    base = uri.rstrip("/")
    uploaded: list[str] = []
    for path in sorted(p for p in local_dir.rglob("*") if p.is_file()):
        target = f"{base}/{path.relative_to(local_dir).as_posix()}"
        store.put_bytes(target, path.read_bytes())
        uploaded.append(target)
    return uploaded
