"""The pipeline's code as content-addressed S3 objects.

The rendered definition references its scripts as ``s3://{{ArtifactsBucket}}/<key>``. Whoever creates the pipeline
(the upsert Lambda in AWS, the local runner on a laptop) uploads the same ``(key, bytes)`` pairs first. The key holds
a hash of the bytes, so a key never changes meaning: an old execution that is retried or inspected later still finds
the code it ran with, and the renderer, the Lambda and the runner agree on keys without talking to each other.

Standard library only: this module ships inside the upsert Lambda, where the SageMaker SDK must not.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ML_CODE_DIR = Path(__file__).resolve().parent
KEY_PREFIX = "pipeline-code"
# A content key as content_key() writes it, wherever it appears in the definition (inside s3://<bucket>/...).
CODE_KEY_PATTERN = re.compile(rf"{re.escape(KEY_PREFIX)}/[0-9a-f]{{16}}/[A-Za-z0-9_.\-]+")

PREPROCESS_SCRIPT = "preprocess.py"
EVALUATE_SCRIPT = "evaluate.py"
TRAIN_SCRIPT = "train.py"
# Script mode: the training toolkit downloads this archive (sagemaker_submit_directory) and runs sagemaker_program.
TRAIN_SOURCE_ARCHIVE = "sourcedir.tar.gz"

PYTHON_CONTENT_TYPE = "text/x-python"
ARCHIVE_CONTENT_TYPE = "application/gzip"


@dataclass(frozen=True)
class CodeAsset:
    """One object to upload to the artifacts bucket before the pipeline is created or updated."""

    key: str  # S3 key inside the artifacts bucket, e.g. "pipeline-code/<sha256[:16]>/preprocess.py"
    body: bytes  # exact bytes to upload
    content_type: str

    @property
    def file_name(self) -> str:
        """The last part of the key: what the definition's step refers to."""
        return self.key.rsplit("/", 1)[-1]


def content_key(file_name: str, body: bytes) -> str:
    """The content-addressed key of ``body`` (16 hex digits of SHA-256: 64 bits, plenty for one bucket)."""
    return f"{KEY_PREFIX}/{hashlib.sha256(body).hexdigest()[:16]}/{file_name}"


def deterministic_targz(files: dict[str, bytes]) -> bytes:
    """A tar.gz whose bytes depend only on the file names and contents.

    Hand-written because tarfile and gzip stamp the current time, owner and permissions of the build machine into
    the archive; zeroing them makes the archive (and therefore its key) the same on every machine.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name=name)
            info.size = len(files[name])
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(files[name]))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def code_assets(ml_code_dir: Path = ML_CODE_DIR) -> list[CodeAsset]:
    """The pipeline's code objects: the two processing scripts as single files, the training code as an archive."""
    assets = []
    for script in (PREPROCESS_SCRIPT, EVALUATE_SCRIPT):
        body = _read(ml_code_dir, script)
        assets.append(CodeAsset(key=content_key(script, body), body=body, content_type=PYTHON_CONTENT_TYPE))
    archive = deterministic_targz({TRAIN_SCRIPT: _read(ml_code_dir, TRAIN_SCRIPT)})
    assets.append(
        CodeAsset(key=content_key(TRAIN_SOURCE_ARCHIVE, archive), body=archive, content_type=ARCHIVE_CONTENT_TYPE)
    )
    return assets


def asset_for(file_name: str, assets: list[CodeAsset]) -> CodeAsset:
    """The asset whose key ends in ``file_name``; a clear error if there is none."""
    for asset in assets:
        if asset.file_name == file_name:
            return asset
    raise KeyError(f"no code asset named {file_name!r}; have: {', '.join(a.file_name for a in assets)}")


class StaleCodeError(ValueError):
    """The definition references code objects that the packaged scripts do not produce."""


def check_code_keys(definition: str, assets: Sequence[CodeAsset]) -> None:
    """Every code key the definition references must be one of ``assets``.

    The keys are content hashes, so a definition rendered from other scripts than these would point at objects that
    are never uploaded (or at old code): the pipeline would fail at its first step, or run stale code. Refuse it.
    """
    missing = sorted(set(CODE_KEY_PATTERN.findall(definition)) - {asset.key for asset in assets})
    if missing:
        raise StaleCodeError(
            f"the pipeline definition references code the scripts no longer produce: {', '.join(missing)}; "
            "the definition is stale: run `make definition` (or `make build`) again"
        )


def publish_code_assets(
    definition: str, put: Callable[[CodeAsset], None], ml_code_dir: Path = ML_CODE_DIR
) -> list[CodeAsset]:
    """Check the definition's code keys, then upload every asset with ``put``; what the upsert Lambda and the local
    runner both do before CreatePipeline. Checking first means a stale definition uploads nothing."""
    assets = code_assets(ml_code_dir)
    check_code_keys(definition, assets)
    for asset in assets:
        put(asset)
    return assets


def _read(ml_code_dir: Path, name: str) -> bytes:
    path = ml_code_dir / name
    if not path.is_file():
        raise FileNotFoundError(f"pipeline code {path} is missing")
    return path.read_bytes()
