"""build/local-run/report.html: what the page shows from a summary and the files a run leaves beside it.

The page is read back as a reader would: the text of each section, and the SVG inside each <img>.
"""

from __future__ import annotations

import copy
import html
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from local_twin.html_report import (
    REPORT_NAME,
    Score,
    dag_svg,
    fold_states,
    nice_ticks,
    pipeline_nodes,
    read_scores,
    render_report,
    svg_of,
    write_report,
)
from local_twin.report import ExecutionSummary, StageRecord, Summary

SVG = "{http://www.w3.org/2000/svg}"
# label-first test rows (rings,sex,...) and the endpoint's predictions, one per row
TEST_ROWS = [
    "8,M,0.415,0.31,0.09,0.3245,0.1305,0.0735,0.115",
    "11,F,0.58,0.455,0.12,0.94,0.399,0.257,0.265",
    "22,F,0.64,0.525,0.215,1.779,0.4535,0.2855,0.55",
    "5,I,0.3,0.22,0.07,0.12,0.05,0.03,0.04",
]
PREDICTIONS = [9.5, 11.0, 17.0, 6.25]  # residuals +1.5, 0, -5, +1.25
POLL_LOOP = ["WaitForPipeline", "CheckPipeline", "PipelineDone"]
TRAIN_STATES = ["Start", "UpsertPipeline", "StartPipelineExecution", *POLL_LOOP * 15, "Finish", "Finished", "Succeeded"]
DEFINITION: dict[str, Any] = {
    "Steps": [
        {"Name": "Preprocess", "Type": "Processing", "Arguments": {}},
        {"Name": "Train", "Type": "Training", "Arguments": {"In": {"Get": "Steps.Preprocess.ProcessingOutputConfig"}}},
        {
            "Name": "Evaluate",
            "Type": "Processing",
            "Arguments": {"Model": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}},
            "DependsOn": ["Preprocess"],
        },
        {
            "Name": "Check",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [
                    {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"}, "Path": "mse"}}
                ],
                "IfSteps": [
                    {"Name": "Register", "Type": "RegisterModel", "Arguments": {"M": {"Get": "Steps.Train.X"}}}
                ],
                "ElseSteps": [{"Name": "Fail", "Type": "Fail", "Arguments": {"ErrorMessage": "too high"}}],
            },
        },
    ]
}


def summary_fixture(**changes: Any) -> dict[str, Any]:
    """A succeeded endpoint run's summary.json, as the flow writes it."""
    summary: dict[str, Any] = {
        "status": "succeeded",
        "failed_stage": None,
        "failure_reason": None,
        "failure_traceback": None,
        "target": "endpoint",
        "approve": True,
        "data": "data/abalone.csv",
        "pipeline_parameters": {},
        "resources": {"ArtifactsBucket": "abalone-mlops-artifactsbucket-1"},
        "resources_not_created": {"Pipeline": "the upsert stage invokes its ServiceToken function"},
        "provision_adjustments": ["ArtifactsBucket: not applied locally: LifecycleConfiguration"],
        "pipeline_execution_arn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/e1",
        "pipeline_status": "Succeeded",
        "pipeline_steps": [
            {"name": "Preprocess", "status": "Succeeded", "seconds": 7.204},
            {"name": "Train", "status": "Succeeded", "seconds": 4.111},
            {"name": "Evaluate", "status": "Succeeded", "seconds": 2.896},
            {"name": "Check", "status": "Succeeded", "seconds": 0.0},
            {"name": "Register", "status": "Succeeded", "seconds": 0.017},
        ],
        "test_mse": 4.569778459819743,
        "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/abalone/1",
        "model_package_version": 1,
        "approval_status": "Approved",
        "executions": [
            {
                "name": "train-20261201-082902",
                "arn": "arn:aws:states:us-east-1:123456789012:execution:abalone-mlops-train:train-20261201-082902",
                "mode": "train",
                "status": "SUCCEEDED",
                "states": TRAIN_STATES,
                "output": {"Finish": {"Outcome": "AwaitingApproval", "Subject": "Model version 1 awaits approval"}},
            },
            {
                "name": "deploy-v1-1ec614cae95eaf064bb4",
                "arn": "arn:aws:states:us-east-1:123456789012:execution:abalone-mlops-deploy:deploy-v1",
                "mode": "deploy",
                "status": "SUCCEEDED",
                "states": ["Plan", "CreateModel", "CreateEndpoint", "Finish", "Finished", "Succeeded"],
                "output": {"Finish": {"Outcome": "Deployed"}},
            },
        ],
        "endpoint_name": "abalone-mlops-endpoint",
        "endpoint_url": "http://127.0.0.1:37451",
        "transform_output": [],
        "predictions_count": 4,
        "predictions_mse": 6.953125,
        "sample_record": "M,0.415,0.31,0.09,0.3245,0.1305,0.0735,0.115",
        "sample_prediction": '{"predictions": [{"rings": 9.215298652648926}]}',
        "stages": [
            {"name": "emulator", "status": "succeeded", "seconds": 3.702, "detail": "http://127.0.0.1:41365"},
            {"name": "train", "status": "succeeded", "seconds": 20.544, "detail": "test MSE 4.5698"},
            {"name": "serve", "status": "succeeded", "seconds": 0.068, "detail": "4 predictions"},
        ],
        "total_seconds": 36.449,
    }
    summary.update(changes)
    return summary


