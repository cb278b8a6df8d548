"""Validation happens before anything runs and names the step and what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from local_twin.pipeline_runner.definition import DefinitionError, parse_definition


def _step(definition: dict[str, Any], name: str) -> dict[str, Any]:
    def walk(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
        for step in steps:
            if step["Name"] == name:
                return step
            found = walk(step.get("Arguments", {}).get("IfSteps", []) + step.get("Arguments", {}).get("ElseSteps", []))
            if found:
                return found
        return None

    found = walk(definition["Steps"])
    assert found is not None
    return found


def test_parses_every_step_with_its_dependencies(definition: dict[str, Any]) -> None:
    parsed = parse_definition(definition)

    assert list(parsed.steps) == [
        "Prep",
        "Train",
        "Evaluate",
        "CheckMse",
        "Register-RegisterModel",
        "Model-CreateModel",
        "Transform",
        "MseTooHigh",
    ]
    assert parsed.upstream["Train"] == {"Prep"}
    assert parsed.upstream["Evaluate"] == {"Prep", "Train"}
    assert parsed.upstream["CheckMse"] == {"Evaluate"}
    assert parsed.upstream["Register-RegisterModel"] == {"CheckMse", "Train", "Evaluate"}
    assert parsed.upstream["Transform"] == {"CheckMse", "Model-CreateModel", "Prep"}
    assert parsed.steps["MseTooHigh"].branch_of == ("CheckMse", "else")
    assert parsed.steps["Evaluate"].property_files["EvaluationReport"].file_path == "evaluation.json"


def test_unsupported_step_type_is_rejected_naming_the_step(definition: dict[str, Any]) -> None:
    definition["Steps"].append({"Name": "Tune", "Type": "Tuning", "Arguments": {}})

    with pytest.raises(DefinitionError, match=r"step 'Tune': step type 'Tuning' is not supported"):
        parse_definition(definition)


def test_unsupported_step_inside_a_branch_is_rejected(definition: dict[str, Any]) -> None:
    _step(definition, "CheckMse")["Arguments"]["ElseSteps"].append({"Name": "Notify", "Type": "Lambda"})

    with pytest.raises(DefinitionError, match=r"step 'Notify': step type 'Lambda'"):
        parse_definition(definition)


def test_unknown_parameter_reference_is_rejected(definition: dict[str, Any]) -> None:
    _step(definition, "MseTooHigh")["Arguments"]["ErrorMessage"] = {"Get": "Parameters.MseLimit"}

    with pytest.raises(DefinitionError, match=r"step 'MseTooHigh': Parameters.MseLimit refers to an unknown parameter"):
        parse_definition(definition)


def test_misspelt_property_is_rejected_naming_the_element(definition: dict[str, Any]) -> None:
    inputs = _step(definition, "Evaluate")["Arguments"]["ProcessingInputs"]
    inputs[0]["S3Input"]["S3Uri"] = {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifact"}

    with pytest.raises(DefinitionError, match=r"step 'Evaluate': .*'ModelArtifacts.S3ModelArtifact' is not a property"):
        parse_definition(definition)


def test_property_of_the_wrong_step_type_is_rejected(definition: dict[str, Any]) -> None:
    register = _step(definition, "Register-RegisterModel")["Arguments"]
    register["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = {"Get": "Steps.Prep.ModelArtifacts"}

    with pytest.raises(DefinitionError, match=r"'ModelArtifacts' is not a property of a Processing step"):
        parse_definition(definition)


def test_unknown_step_and_property_file_are_rejected(definition: dict[str, Any]) -> None:
    condition = _step(definition, "CheckMse")["Arguments"]["Conditions"][0]
    condition["LeftValue"]["Std:JsonGet"]["PropertyFile"] = {"Get": "Steps.Evaluate.PropertyFiles.Report"}
    with pytest.raises(DefinitionError, match=r"step 'Evaluate' has no property file 'Report'"):
        parse_definition(definition)

    condition["LeftValue"] = {"Get": "Steps.Score.Outcome"}
    with pytest.raises(DefinitionError, match=r"unknown step 'Score'"):
        parse_definition(definition)


def test_unknown_condition_type_is_rejected(definition: dict[str, Any]) -> None:
    _step(definition, "CheckMse")["Arguments"]["Conditions"][0]["Type"] = "Between"

    with pytest.raises(DefinitionError, match=r"step 'CheckMse': unsupported condition type 'Between'"):
        parse_definition(definition)


def test_image_with_no_local_environment_is_rejected(definition: dict[str, Any]) -> None:
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3-cpu-py311"
    _step(definition, "Train")["Arguments"]["AlgorithmSpecification"]["TrainingImage"] = image

    with pytest.raises(DefinitionError, match=r"step 'Train': image .*pytorch-training:2.3-cpu-py311 has no local"):
        parse_definition(definition)


def test_algorithm_mode_training_is_rejected(definition: dict[str, Any]) -> None:
    del _step(definition, "Train")["Arguments"]["HyperParameters"]["sagemaker_program"]

    with pytest.raises(DefinitionError, match=r"step 'Train': only script-mode training .* sagemaker_program"):
        parse_definition(definition)


def test_dependency_cycle_and_unknown_depends_on_are_rejected(definition: dict[str, Any]) -> None:
    _step(definition, "Prep")["DependsOn"] = ["Evaluate"]
    with pytest.raises(DefinitionError, match=r"cycle: .*Prep"):
        parse_definition(definition)

    _step(definition, "Prep")["DependsOn"] = ["Nope"]
    with pytest.raises(DefinitionError, match=r"step 'Prep': DependsOn names unknown step 'Nope'"):
        parse_definition(definition)


def test_parameters_defaults_typed_overrides_and_unknown_names(definition: dict[str, Any]) -> None:
    parsed = parse_definition(definition)

    resolved = parsed.resolve_parameters({"MseThreshold": "0.5", "TrainRounds": "7"})

    assert resolved["MseThreshold"] == 0.5
    assert resolved["TrainRounds"] == 7
    assert resolved["ModelApprovalStatus"] == "PendingManualApproval"
    with pytest.raises(DefinitionError, match=r"unknown pipeline parameter\(s\): MseLimit"):
        parsed.resolve_parameters({"MseLimit": "1"})
    with pytest.raises(DefinitionError, match=r"parameter TrainRounds \(Integer\): 'many' is not a valid Integer"):
        parsed.resolve_parameters({"TrainRounds": "many"})


def test_a_parameter_without_default_must_be_given(definition: dict[str, Any]) -> None:
    del definition["Parameters"][0]["DefaultValue"]
    parsed = parse_definition(definition)

    with pytest.raises(DefinitionError, match=r"parameter InputDataUrl has no default value and was not given"):
        parsed.resolve_parameters({})
    assert parsed.resolve_parameters({"InputDataUrl": "s3://b/k"})["InputDataUrl"] == "s3://b/k"
