"""The small hand-written pipeline (SDK shapes) and its scripts, shared by the unit and integration tests."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BUCKET = "unit-bucket"


def small_definition() -> dict[str, Any]:
    """A fresh copy of fixtures/small_pipeline.json: Processing → Training → Processing (PropertyFile) → Condition
    → RegisterModel + Model + Transform, else Fail."""
    definition: dict[str, Any] = json.loads((FIXTURES / "small_pipeline.json").read_text())
    return definition


def sourcedir(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def seed_store(store: Any, train_code: bytes | None = None) -> None:
    """The fixture's code at the keys the definition names, and 40 rows of label-first data (label = 2a + b)."""
    code = FIXTURES / "code"
    store.put_bytes(f"s3://{BUCKET}/code/prep.py", (code / "prep.py").read_bytes())
    store.put_bytes(f"s3://{BUCKET}/code/evaluate.py", (code / "evaluate.py").read_bytes())
    train = train_code if train_code is not None else (code / "train.py").read_bytes()
    store.put_bytes(f"s3://{BUCKET}/code/sourcedir.tar.gz", sourcedir({"train.py": train}))
    rows = [f"{2 * a + b},{a},{b}" for a in range(8) for b in range(5)]
    store.put_bytes(f"s3://{BUCKET}/input/data.csv", ("\n".join(rows) + "\n").encode())