@pytest.fixture
def endpoint_dir(tmp_path: Path) -> Path:
    (tmp_path / "test.csv").write_text("".join(f"{row}\n" for row in TEST_ROWS))
    (tmp_path / "predictions.csv").write_text("".join(f"{value}\n" for value in PREDICTIONS))
    (tmp_path / "summary.json").write_text("{}\n")
    return tmp_path


@pytest.fixture
def batch_dir(tmp_path: Path) -> Path:
    (tmp_path / "test.csv").write_text("".join(f"{row}\n" for row in TEST_ROWS))
    transform = tmp_path / "transform"
    transform.mkdir()
    # JoinSource=Input: the raw record (the test row without its label), then the prediction; any order
    joined = [f"{row.split(',', 1)[1]},{value}" for row, value in zip(TEST_ROWS, PREDICTIONS, strict=True)]
    (transform / "test.csv.out").write_text("\n".join(reversed(joined)) + "\n")
    return tmp_path


# --- reading the page back ------------------------------------------------------------------------------------------
def section(page: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}".*?</section>', page, re.S)
    assert match is not None, f"no section {anchor}"
    return match.group(0)


def text(fragment: str) -> str:
    """What a reader sees: tags removed, entities decoded, white space collapsed."""
    collapsed = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
    return re.sub(r"\(\s+", "(", re.sub(r"\s+([).,:;])", r"\1", collapsed))


def images(fragment: str) -> list[ET.Element]:
    return [ET.fromstring(svg_of(tag)) for tag in re.findall(r"<img [^>]*>", fragment)]


def points(svg: ET.Element) -> list[tuple[float, float]]:
    group = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "points")
    return [(float(c.attrib["cx"]), float(c.attrib["cy"])) for c in group.iter(f"{SVG}circle")]


def dashed_line(svg: ET.Element) -> ET.Element:
    return next(line for line in svg.iter(f"{SVG}line") if line.get("stroke-dasharray"))


# --- the page ---------------------------------------------------------------------------------------------------------
def test_every_section_is_on_the_page_with_the_headline_figures(endpoint_dir: Path) -> None:
    path = write_report(summary_fixture(), endpoint_dir, definition=DEFINITION)

    assert path == endpoint_dir / REPORT_NAME
    page = path.read_text()
    for anchor in ("stages", "executions", "pipeline", "predictions", "monitoring", "account"):
        section(page, anchor)
    headline = text(page.split("</header>")[0])
    assert "Succeeded" in headline and "endpoint" in headline
    assert "Test MSE (evaluation) 4.5698" in headline and "Predictions MSE 6.9531" in headline
    assert "Model version 1 (Approved)" in headline and "Wall time 36.4 s" in headline
    assert "M,0.415,0.31,0.09,0.3245,0.1305,0.0735,0.115 → 9.2153" in headline
    assert '<html lang="en">' in page and "<title>make local: succeeded (endpoint)</title>" in page


