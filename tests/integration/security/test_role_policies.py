"""The roles as deployed: their own grants plus the preventive controls, evaluated by the IAM policy simulator.

Where test_preventive_controls.py pairs the controls with "any grant", this reads every policy the SAM-expanded
template attaches to the state machine's role and to the SageMaker execution role, and evaluates the requests the
project really makes: they are allowed, and the same requests without their VPC or with another key are denied.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from cfn import REPO_ROOT
from security.iam.controls import ACCOUNT_ID, EXECUTION_ROLE_ARN, REGION, role_policies
from security.iam.simulator import Case, Request, simulate
from tests.integration.security.requests import COMPLIANT, violations

STATE_MACHINE_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/abalone-DeployStateMachineRole"
EXECUTION_ROLE = EXECUTION_ROLE_ARN
PREFIX = "abalone-mlops"  # ResourceNamePrefix's default
ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}"


@pytest.fixture(scope="module")
def expanded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("expanded") / "template.expanded.json"
    command = [str(REPO_ROOT / ".venv-sam/bin/python"), "-m", "security.sam_expand", "template.yaml", str(target)]
    subprocess.run(command, check=True, capture_output=True, cwd=REPO_ROOT)
    document: dict[str, Any] = json.loads(target.read_text())
    return document


def _as(role: str, request: Request, resource: str) -> Request:
    return Request(request.action, resource, request.context, principal=role)


def test_the_deploy_machine_role_deploys_only_compliant_resources(expanded: dict[str, Any]) -> None:
    policies = role_policies(expanded, "DeployStateMachineRole")
    assert "SageMakerPreventiveControlsPolicy" in policies
    model = _as(STATE_MACHINE_ROLE, COMPLIANT["sagemaker:CreateModel"], f"{ARN}:model/{PREFIX}-v3-1a2b3c")
    config = _as(
        STATE_MACHINE_ROLE, COMPLIANT["sagemaker:CreateEndpointConfig"], f"{ARN}:endpoint-config/{PREFIX}-v3-1a2b3c"
    )
    transform = _as(
        STATE_MACHINE_ROLE, COMPLIANT["sagemaker:CreateTransformJob"], f"{ARN}:transform-job/{PREFIX}-v3-1a2b3c"
    )
    endpoint = _as(STATE_MACHINE_ROLE, COMPLIANT["sagemaker:CreateEndpoint"], f"{ARN}:endpoint/{PREFIX}-endpoint")
    requests = {
        "model": model,
        "config": config,
        "transform": transform,
        "endpoint": endpoint,
        "model-without-vpc": violations(model, "Null", "sagemaker:VpcSubnets")[0],
        "model-not-isolated": violations(model, "Bool", "sagemaker:NetworkIsolation")[0],
        "config-other-key": violations(config, "ArnNotEquals", "sagemaker:VolumeKmsKeyArn")[0],
        "transform-no-output-key": violations(transform, "ArnNotEquals", "sagemaker:OutputKmsKeyArn")[1],
        "model-outside-the-prefix": _as(STATE_MACHINE_ROLE, model, f"{ARN}:model/someone-elses-model"),
        "training-job": _as(
            STATE_MACHINE_ROLE, COMPLIANT["sagemaker:CreateTrainingJob"], f"{ARN}:training-job/{PREFIX}-x"
        ),
    }

    results = simulate([Case(name, policies, request) for name, request in requests.items()])

    decisions = {name: result.decision for name, result in results.items()}
    assert decisions == {
        "model": "Allowed",
        "config": "Allowed",
        "transform": "Allowed",
        "endpoint": "Allowed",
        "model-without-vpc": "ExplicitlyDenied",
        "model-not-isolated": "ExplicitlyDenied",
        "config-other-key": "ExplicitlyDenied",
        "transform-no-output-key": "ExplicitlyDenied",
        "model-outside-the-prefix": "ImplicitlyDenied",  # least privilege: only this stack's names
        "training-job": "ImplicitlyDenied",  # the state machine never trains itself
    }


def test_the_execution_role_runs_only_compliant_pipeline_jobs(expanded: dict[str, Any]) -> None:
    """The pipeline's jobs, and its serving check: the Model step and the Transform step through that model."""
    policies = role_policies(expanded, "SageMakerExecutionRole")
    training = _as(
        EXECUTION_ROLE, COMPLIANT["sagemaker:CreateTrainingJob"], f"{ARN}:training-job/pipelines-abc123-trainabalone"
    )
    processing = _as(
        EXECUTION_ROLE, COMPLIANT["sagemaker:CreateProcessingJob"], f"{ARN}:processing-job/pipelines-abc123-prep"
    )
    model = _as(
        EXECUTION_ROLE, COMPLIANT["sagemaker:CreateModel"], f"{ARN}:model/pipelines-abc123-createservingmodel-c-x"
    )
    transform = _as(
        EXECUTION_ROLE, COMPLIANT["sagemaker:CreateTransformJob"], f"{ARN}:transform-job/pipelines-abc123-score"
    )
    requests = {
        "training": training,
        "processing": processing,
        "serving-check-model": model,
        "serving-check-transform": transform,
        "training-other-subnet": violations(training, "ForAnyValue:StringNotEquals", "sagemaker:VpcSubnets")[0],
        "processing-no-encryption": violations(processing, "Bool", "sagemaker:InterContainerTrafficEncryption")[0],
        "model-without-vpc": violations(model, "Null", "sagemaker:VpcSubnets")[0],
        "model-not-isolated": violations(model, "Bool", "sagemaker:NetworkIsolation")[0],
        "transform-no-output-key": violations(transform, "ArnNotEquals", "sagemaker:OutputKmsKeyArn")[1],
        "deployment-model": _as(EXECUTION_ROLE, COMPLIANT["sagemaker:CreateModel"], f"{ARN}:model/{PREFIX}-x"),
    }

    results = simulate([Case(name, policies, request) for name, request in requests.items()])

    assert {name: r.decision for name, r in results.items()} == {
        "training": "Allowed",
        "processing": "Allowed",
        "serving-check-model": "Allowed",
        "serving-check-transform": "Allowed",
        "training-other-subnet": "ExplicitlyDenied",
        "processing-no-encryption": "ExplicitlyDenied",
        "model-without-vpc": "ExplicitlyDenied",
        "model-not-isolated": "ExplicitlyDenied",
        "transform-no-output-key": "ExplicitlyDenied",
        "deployment-model": "ImplicitlyDenied",  # deployments are the deploy state machine's, not the pipeline's
    }


