"""Batch scoring as the SageMaker XGBoost image serves a model in algorithm mode, for local transform steps.

The container loads ``xgboost-model`` from the model archive and answers a ``text/csv`` request (header-less feature
rows) with one prediction per line; a transform job writes the answer for input ``x`` to ``x.out``. Run by the runner
as ``python -m local_twin.pipeline_runner.batch_transform`` in the image's local environment (images.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

MODEL_FILE_NAME = "xgboost-model"


def transform(model_dir: Path, input_dir: Path, output_dir: Path, content_type: str) -> list[Path]:
    """Score every file under ``input_dir``; return the ``.out`` files written."""
    if content_type != "text/csv":
        raise ValueError(f"content type {content_type!r} is not served locally (only text/csv)")
    import numpy as np
    import xgboost

    model_path = model_dir / MODEL_FILE_NAME
    if not model_path.is_file():
        raise FileNotFoundError(f"the model archive has no {MODEL_FILE_NAME} (found: {sorted(model_dir.iterdir())})")
    booster = xgboost.Booster()
    booster.load_model(str(model_path))
    written = []
    for source in sorted(p for p in input_dir.rglob("*") if p.is_file()):
        features = np.loadtxt(source, delimiter=",", ndmin=2)
        predictions = booster.predict(xgboost.DMatrix(features))
        target = output_dir / f"{source.relative_to(input_dir).as_posix()}.out"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(f"{value}\n" for value in predictions.tolist()))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--input-dir", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--content-type", default="text/csv")
    args = parser.parse_args(argv)
    transform(args.model_dir, args.input_dir, args.output_dir, args.content_type)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