def test_the_page_is_self_contained(endpoint_dir: Path) -> None:
    page = render_report(summary_fixture(), endpoint_dir, definition=DEFINITION)

    assert "default-src 'none'; img-src data:" in page  # the CSP: no script, nothing loaded from anywhere
    assert "<script" not in page and "<link" not in page
    sources = re.findall(r'\ssrc="([^"]*)"', page)
    assert sources and all(source.startswith("data:image/svg+xml;base64,") for source in sources)
    links = re.findall(r'\shref="([^"]*)"', page)
    assert links == ["summary.json", "test.csv", "predictions.csv"]  # relative: the files of this run that exist


def test_a_summary_dataclass_gives_the_page_its_dict_gives(endpoint_dir: Path) -> None:
    summary = Summary(
        target="endpoint",
        test_mse=4.5,
        model_package_version=3,
        executions=[ExecutionSummary("train-1", "arn:x", "train", "SUCCEEDED", ["Start", "Finish"])],
        stages=[StageRecord("emulator", seconds=1.5, detail="up")],
        total_seconds=12.0,
    )
    from dataclasses import asdict

    assert render_report(summary, endpoint_dir) == render_report(asdict(summary), endpoint_dir)
    assert "train-1" in text(section(render_report(summary, endpoint_dir), "executions"))


# --- escaping ---------------------------------------------------------------------------------------------------------
def test_every_text_from_the_run_is_escaped(endpoint_dir: Path) -> None:
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    summary = summary_fixture(
        status="failed",
        failed_stage="train",
        failure_reason=f"pipeline step failed: {attack}",
        failure_traceback=f"Traceback ...\nValueError: {attack}",
        sample_record=attack,
        violations=[{"feature_name": attack, "constraint_check_type": attack, "description": attack}],
        drift={"schedule": attack},
    )
    summary["executions"][0]["states"] = ["Start", attack]
    summary["stages"][0]["detail"] = attack
    summary["pipeline_steps"][0].update(status="Failed", failure_reason=attack)

    page = render_report(summary, endpoint_dir, definition=DEFINITION)

    assert "<script" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    assert page.count(html.escape(attack)) >= 8  # shown as text, wherever it came from
    assert f"pipeline step failed: {attack}" in text(page)
    for svg in images(page):  # and the SVGs are well-formed XML (ElementTree parsed each one)
        assert svg.tag == f"{SVG}svg"


def test_step_names_in_the_dag_are_escaped() -> None:
    nodes = pipeline_nodes([{"name": "A<&>", "status": "Succeeded", "seconds": 1.0}])

    svg = dag_svg(nodes)

    assert "A&lt;&amp;&gt;" in svg and "A<&>" not in svg
    ET.fromstring(svg)


# --- predictions ------------------------------------------------------------------------------------------------------
def test_endpoint_scores_pair_each_test_row_with_its_prediction_in_order(endpoint_dir: Path) -> None:
    scores = read_scores(summary_fixture(), endpoint_dir)

    assert scores is not None and scores.source == "predictions.csv" and scores.problems == []
    assert [(p.label, p.prediction) for p in scores.points] == [(8, 9.5), (11, 11.0), (22, 17.0), (5, 6.25)]
    assert [p.residual for p in scores.points] == [1.5, 0.0, -5.0, 1.25]  # prediction - label
    assert scores.mse == pytest.approx((1.5**2 + 5**2 + 1.25**2) / 4)


