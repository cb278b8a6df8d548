"""The pipeline's code as content-addressed S3 objects.

The rendered definition references its scripts as ``s3://{{ArtifactsBucket}}/<key>``. Whoever creates the pipeline
(the upsert Lambda in AWS, the local runner on a laptop) uploads the same ``(key, bytes)`` pairs first. The key holds
a hash of what the object *contains* -- for an archive, its members' names, modes and bytes in a fixed order -- never
of a compressor's output: the render runs under Python 3.11 and the upsert Lambda under 3.13, whose gzip headers
differ (FACTS.md), so a hash of compressed bytes would name different keys in the two places. A key never changes
meaning: an old execution that is retried or inspected later still finds the code it ran with, and the renderer, the
Lambda and the runner agree on keys without talking to each other.

The render also writes ``build/code-assets.json`` (each key and its members' digests), shipped beside the definition:
when a definition names code the package does not hold, the error says which key, and which member, differs.

Standard library only: this module ships inside the upsert Lambda, where the SageMaker SDK must not.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEY_PREFIX = "pipeline-code"
# A content key as content_key() writes it, wherever it appears in the definition (inside s3://<bucket>/...).
CODE_KEY_PATTERN = re.compile(rf"{re.escape(KEY_PREFIX)}/[0-9a-f]{{16}}/[A-Za-z0-9_.\-]+")
MANIFEST_FILE = "code-assets.json"

PREPROCESS_SCRIPT = "preprocess.py"
EVALUATE_SCRIPT = "evaluate.py"
TRAIN_SCRIPT = "train.py"
# Script mode: the training toolkit downloads this archive (sagemaker_submit_directory) and runs sagemaker_program.
TRAIN_SOURCE_ARCHIVE = "sourcedir.tar.gz"
# The training script, and what it copies into the model for serving (the script-mode entry point and the encoding).
TRAIN_SOURCE_FILES = (TRAIN_SCRIPT, "abalone_features.py", "inference.py")

PYTHON_CONTENT_TYPE = "text/x-python"
ARCHIVE_CONTENT_TYPE = "application/gzip"
MEMBER_MODE = 0o644  # every file is stored with this mode, whatever the checkout's permissions
# RFC 1952 header bytes 8 (XFL: 2 = maximum compression) and 9 (OS: 255 = unknown). CPython writes OS 3 up to 3.12 and
# 255 from 3.13 (and zlib writes its own): fixed here so the archive's bytes are the same from every interpreter.
GZIP_XFL_OS = bytes((2, 255))


@dataclass(frozen=True)
class CodeAsset:
    """One object to upload to the artifacts bucket before the pipeline is created or updated."""

    key: str  # S3 key inside the artifacts bucket, e.g. "pipeline-code/<digest[:16]>/preprocess.py"
    body: bytes  # exact bytes to upload
    content_type: str
    members: tuple[tuple[str, str], ...]  # (name, sha256) of what the key is a hash of, sorted by name

    @property
    def file_name(self) -> str:
        """The last part of the key: what the definition's step refers to."""
        return self.key.rsplit("/", 1)[-1]


def member_digests(files: Mapping[str, bytes]) -> tuple[tuple[str, str], ...]:
    return tuple((name, hashlib.sha256(files[name]).hexdigest()) for name in sorted(files))


def content_key(file_name: str, files: Mapping[str, bytes]) -> str:
    """The key of an object holding ``files``: 16 hex digits of SHA-256 over each member's name, mode and digest.

    For a single script ``files`` is ``{name: bytes}``; for an archive, its members. Nothing a compressor or an
    interpreter chooses goes into the hash.
    """
    canonical = "".join(f"{name}\0{MEMBER_MODE:o}\0{digest}\n" for name, digest in member_digests(files))
    return f"{KEY_PREFIX}/{hashlib.sha256(canonical.encode()).hexdigest()[:16]}/{file_name}"


