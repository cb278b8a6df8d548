"""local_twin.emulator: what it relies on in moto is still there, and each extension does what it says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_twin.emulator import Emulator, PipelineStart, emulate, moto_compatibility_problems
from tests.integration.statemachine.conftest import MOTO_CONFIG

REGION = "us-east-1"


def test_moto_is_what_the_emulator_was_checked_against() -> None:
    # Fails loudly when a moto upgrade removes what the extensions patch, or implements what they add.
    assert moto_compatibility_problems() == []


def test_without_the_emulator_moto_still_has_the_gaps_it_fills(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(config=MOTO_CONFIG):  # type: ignore[call-overload]
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        for call in (
            lambda: sagemaker.update_endpoint(EndpointName="e", EndpointConfigName="c"),
            lambda: sagemaker.list_pipeline_execution_steps(PipelineExecutionArn="arn"),
        ):
            with pytest.raises(NotImplementedError):
                call()


@pytest.fixture
def emulated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(config=MOTO_CONFIG), emulate() as emulator:  # type: ignore[call-overload]
        yield emulator


def create_pipeline() -> str:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_pipeline(
        PipelineName="p",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn="arn:aws:iam::123456789012:role/r",
        ClientRequestToken="c" * 32,
    )
    return "p"


def test_lambda_invoke_runs_the_handler_with_the_functions_environment(emulated: Emulator) -> None:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_client = boto3.client("lambda", region_name=REGION)
    lambda_client.create_function(
        FunctionName="helpers",
        Runtime="python3.13",
        Role=role,
        Handler="pipeline_helpers.app.lambda_handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        Environment={
            "Variables": {
                "DEFAULT_DEPLOYMENT_TARGET": "batch",
                "POLL_SECONDS": "7",
                "MAX_POLLS": "3",
                "ARTIFACTS_BUCKET": "b",
            }
        },
    )
    ok = lambda_client.invoke(
        FunctionName="helpers", Payload=json.dumps({"Operation": "validate_input", "Input": {"Mode": "train"}})
    )
    assert "FunctionError" not in ok
    assert json.loads(ok["Payload"].read())["Target"] == "batch"
    bad = lambda_client.invoke(FunctionName="helpers", Payload=json.dumps({"Operation": "nope"}))
    assert bad["FunctionError"] == "Unhandled"
    assert json.loads(bad["Payload"].read())["errorType"] == "InvalidInput"
    assert [i["function"] for i in emulated.invocations] == ["helpers", "helpers"]


def test_a_pipeline_runner_reports_status_reason_and_steps(emulated: Emulator) -> None:
    create_pipeline()
    started: list[PipelineStart] = []
    emulated.pipelines.runner = started.append
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    token = "a" * 32
    arn = sagemaker.start_pipeline_execution(
        PipelineName="p", PipelineParameters=[{"Name": "MseThreshold", "Value": "6"}], ClientRequestToken=token
    )["PipelineExecutionArn"]
    assert sagemaker.start_pipeline_execution(PipelineName="p", ClientRequestToken=token)["PipelineExecutionArn"] == arn
    assert [s.parameters for s in started] == [{"MseThreshold": "6"}]
    assert sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Executing"
    steps = [{"StepName": "TrainAbaloneModel", "StepStatus": "Failed", "FailureReason": "out of memory"}]
    emulated.pipelines.report(arn, "Failed", failure_reason="step TrainAbaloneModel failed", steps=steps)
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "step TrainAbaloneModel failed"
    listed = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    assert listed == steps
    with pytest.raises(ValueError, match="not a pipeline execution status"):
        emulated.pipelines.report(arn, "Done")


def test_stop_pipeline_execution(emulated: Emulator) -> None:
    create_pipeline()
    emulated.pipelines.runner = lambda start: None
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    arn = sagemaker.start_pipeline_execution(PipelineName="p", ClientRequestToken="d" * 32)["PipelineExecutionArn"]
    sagemaker.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken="b" * 32)
    assert arn in emulated.pipelines.stop_requested
    assert sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Stopping"


def test_update_endpoint_switches_the_config(emulated: Emulator) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r")
    variant: Any = {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 2, "InstanceType": "ml.m5.large"}
    for name in ("c1", "c2"):
        sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c1")
    sagemaker.update_endpoint(EndpointName="e", EndpointConfigName="c2")
    assert sagemaker.describe_endpoint(EndpointName="e")["EndpointConfigName"] == "c2"
    with pytest.raises(sagemaker.exceptions.ClientError, match="Could not find endpoint"):
        sagemaker.update_endpoint(EndpointName="missing", EndpointConfigName="c2")


def test_create_model_keeps_network_isolation(emulated: Emulator) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model(ModelName="m", ExecutionRoleArn="arn:aws:iam::1:role/r", EnableNetworkIsolation=True)
    assert sagemaker.describe_model(ModelName="m")["EnableNetworkIsolation"] is True


def test_the_extensions_are_removed_on_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sagemaker.responses import SageMakerResponse

    with emulate():
        assert hasattr(SageMakerResponse, "update_endpoint")
        with pytest.raises(RuntimeError, match="already active"), emulate():
            pass
    assert not hasattr(SageMakerResponse, "update_endpoint")


def test_an_unnamed_execution_gets_a_unique_name(emulated: Emulator) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="m",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/r",
    )["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert first != second and not first.endswith(":None")