def test_batch_scores_pair_each_transform_record_with_its_test_row(batch_dir: Path) -> None:
    scores = read_scores(summary_fixture(target="batch"), batch_dir)

    assert scores is not None and scores.source == "transform/test.csv.out" and scores.problems == []
    assert sorted((p.label, p.prediction) for p in scores.points) == [(5, 6.25), (8, 9.5), (11, 11.0), (22, 17.0)]


def test_a_batch_record_that_is_no_test_row_is_reported_not_plotted(batch_dir: Path) -> None:
    out = batch_dir / "transform" / "test.csv.out"
    out.write_text(out.read_text() + "M,9,9,9,9,9,9,9,4.0\nnot a record\n")

    scores = read_scores(summary_fixture(target="batch"), batch_dir)

    assert scores is not None and len(scores.points) == len(TEST_ROWS)
    assert scores.problems == [
        "transform/test.csv.out line 5: the record is not a test row",
        "transform/test.csv.out line 6: no prediction at the end of the line",
    ]
    page = render_report(summary_fixture(target="batch"), batch_dir)
    assert "the record is not a test row" in text(section(page, "predictions"))


def test_fewer_predictions_than_test_rows_are_paired_in_order_and_said(endpoint_dir: Path) -> None:
    (endpoint_dir / "predictions.csv").write_text("9.5\n11\n")

    scores = read_scores(summary_fixture(), endpoint_dir)

    assert scores is not None and len(scores.points) == 2
    assert scores.problems == ["predictions.csv has 2 values for 4 test rows; paired in order"]


@pytest.mark.parametrize("target", ["endpoint", "batch"])
def test_each_plot_has_one_point_per_test_row(target: str, endpoint_dir: Path, batch_dir: Path) -> None:
    folder = endpoint_dir if target == "endpoint" else batch_dir
    if target == "batch":
        (folder / "predictions.csv").unlink(missing_ok=True)
    page = render_report(summary_fixture(target=target), folder)

    scatter, residuals = images(section(page, "predictions"))

    assert len(points(scatter)) == len(points(residuals)) == len(TEST_ROWS)
    source = "predictions.csv" if target == "endpoint" else "transform/test.csv.out"
    assert f"4 test rows scored (from {source})" in text(section(page, "predictions"))


def test_the_plots_place_each_point_by_its_label_prediction_and_residual(endpoint_dir: Path) -> None:
    page = render_report(summary_fixture(), endpoint_dir)
    scatter, residuals = images(section(page, "predictions"))

    # predicted vs actual: the exact prediction (11 for 11) lies on the dashed y = x line
    diagonal = dashed_line(scatter)
    (x1, y1, x2, y2) = (float(diagonal.attrib[k]) for k in ("x1", "y1", "x2", "y2"))
    exact = points(scatter)[1]
    assert exact[1] == pytest.approx(y1 + (exact[0] - x1) * (y2 - y1) / (x2 - x1), abs=0.15)
    # a higher label is further right, a higher prediction further up (SVG's y grows downwards)
    xs, ys = zip(*points(scatter), strict=True)
    assert sorted(range(4), key=lambda i: xs[i]) == [3, 0, 1, 2]  # labels 5, 8, 11, 22
    assert sorted(range(4), key=lambda i: -ys[i]) == [3, 0, 1, 2]  # predictions 6.25, 9.5, 11, 17

    # residuals: prediction - label against the prediction; 0 on the zero line, over-predictions above it
    zero = float(dashed_line(residuals).attrib["y1"])
    residual_points = points(residuals)
    assert residual_points[1][1] == pytest.approx(zero, abs=0.15)  # 11 - 11
    assert residual_points[0][1] < zero and residual_points[3][1] < zero  # +1.5, +1.25: above
    assert residual_points[2][1] > zero  # 17 - 22 = -5: below
    assert residual_points[0][1] < residual_points[3][1]  # +1.5 is higher than +1.25
    assert "mean residual -0.5625" in text(section(page, "predictions"))


