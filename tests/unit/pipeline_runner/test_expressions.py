"""The expression language: Get paths, Std:Join, Std:JsonGet, conditions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local_twin.pipeline_runner.expressions import (
    ExpressionError,
    PathElement,
    evaluate,
    evaluate_condition,
    parse_get,
    references,
)
from local_twin.pipeline_runner.properties import resolve_property


class Context:
    """A finished Preprocess and Evaluate step and two parameters."""

    properties: dict[str, dict[str, Any]] = {
        "Preprocess": {
            "ProcessingOutputConfig": {
                "Outputs": [
                    {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
                    {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}},
                ]
            }
        }
    }
    files = {"Evaluate": {"Report": {"regression_metrics": {"mse": {"value": 4.5}}, "items": [10, 20]}}}

    def parameter(self, name: str) -> Any:
        return {"Threshold": 6.0, "Status": "Approved", "Flag": True}[name]

    def execution_variable(self, name: str) -> Any:
        return {"PipelineExecutionId": "abc123"}[name]

    def step_property(self, step: str, path: tuple[PathElement, ...], text: str) -> Any:
        return resolve_property(self.properties[step], path, text)

    def property_file(self, step: str, file_name: str) -> Any:
        return self.files[step][file_name]


MSE = {
    "Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"},
        "Path": "regression_metrics.mse.value",
    }
}


def test_get_paths_with_dict_and_list_indexing() -> None:
    reference = parse_get("Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri")

    assert (reference.kind, reference.name) == ("Steps", "Preprocess")
    assert reference.path == ("ProcessingOutputConfig", "Outputs", "train", "S3Output", "S3Uri")
    assert parse_get('Steps.Train.FinalMetricDataList["rmse"].Value').path == ("FinalMetricDataList", "rmse", "Value")
    assert parse_get("Steps.A-B.X[0].Y").path == ("X", 0, "Y")
    assert parse_get("Steps.Evaluate.PropertyFiles.Report").kind == "PropertyFile"


def test_malformed_get_is_an_error_naming_it() -> None:
    with pytest.raises(ExpressionError, match=r"Get 'Steps.Train.X\[oops\]'"):
        parse_get("Steps.Train.X[oops]")
    with pytest.raises(ExpressionError, match=r"expected Parameters"):
        parse_get("Properties.X")


def test_evaluate_replaces_every_expression() -> None:
    node = {
        "Uri": {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"},
        "Second": {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs[1].S3Output.S3Uri"},
        "Path": {"Std:Join": {"On": "/", "Values": ["s3:/", "b", {"Get": "Execution.PipelineExecutionId"}, "x"]}},
        "Message": {"Std:Join": {"On": " ", "Values": ["mse", MSE, "flag", {"Get": "Parameters.Flag"}]}},
        "List": [{"Get": "Parameters.Status"}, 3],
    }

    assert evaluate(node, Context()) == {
        "Uri": "s3://b/test",
        "Second": "s3://b/test",
        "Path": "s3://b/abc123/x",
        "Message": "mse 4.5 flag true",
        "List": ["Approved", 3],
    }


def test_json_get_with_a_missing_path_names_it() -> None:
    missing = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"}, "Path": "metrics.mse"}}

    assert evaluate({"Std:JsonGet": {**MSE["Std:JsonGet"], "Path": "items[1]"}}, Context()) == 20
    with pytest.raises(ExpressionError, match=r"Path 'metrics.mse': no 'metrics'"):
        evaluate(missing, Context())


@pytest.mark.parametrize(
    ("kind", "right", "expected"),
    [
        ("LessThanOrEqualTo", 6.0, True),
        ("LessThanOrEqualTo", 4.5, True),
        ("LessThan", 4.5, False),
        ("GreaterThan", 4.0, True),
        ("GreaterThanOrEqualTo", 5.0, False),
        ("Equals", 4.5, True),
        ("LessThanOrEqualTo", "0.1", False),
    ],
)
def test_comparisons(kind: str, right: Any, expected: bool) -> None:
    condition = {"Type": kind, "LeftValue": MSE, "RightValue": right}

    assert evaluate_condition(condition, Context()) is expected


def test_in_not_or() -> None:
    in_ = {"Type": "In", "QueryValue": {"Get": "Parameters.Status"}, "Values": ["Approved", "Rejected"]}
    false = {"Type": "GreaterThan", "LeftValue": MSE, "RightValue": {"Get": "Parameters.Threshold"}}

    assert evaluate_condition(in_, Context()) is True
    assert evaluate_condition({"Type": "Not", "Condition": in_}, Context()) is False
    assert evaluate_condition({"Type": "Or", "Conditions": [false, in_]}, Context()) is True
    assert evaluate_condition({"Type": "Or", "Conditions": [false]}, Context()) is False


def test_references_finds_gets_and_property_files() -> None:
    found = list(references({"a": [{"Get": "Parameters.Threshold"}], "b": MSE}))

    assert [(r.kind, r.name) for r in found] == [("Parameters", "Threshold"), ("PropertyFile", "Evaluate")]
    assert found[1].path == ("Report", "regression_metrics.mse.value")


def test_a_property_the_step_did_not_report_is_an_error() -> None:
    with pytest.raises(ExpressionError, match=r"no value for 'validation'"):
        evaluate({"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri"}, Context())


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
_KEYS = st.text(alphabet=st.characters(exclude_characters="'\"", exclude_categories=["Cs"]), max_size=10)
_ELEMENTS = st.one_of(_NAMES.map(lambda n: ("name", n)), _KEYS.map(lambda k: ("key", k)), st.integers(0, 99))


@given(st.lists(_ELEMENTS, min_size=1, max_size=6))
def test_any_property_path_written_the_sdks_way_parses_back(elements: list[Any]) -> None:
    text, expected = "Steps.Some-Step", list[PathElement]()
    for element in elements:
        if isinstance(element, int):
            text += f"[{element}]"
            expected.append(element)
        elif element[0] == "name":
            text += f".{element[1]}"
            expected.append(element[1])
        else:
            text += f"['{element[1]}']"
            expected.append(element[1])
    if expected[0] == "PropertyFiles":
        return

    reference = parse_get(text)

    assert (reference.kind, reference.name, reference.path) == ("Steps", "Some-Step", tuple(expected))
