"""The ML scripts on the real data/abalone.csv, run as the containers run them: as scripts, with arguments; the
trained model scored as it serves (the serving container's script mode, raw records in), as the pipeline's
Transform step does before evaluation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from local_twin.serving import ServingContainer, score_rows
from ml_code import preprocess
from mlops_shared.pipeline_names import SERVING_ENVIRONMENT

REPO_ROOT = Path(__file__).resolve().parents[3]
ML_CODE = REPO_ROOT / "ml_code"
ABALONE_ROWS = 4177
MSE_THRESHOLD = 5.0  # the goal (the pipeline's default MseThreshold is 6.0)
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"


def run_script(name: str, *args: str) -> str:
    """Run a script the way a processing/training container does: `python3 <script> <args>`, not as a package."""
    completed = subprocess.run(
        [sys.executable, str(ML_CODE / name), *args], capture_output=True, text=True, check=False, cwd=REPO_ROOT
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


@pytest.fixture(scope="module")
def splits(tmp_path_factory: pytest.TempPathFactory, abalone_csv: Path) -> Path:
    out = tmp_path_factory.mktemp("processing")
    input_dir = out / "input"
    input_dir.mkdir()
    (input_dir / "abalone.csv").write_bytes(abalone_csv.read_bytes())
    run_script("preprocess.py", "--input-dir", str(input_dir), "--output-dir", str(out))
    return out


@pytest.fixture(scope="module")
def abalone_csv() -> Path:
    # Module-scoped twin of the root conftest's fixture (which is function-scoped).
    path = REPO_ROOT / "data" / "abalone.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make data` (data/README.md)")
    return path


@pytest.fixture(scope="module")
def evaluation(splits: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, float]]]:
    work = tmp_path_factory.mktemp("training")
    run_script(
        "train.py",
        "--train",
        str(splits / "train"),
        "--validation",
        str(splits / "validation"),
        "--model-dir",
        str(work / "model"),
    )
    # The Transform step: the raw test records (label dropped) through the serving container, `rings,prediction` out.
    labelled = (splits / "test" / "test.csv").read_text().splitlines()
    with ServingContainer(
        XGBOOST_IMAGE, work / "model", dict(SERVING_ENVIRONMENT), work_dir=work / "serving"
    ) as served:
        predictions = score_rows(served.url, [line.partition(",")[2] for line in labelled], per_request=len(labelled))
    (work / "predictions").mkdir()
    (work / "predictions" / "test.csv.out").write_text(
        "".join(f"{line.partition(',')[0]},{value!r}\n" for line, value in zip(labelled, predictions, strict=True))
    )
    run_script(
        "evaluate.py",
        "--predictions-dir",
        str(work / "predictions"),
        "--test-dir",
        str(splits / "test"),
        "--output-dir",
        str(work / "evaluation"),
    )
    report: dict[str, dict[str, dict[str, float]]] = json.loads((work / "evaluation" / "evaluation.json").read_text())
    return report


def test_split_sizes(splits: Path) -> None:
    sizes = {name: len(pd.read_csv(splits / name / f"{name}.csv", header=None)) for name in preprocess.SPLITS}
    assert sizes == {"train": 2923, "validation": 627, "test": 627}
    assert sum(sizes.values()) == ABALONE_ROWS


def test_no_row_is_in_two_splits(abalone_csv: Path) -> None:
    frame = preprocess.read_raw_csv(abalone_csv)
    parts = preprocess.split_frame(frame, preprocess.DEFAULT_SEED, 0.15, 0.15)
    index_sets = [set(part.index) for part in parts.values()]

    assert len(frame) == ABALONE_ROWS
    assert sum(map(len, index_sets)) == ABALONE_ROWS == len(set().union(*index_sets))


def test_label_first_no_header(splits: Path, abalone_csv: Path) -> None:
    raw_rings = set(pd.read_csv(abalone_csv, header=None)[8])
    test = pd.read_csv(splits / "test" / "test.csv", header=None)

    assert set(test[0]) <= raw_rings  # column 0 is the ring count
    assert test.shape[1] == len(preprocess.SPLIT_COLUMNS)
    assert pd.api.types.is_integer_dtype(test[0])  # a header would have made the first row text
    assert set(test[1]) == {"M", "F", "I"}  # the raw record follows: sex as given


def test_preprocessing_is_deterministic(splits: Path, abalone_csv: Path, tmp_path: Path) -> None:
    again = preprocess.preprocess(abalone_csv, tmp_path)
    for name in preprocess.SPLITS:
        assert again.paths[name].read_bytes() == (splits / name / f"{name}.csv").read_bytes()


def test_test_mse_is_below_the_threshold(evaluation: dict[str, dict[str, dict[str, float]]]) -> None:
    mse = evaluation["regression_metrics"]["mse"]["value"]
    print(f"abalone test MSE: {mse:.3f}")
    assert mse < MSE_THRESHOLD


def test_report_is_in_the_model_quality_format(evaluation: dict[str, dict[str, dict[str, float]]]) -> None:
    metrics = evaluation["regression_metrics"]
    assert set(metrics) == {"mse", "rmse", "mae", "r2"}
    assert 0 < metrics["mse"]["standard_deviation"] < metrics["mse"]["value"]
    assert metrics["r2"]["value"] > 0.4