def test_without_predictions_the_page_says_why(tmp_path: Path) -> None:
    summary = summary_fixture(status="failed", failed_stage="deploy", failure_reason="deploy execution FAILED")

    page = render_report(summary, tmp_path)

    assert images(section(page, "predictions")) == []
    assert "No predictions to plot: the run stopped at deploy before scoring." in text(section(page, "predictions"))


# --- a failed run -----------------------------------------------------------------------------------------------------
def test_a_run_that_failed_early_shows_what_ran_and_says_what_did_not(tmp_path: Path) -> None:
    summary = {
        "status": "failed",
        "failed_stage": "provision",
        "failure_reason": "ProvisionError: Dashboard: resource type AWS::CloudWatch::Dashboard is not provisioned",
        "failure_traceback": "Traceback (most recent call last):\n  ...\nProvisionError: Dashboard",
        "target": "endpoint",
        "stages": [
            {"name": "emulator", "status": "succeeded", "seconds": 3.3, "detail": "http://127.0.0.1:46815"},
            {"name": "provision", "status": "failed", "seconds": 3.2, "detail": "Dashboard: ..."},
        ],
        "total_seconds": 7.069,
    }

    page = render_report(summary, tmp_path)

    headline = text(page.split("</header>")[0])
    assert "Failed at provision" in headline and "AWS::CloudWatch::Dashboard" in headline
    assert "Traceback (most recent call last)" in headline
    assert "Test MSE (evaluation) — not reached" in headline
    assert "provision ✗ failed 3.20 s" in text(section(page, "stages"))
    assert "No state machine execution ran in this run." in text(section(page, "executions"))
    assert "The pipeline did not run in this run." in text(section(page, "pipeline"))
    assert "No monitoring run in this run." in text(section(page, "monitoring"))
    assert "<title>make local: failed (endpoint)</title>" in page


def test_a_failed_pipeline_step_is_shown_with_its_reason_and_the_steps_it_stopped(endpoint_dir: Path) -> None:
    summary = summary_fixture(
        status="failed",
        failed_stage="train",
        pipeline_status="Failed",
        pipeline_steps=[{"name": "Preprocess", "status": "Failed", "seconds": 1.5, "failure_reason": "bad row 10"}],
    )
    summary["executions"] = [{**summary["executions"][0], "status": "FAILED", "states": ["Start", "Fail"]}]

    pipeline = section(render_report(summary, endpoint_dir, definition=DEFINITION), "pipeline")

    rows = text(pipeline)
    assert "Preprocess Processing ✗ Failed 1.50 s bad row 10" in rows
    assert "Train Training – not run" in rows and "Register RegisterModel – not run" in rows
    (dag,) = images(pipeline)
    boxes = list(dag.iter(f"{SVG}rect"))
    assert len(boxes) == len(DEFINITION["Steps"]) + 2  # the two branch steps of the condition
    assert sum(1 for box in boxes if box.get("stroke-dasharray")) == 5  # not run: dashed


# --- executions -------------------------------------------------------------------------------------------------------
def test_a_poll_loop_is_folded_with_its_count() -> None:
    assert fold_states(TRAIN_STATES) == [
        (("Start",), 1),
        (("UpsertPipeline",), 1),
        (("StartPipelineExecution",), 1),
        (tuple(POLL_LOOP), 15),
        (("Finish",), 1),
        (("Finished",), 1),
        (("Succeeded",), 1),
    ]
    assert fold_states(["A", "A", "B", "A", "B", "C"]) == [
        (("A",), 2),
        (("B",), 1),
        (("A",), 1),
        (("B",), 1),
        (("C",), 1),
    ]
    assert fold_states([]) == []