def deterministic_targz(files: Mapping[str, bytes]) -> bytes:
    """A tar.gz whose bytes depend only on the file names and contents (and the zlib that compresses it).

    Hand-written because tarfile and gzip stamp the current time, owner, permissions and interpreter's OS byte into
    the archive; fixing them makes the archive the same on every machine. Its key does not depend on these bytes.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name=name)
            info.size = len(files[name])
            info.mtime = 0
            info.mode = MEMBER_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(files[name]))
    compressed = bytearray(gzip.compress(raw.getvalue(), compresslevel=9, mtime=0))
    compressed[8:10] = GZIP_XFL_OS
    return bytes(compressed)


def code_assets(scripts_dir: Path) -> list[CodeAsset]:
    """The pipeline's code objects, from the container scripts in ``scripts_dir`` (the repository's ml_code/, or the
    copy the upsert package ships): the two processing scripts as single files, the training code as an archive."""
    assets = []
    for script in (PREPROCESS_SCRIPT, EVALUATE_SCRIPT):
        body = _read(scripts_dir, script)
        files = {script: body}
        assets.append(CodeAsset(content_key(script, files), body, PYTHON_CONTENT_TYPE, member_digests(files)))
    sources = {name: _read(scripts_dir, name) for name in TRAIN_SOURCE_FILES}
    assets.append(
        CodeAsset(
            content_key(TRAIN_SOURCE_ARCHIVE, sources),
            deterministic_targz(sources),
            ARCHIVE_CONTENT_TYPE,
            member_digests(sources),
        )
    )
    return assets


def asset_for(file_name: str, assets: Sequence[CodeAsset]) -> CodeAsset:
    """The asset whose key ends in ``file_name``; a clear error if there is none."""
    for asset in assets:
        if asset.file_name == file_name:
            return asset
    raise KeyError(f"no code asset named {file_name!r}; have: {', '.join(a.file_name for a in assets)}")


def manifest(assets: Sequence[CodeAsset]) -> dict[str, Any]:
    """What ``build/code-assets.json`` holds: each key and the digests of its members."""
    return {"assets": {asset.key: dict(asset.members) for asset in assets}}


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest written beside a definition, or None if there is none (it only improves the error message)."""
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


class StaleCodeError(ValueError):
    """The definition references code objects that the packaged scripts do not produce."""


def check_code_keys(definition: str, assets: Sequence[CodeAsset], rendered: Mapping[str, Any] | None = None) -> None:
    """Every code key the definition references must be one of ``assets``.

    The keys are content hashes, so a definition rendered from other scripts than these would point at objects that
    are never uploaded (or at old code): the pipeline would fail at its first step, or run stale code. Refuse it,
    naming both keys and, from the render's manifest (``rendered``), which members differ.
    """
    missing = sorted(set(CODE_KEY_PATTERN.findall(definition)) - {asset.key for asset in assets})
    if missing:
        details = "; ".join(_difference(key, assets, rendered) for key in missing)
        raise StaleCodeError(
            f"the pipeline definition was rendered from other code than this package holds: {details}. "
            "Render and package from the same checkout: `make build` does both, then deploy again"
        )


def _difference(key: str, assets: Sequence[CodeAsset], rendered: Mapping[str, Any] | None) -> str:
    file_name = key.rsplit("/", 1)[-1]
    current = next((asset for asset in assets if asset.file_name == file_name), None)
    if current is None:
        return f"the definition names {key}, and this package has no {file_name} at all"
    text = f"the definition names {key}, the packaged code gives {current.key}"
    then: dict[str, str] | None = (rendered or {}).get("assets", {}).get(key)
    if then is None:
        return text + " (no render manifest to say which file differs)"
    now = dict(current.members)
    changed = sorted(name for name in set(then) & set(now) if then[name] != now[name])
    added, removed = sorted(set(now) - set(then)), sorted(set(then) - set(now))
    parts = [f"{', '.join(changed)} differ{'s' if len(changed) == 1 else ''}"] if changed else []
    parts += [f"{', '.join(added)} added"] if added else []
    parts += [f"{', '.join(removed)} removed"] if removed else []
    return f"{text} ({'; '.join(parts) or 'same members'})"


def publish_code_assets(
    definition: str,
    put: Callable[[CodeAsset], None],
    scripts_dir: Path,
    rendered: Mapping[str, Any] | None = None,
) -> list[CodeAsset]:
    """Check the definition's code keys, then upload every asset with ``put``; what the upsert Lambda and the local
    runner both do before CreatePipeline. Checking first means a stale definition uploads nothing."""
    assets = code_assets(scripts_dir)
    check_code_keys(definition, assets, rendered)
    for asset in assets:
        put(asset)
    return assets


def _read(scripts_dir: Path, name: str) -> bytes:
    path = scripts_dir / name
    if not path.is_file():
        raise FileNotFoundError(f"pipeline code {path} is missing")
    return path.read_bytes()