@pytest.mark.parametrize("role_id", ["DeployStateMachineRole", "UpsertPipelineFunctionRole"])
def test_pass_role_only_for_the_execution_role_and_only_to_sagemaker(expanded: dict[str, Any], role_id: str) -> None:
    policies = role_policies(expanded, role_id)
    execution_role = EXECUTION_ROLE_ARN
    principal = f"arn:aws:iam::{ACCOUNT_ID}:role/abalone-{role_id}"

    def pass_role(role: str, service: str) -> Request:
        return Request("iam:PassRole", role, {"iam:PassedToService": service}, principal=principal)

    requests = {
        "to-sagemaker": pass_role(execution_role, "sagemaker.amazonaws.com"),
        "to-lambda": pass_role(execution_role, "lambda.amazonaws.com"),
        "another-role": pass_role(f"arn:aws:iam::{ACCOUNT_ID}:role/Admin", "sagemaker.amazonaws.com"),
    }

    results = simulate([Case(name, policies, request) for name, request in requests.items()])

    assert results["to-sagemaker"].decision == "Allowed"
    assert results["to-lambda"].decision == "ImplicitlyDenied"
    assert results["another-role"].decision == "ImplicitlyDenied"


def test_the_train_machine_role_cannot_deploy_or_pass_a_role(expanded: dict[str, Any]) -> None:
    """Training and deploying are separate machines: the one a data scientist starts never touches endpoints."""
    policies = role_policies(expanded, "TrainStateMachineRole")
    principal = f"arn:aws:iam::{ACCOUNT_ID}:role/abalone-TrainStateMachineRole"
    requests = {
        "create-model": _as(principal, COMPLIANT["sagemaker:CreateModel"], f"{ARN}:model/{PREFIX}-v3-1a2b3c"),
        "create-endpoint": _as(principal, COMPLIANT["sagemaker:CreateEndpoint"], f"{ARN}:endpoint/{PREFIX}-endpoint"),
        "pass-role": Request(
            "iam:PassRole", EXECUTION_ROLE_ARN, {"iam:PassedToService": "sagemaker.amazonaws.com"}, principal=principal
        ),
    }

    results = simulate([Case(name, policies, request) for name, request in requests.items()])

    assert {name: r.decision for name, r in results.items()} == dict.fromkeys(requests, "ImplicitlyDenied")