def test_each_execution_shows_its_path_in_order_with_its_outcome_and_status(endpoint_dir: Path) -> None:
    executions = section(render_report(summary_fixture(), endpoint_dir), "executions")

    train, deploy = re.findall(r"<article.*?</article>", executions, re.S)
    assert "Outcome AwaitingApproval: Model version 1 awaits approval" in text(train)
    assert "51 states entered" in text(train)
    assert (
        "Start UpsertPipeline StartPipelineExecution WaitForPipeline CheckPipeline PipelineDone repeated ×15 times "
        "Finish Finished Succeeded"
    ) in text(train)
    assert '<span class="state end succeeded">Succeeded</span>' in deploy
    assert "Plan CreateModel CreateEndpoint Finish Finished Succeeded" in text(deploy)


def test_a_failed_execution_marks_its_last_state_failed(endpoint_dir: Path) -> None:
    summary = summary_fixture()
    summary["executions"][1].update(status="FAILED", states=["Plan", "CreateEndpoint", "DeployFailed"])

    executions = section(render_report(summary, endpoint_dir), "executions")

    assert '<span class="state end failed">DeployFailed</span>' in executions


# --- the pipeline DAG -------------------------------------------------------------------------------------------------
def test_the_dag_follows_the_definitions_dependencies() -> None:
    nodes = pipeline_nodes(summary_fixture()["pipeline_steps"], DEFINITION)

    assert [(node.name, node.type, node.status) for node in nodes] == [
        ("Preprocess", "Processing", "Succeeded"),
        ("Train", "Training", "Succeeded"),
        ("Evaluate", "Processing", "Succeeded"),
        ("Check", "Condition", "Succeeded"),
        ("Register", "RegisterModel", "Succeeded"),
        ("Fail", "Fail", None),
    ]
    parents = {node.name: sorted(node.parents) for node in nodes}
    assert parents == {
        "Preprocess": [],
        "Train": [("Preprocess", "")],
        "Evaluate": [("Preprocess", ""), ("Train", "")],  # DependsOn, and a data dependency
        "Check": [("Evaluate", "")],  # through the property file
        "Register": [("Check", "if"), ("Train", "")],
        "Fail": [("Check", "else")],
    }
    assert nodes[0].seconds == 7.204


def test_without_a_definition_the_recorded_steps_are_drawn_in_order() -> None:
    nodes = pipeline_nodes(summary_fixture()["pipeline_steps"])

    assert [(node.name, node.parents) for node in nodes] == [
        ("Preprocess", ()),
        ("Train", (("Preprocess", ""),)),
        ("Evaluate", (("Train", ""),)),
        ("Check", (("Evaluate", ""),)),
        ("Register", (("Check", ""),)),
    ]


def test_the_dag_draws_a_box_per_step_left_to_right_and_an_arrow_per_dependency(endpoint_dir: Path) -> None:
    page = render_report(summary_fixture(), endpoint_dir, definition=DEFINITION)
    (dag,) = images(section(page, "pipeline"))

    boxes = {}
    for label in dag.iter(f"{SVG}text"):
        lines = [span.text or "" for span in label.iter(f"{SVG}tspan")]
        if lines:
            boxes[lines[0]] = float(label.attrib["x"])
    assert boxes["Preprocess"] < boxes["Train"] < boxes["Evaluate"] < boxes["Check"] < boxes["Register"]
    assert boxes["Register"] == boxes["Fail"]  # the two branches of the condition, one column
    arrows = [path for path in dag.iter(f"{SVG}path") if path.get("marker-end")]
    assert len(arrows) == 7
    assert "Preprocess Processing Succeeded · 7.20 s" in " ".join(
        " ".join(span.text or "" for span in t.iter(f"{SVG}tspan")) for t in dag.iter(f"{SVG}text")
    )


def test_an_unreadable_definition_falls_back_to_the_recorded_order(endpoint_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "definition.json"
    broken.write_text("{not json")

    page = render_report(summary_fixture(), endpoint_dir, definition=broken)

    assert "the steps in the order the run recorded" in text(section(page, "pipeline"))


# --- monitoring -------------------------------------------------------------------------------------------------------
def test_no_monitoring_fields_means_no_monitoring_run(endpoint_dir: Path) -> None:
    monitoring = section(render_report(summary_fixture(), endpoint_dir), "monitoring")

    assert "No monitoring run in this run." in text(monitoring)


def test_an_empty_violation_list_means_no_violation(endpoint_dir: Path) -> None:
    drift = {"schedule": "abalone-data-quality", "execution_status": "Completed", "alarm_state": "OK"}
    monitoring = section(render_report(summary_fixture(violations=[], drift=drift), endpoint_dir), "monitoring")

    assert "No violation" in text(monitoring) and "No monitoring run" not in text(monitoring)
    assert "schedule abalone-data-quality execution status Completed alarm state OK" in text(monitoring)


def test_violations_are_listed_with_their_feature_check_and_description(endpoint_dir: Path) -> None:
    violations = [
        {
            "feature_name": "length",
            "constraint_check_type": "baseline_drift_check",
            "description": "Baseline drift distance: 0.41 exceeds threshold: 0.1",
        },
        {"feature_name": "sex", "constraint_check_type": "data_type_check", "description": "Data type match ..."},
        {"feature_name": "diameter", "constraint_check_type": "baseline_drift_check", "description": "0.2 > 0.1"},
    ]
    drift = {
        "execution_status": "CompletedWithViolations",
        "notification": 'ALARM: "abalone-mlops-data-drift" in US East (N. Virginia)',
        "distances": {"length": 0.41, "diameter": 0.2},
        "constraint_violations": violations,
    }
    features = sorted({str(v["feature_name"]) for v in violations})

    monitoring = section(render_report(summary_fixture(violations=features, drift=drift), endpoint_dir), "monitoring")

    assert "3 violations: baseline_drift_check × 2, data_type_check × 1" in text(monitoring)
    distances, rows = re.findall(r"<tbody>.*?</tbody>", monitoring, re.S)
    assert "length 0.41 diameter 0.2" in text(distances)
    assert rows.count("<tr>") == 3
    assert "length baseline_drift_check Baseline drift distance: 0.41 exceeds threshold: 0.1" in text(rows)
    assert 'notification ALARM: "abalone-mlops-data-drift" in US East (N. Virginia)' in text(monitoring)


# --- size and helpers -------------------------------------------------------------------------------------------------
def test_a_full_test_split_stays_small(tmp_path: Path) -> None:
    rows = [f"{5 + i % 20},M,0.{i:04d},0.3,0.1,0.3,0.1,0.07,0.1" for i in range(627)]
    (tmp_path / "test.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "predictions.csv").write_text("".join(f"{6 + (i * 7919 % 1000) / 80:.6f}\n" for i in range(627)))
    summary = summary_fixture(predictions_count=627)
    long_output = copy.deepcopy(summary["executions"][0])
    long_output["output"] = {"Finish": {"Message": "x" * 50_000}}
    summary["executions"].append(long_output)

    page = render_report(summary, tmp_path, definition=DEFINITION)

    assert len(page.encode()) < 300_000
    scatter, residuals = images(section(page, "predictions"))
    assert len(points(scatter)) == len(points(residuals)) == 627
    assert "more characters" in page  # the long output is clipped


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (0.0, 25.0, [0, 5, 10, 15, 20, 25]),
        (-5.2, 5.2, [-7.5, -5, -2.5, 0, 2.5, 5, 7.5]),
        (3.0, 3.0, [2, 2.5, 3, 3.5, 4]),
    ],
)
def test_axis_ticks_are_round_and_cover_the_data(lo: float, hi: float, expected: list[float]) -> None:
    assert nice_ticks(lo, hi) == expected


def test_score_residual_is_prediction_minus_label() -> None:
    assert Score(label=10.0, prediction=12.5).residual == 2.5


def test_summary_json_round_trip_renders_the_same_page(endpoint_dir: Path) -> None:
    summary = summary_fixture()
    assert render_report(json.loads(json.dumps(summary)), endpoint_dir) == render_report(summary, endpoint_dir)
