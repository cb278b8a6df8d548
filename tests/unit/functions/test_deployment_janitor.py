"""deployment_janitor: prune (after a deployment: old endpoint configs and models go, live ones never) and clean-up
(on stack deletion: running executions stopped, then everything the deploy path made, the pipeline's serving-check
models and the pipeline deleted), and the two handlers.

A resource is this stack's when it is named ``<ResourceNamePrefix>-...`` and tagged ``sagemaker-secure-mlops:stack``
with the stack's name. SageMaker, Application Auto Scaling and Step Functions are moto's (moto keeps an execution
RUNNING until it is stopped). Where moto has no answer (ListPipelineExecutionSteps) or where the order of the calls
is the point, SageMaker is answered by botocore's Stubber, which checks each request and answer against the API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto.sagemaker.models import sagemaker_backends
from moto.stepfunctions.models import stepfunctions_backends
from pydantic import ValidationError

from deployment_janitor import app, janitor
from deployment_janitor.janitor import STACK_TAG, Deleted, clean_up, prune, serving_check_models
from mlops_shared.pipeline_names import REGISTER_STEP, SERVING_MODEL_STEP, TRAIN_STEP
from mlops_shared.settings import ConfigurationError
from tests.unit.functions.conftest import REGION

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import TagTypeDef
    from mypy_boto3_stepfunctions import SFNClient

LoadEvent = Callable[[str], dict[str, Any]]

ACCOUNT = "123456789012"
PREFIX = "abalone-mlops"
STACK = "abalone-mlops-dev"  # not the prefix: a test passing one for the other fails
OTHER_STACK = "abalone-mlops-prod"
ENDPOINT = f"{PREFIX}-endpoint"
PIPELINE = f"{PREFIX}-pipeline"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker"
TRAIN_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{PREFIX}-train"
DEPLOY_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{PREFIX}-deploy"
SCALABLE_TARGET = f"endpoint/{ENDPOINT}/variant/AllTraffic"
T0 = datetime(2026, 11, 1, 9, 0)  # naive UTC, as moto keeps its times
NOTHING: dict[str, list[str]] = {
    "Endpoints": [],
    "EndpointConfigs": [],
    "Models": [],
    "ScalableTargets": [],
    "Pipelines": [],
    "MonitoringSchedules": [],
    "JobDefinitions": [],
    "StoppedExecutions": [],
    "Errors": [],
}

# The environment as template.yaml sets it: Globals.Function.Environment (what these functions read), then each
# function's own, then Lambda's.
GLOBAL_ENV = {
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "RESOURCE_PREFIX": PREFIX,
    "ENDPOINT_NAME": ENDPOINT,
    "AWS_REGION": REGION,
}
PRUNE_ENV = {
    **GLOBAL_ENV,
    "POWERTOOLS_SERVICE_NAME": "prune-deployments",
    "STACK_NAME": STACK,
    "KEEP_LAST_DEPLOYMENTS": "3",
}
CLEANUP_ENV = {
    **GLOBAL_ENV,
    "POWERTOOLS_SERVICE_NAME": "cleanup-deployments",
    "STACK_NAME": STACK,
    "PIPELINE_NAME": PIPELINE,
    "STATE_MACHINE_ARNS": f"{TRAIN_MACHINE},{DEPLOY_MACHINE}",
}


def deployment_name(version: int, prefix: str = PREFIX) -> str:
    """A model's and its endpoint config's name, shaped like deployments.steps makes them (v3 is prune.json's)."""
    return f"{prefix}-v{version}-0123456789"


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


def ours(*tags: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    return {"Tags": [{"Key": STACK_TAG, "Value": STACK}, *tags]}


@dataclass(frozen=True)
class AwsClients:
    sagemaker: SageMakerClient
    autoscaling: ApplicationAutoScalingClient
    sfn: SFNClient


@pytest.fixture(scope="module")
def aws_clients() -> AwsClients:
    """Made once: moto intercepts them while each test's mock_aws is active (its services start empty)."""
    fake = {"region_name": REGION, "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return AwsClients(
        sagemaker=boto3.client("sagemaker", **fake),  # type: ignore[call-overload]
        autoscaling=boto3.client("application-autoscaling", **fake),  # type: ignore[call-overload]
        sfn=boto3.client("stepfunctions", **fake),  # type: ignore[call-overload]
    )


@dataclass
class Account:
    """What deploy executions left in moto's SageMaker (and the stack's state machines), with ways to add to it."""

    clients: AwsClients

    @property
    def sagemaker(self) -> SageMakerClient:
        return self.clients.sagemaker

    def model(self, name: str, hour: int, stack: str | None = STACK) -> str:
        """A model created ``hour`` hours after T0, tagged with ``stack`` (None: untagged)."""
        tags: list[TagTypeDef] = [{"Key": STACK_TAG, "Value": stack}] if stack else []
        self.sagemaker.create_model(ModelName=name, PrimaryContainer={"Image": "img"}, ExecutionRoleArn=ROLE, Tags=tags)
        sagemaker_backends[ACCOUNT][REGION]._models[name].creation_time = T0 + timedelta(hours=hour)
        return name

    def config(self, name: str, hour: int, model: str, stack: str | None = STACK) -> str:
        tags: list[TagTypeDef] = [{"Key": STACK_TAG, "Value": stack}] if stack else []
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
            Tags=tags,
        )
        sagemaker_backends[ACCOUNT][REGION].endpoint_configs[name].creation_time = T0 + timedelta(hours=hour)
        return name

    def deployment(self, version: int, stack: str | None = STACK, prefix: str = PREFIX) -> str:
        """The model and endpoint config one deploy execution makes (one name for both), ``version`` hours in."""
        name = deployment_name(version, prefix)
        self.model(name, version, stack)
        return self.config(name, version, name, stack)

    def serve(self, config: str) -> None:
        """The stack's endpoint serves ``config`` (created, or switched to it)."""
        endpoints = sagemaker_backends[ACCOUNT][REGION].endpoints
        if ENDPOINT in endpoints:
            endpoints[ENDPOINT].endpoint_config_name = config
        else:
            self.sagemaker.create_endpoint(
                EndpointName=ENDPOINT, EndpointConfigName=config, Tags=[{"Key": STACK_TAG, "Value": STACK}]
            )

    def transform(self, job: str, model: str, status: str) -> None:
        self.sagemaker.create_transform_job(
            TransformJobName=job,
            ModelName=model,
            TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/batch/in/"}}},
            TransformOutput={"S3OutputPath": f"s3://b/batch/output/{job}/"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
        sagemaker_backends[ACCOUNT][REGION].transform_jobs[job].transform_job_status = status

    def models(self) -> set[str]:
        return {m["ModelName"] for m in self.sagemaker.list_models()["Models"]}

    def configs(self) -> set[str]:
        return {c["EndpointConfigName"] for c in self.sagemaker.list_endpoint_configs()["EndpointConfigs"]}

    def endpoints(self) -> set[str]:
        return {e["EndpointName"] for e in self.sagemaker.list_endpoints()["Endpoints"]}

    # --- the stack's state machines (moto records executions without running them) -----------------------------------
    def state_machine(self, arn_: str) -> str:
        self.clients.sfn.create_state_machine(
            name=arn_.rsplit(":", 1)[-1],
            definition=json.dumps({"StartAt": "Plan", "States": {"Plan": {"Type": "Pass", "End": True}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-states",
        )
        return arn_

    def execution(self, state_machine: str, name: str, ended: str | None = None) -> str:
        execution_arn = self.clients.sfn.start_execution(stateMachineArn=state_machine, name=name)["executionArn"]
        if ended:
            stepfunctions_backends[ACCOUNT][REGION].describe_execution(execution_arn).status = ended
        return execution_arn

    def status(self, execution_arn: str) -> str:
        return self.clients.sfn.describe_execution(executionArn=execution_arn)["status"]

    def scaling(self) -> list[str]:
        targets = self.clients.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        return [t["ResourceId"] for t in targets]


@pytest.fixture
def account(aws: None, aws_clients: AwsClients) -> Account:
    return Account(aws_clients)


@pytest.fixture
def stubbed(aws: None, aws_clients: AwsClients) -> Iterator[Stubber]:
    """SageMaker's answers, given by each test in the order the code asks; every one must have been asked for."""
    with Stubber(aws_clients.sagemaker) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def _monitoring_by_stub_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto has no monitoring-schedule API: the moto-backed tests leave monitoring out, the Stubber-backed ones
    answer its listings (test_the_stacks_monitoring_schedules_and_job_definitions_go_first); the emulator's
    integration tests run it for real."""
    if "stubbed" not in request.fixturenames:
        monkeypatch.setattr(janitor, "_delete_monitoring", lambda *args, **kwargs: None)


def prune_now(account: Account, keep_last: int, protect: tuple[str, ...] = ()) -> dict[str, list[str]]:
    return prune(STACK, ENDPOINT, keep_last, protect, account.sagemaker, resource_prefix=PREFIX).as_dict()


def clean_up_now(clients: AwsClients, state_machines: tuple[str, ...] = (), pipeline: str = PIPELINE) -> Deleted:
    return clean_up(
        STACK, pipeline, state_machines, clients.sagemaker, clients.autoscaling, clients.sfn, resource_prefix=PREFIX
    )


# ======================================================================================================================
# prune
# ======================================================================================================================
class TestPrune:
    def test_the_newest_configs_and_their_models_are_kept_and_older_ones_deleted(self, account: Account) -> None:
        # GIVEN five deployments, the newest live
        names = [account.deployment(version) for version in range(1, 6)]
        account.serve(names[-1])
        # WHEN pruned to the last two
        deleted = prune_now(account, keep_last=2)
        # THEN the three older configs and models are deleted, newest first, and reported so
        older = [deployment_name(3), deployment_name(2), deployment_name(1)]
        assert deleted == {**NOTHING, "EndpointConfigs": older, "Models": older}
        assert account.configs() == account.models() == {deployment_name(4), deployment_name(5)}

    def test_the_live_config_and_its_model_are_kept_however_old(self, account: Account) -> None:
        # GIVEN the endpoint serves the oldest of four deployments (rolled back to it)
        names = [account.deployment(version) for version in range(1, 5)]
        account.serve(names[0])
        prune_now(account, keep_last=1)
        assert account.configs() == account.models() == {deployment_name(1), deployment_name(4)}

    def test_a_live_config_not_of_this_stack_keeps_the_models_it_serves(self, account: Account) -> None:
        # GIVEN the endpoint serves a config made by hand (untagged) from the stack's oldest model
        for version in range(1, 4):
            account.deployment(version)
        hand_made = account.config(f"{PREFIX}-hotfix", 4, model=deployment_name(1), stack=None)
        account.serve(hand_made)
        deleted = prune_now(account, keep_last=1)
        # THEN the model it serves stays: the endpoint needs it to replace or add an instance
        assert deleted["Models"] == [deployment_name(2)]
        assert account.models() == {deployment_name(1), deployment_name(3)}
        assert account.configs() == {hand_made, deployment_name(3)}

    def test_protected_names_are_kept(self, account: Account) -> None:
        names = [account.deployment(version) for version in range(1, 5)]
        account.serve(names[-1])
        prune_now(account, keep_last=1, protect=(deployment_name(2),))
        assert account.configs() == account.models() == {deployment_name(2), deployment_name(4)}

    def test_models_of_running_transform_jobs_are_kept(self, account: Account) -> None:
        # GIVEN batch deployments (models, no endpoint): a job of v1 in progress, one of v2 completed
        for version in range(1, 5):
            account.model(deployment_name(version), version)
        account.transform(f"{PREFIX}-v1-5f3a9c1e-1", deployment_name(1), "InProgress")
        account.transform(f"{PREFIX}-v2-5f3a9c1e-1", deployment_name(2), "Completed")
        deleted = prune_now(account, keep_last=1)
        assert deleted == {**NOTHING, "Models": [deployment_name(3), deployment_name(2)]}
        assert account.models() == {deployment_name(1), deployment_name(4)}

    def test_only_resources_tagged_with_this_stack_are_deleted(self, account: Account) -> None:
        # GIVEN old deployments of another stack (same prefix), untagged ones, and one of a longer prefix tagged
        # with this stack
        theirs = account.deployment(1, stack=OTHER_STACK)
        untagged = account.deployment(2, stack=None)
        foreign_name = account.deployment(3, prefix=f"{PREFIX}2")
        ours_ = [account.deployment(version) for version in (4, 5)]
        account.serve(ours_[-1])
        deleted = prune_now(account, keep_last=1)
        # THEN only this stack's older deployment goes
        assert deleted == {**NOTHING, "EndpointConfigs": [ours_[0]], "Models": [ours_[0]]}
        assert account.configs() == account.models() == {theirs, untagged, foreign_name, ours_[1]}

    def test_pruning_again_deletes_nothing_more(self, account: Account) -> None:
        names = [account.deployment(version) for version in range(1, 5)]
        account.serve(names[-1])
        assert prune_now(account, keep_last=2)["Models"] == [deployment_name(2), deployment_name(1)]
        assert prune_now(account, keep_last=2) == NOTHING
        assert account.configs() == account.models() == {deployment_name(3), deployment_name(4)}

    def test_no_endpoint_and_nothing_to_prune_is_nothing_deleted(self, account: Account) -> None:
        assert prune_now(account, keep_last=3) == NOTHING

    def test_keeping_fewer_than_one_is_refused(self, account: Account) -> None:
        account.deployment(1)
        with pytest.raises(ValueError, match=r"^keep_last must be at least 1, got 0$"):
            prune_now(account, keep_last=0)
        assert account.models() == {deployment_name(1)}

    def test_a_failed_delete_is_reported_not_raised_and_other_names_are_not_read(
        self, account: Account, stubbed: Stubber
    ) -> None:
        new, old, longer_prefix = deployment_name(2), deployment_name(1), deployment_name(1, f"{PREFIX}2")
        created = {new: T0 + timedelta(hours=2), longer_prefix: T0 + timedelta(hours=1), old: T0}
        stubbed.add_response(
            "describe_endpoint",
            {
                "EndpointName": ENDPOINT,
                "EndpointArn": arn("endpoint", ENDPOINT),
                "EndpointConfigName": new,
                "EndpointStatus": "InService",
                "CreationTime": created[new],
                "LastModifiedTime": created[new],
            },
            {"EndpointName": ENDPOINT},
        )
        # NameContains also matches a longer prefix: its tags are not read (the role may not; IAM would deny it)
        stubbed.add_response(
            "list_endpoint_configs",
            {
                "EndpointConfigs": [
                    {
                        "EndpointConfigName": n,
                        "EndpointConfigArn": arn("endpoint-config", n),
                        "CreationTime": created[n],
                    }
                    for n in (old, longer_prefix, new)
                ]
            },
            {"NameContains": PREFIX},
        )
        stubbed.add_response("list_tags", ours(), {"ResourceArn": arn("endpoint-config", old)})
        stubbed.add_response("list_tags", ours(), {"ResourceArn": arn("endpoint-config", new)})
        stubbed.add_client_error(
            "delete_endpoint_config",
            "ThrottlingException",
            "Rate exceeded",
            expected_params={"EndpointConfigName": old},
        )
        stubbed.add_response(
            "list_models",
            {"Models": [{"ModelName": n, "ModelArn": arn("model", n), "CreationTime": created[n]} for n in (old, new)]},
            {"NameContains": PREFIX},
        )
        stubbed.add_response("list_tags", ours(), {"ResourceArn": arn("model", old)})
        stubbed.add_response("list_tags", ours(), {"ResourceArn": arn("model", new)})
        stubbed.add_response(
            "list_transform_jobs", {"TransformJobSummaries": []}, {"StatusEquals": "InProgress", "NameContains": PREFIX}
        )
        stubbed.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": new,
                "EndpointConfigArn": arn("endpoint-config", new),
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": new}],
                "CreationTime": T0,
            },
            {"EndpointConfigName": new},
        )
        stubbed.add_client_error(
            "delete_model", "ValidationException", "Model is in use", expected_params={"ModelName": old}
        )
        deleted = prune_now(account, keep_last=1)
        assert deleted == {
            **NOTHING,
            "Errors": [
                f"endpoint config {old}: An error occurred (ThrottlingException) when calling the DeleteEndpointConfig "
                "operation: Rate exceeded",
                f"model {old}: An error occurred (ValidationException) when calling the DeleteModel operation: "
                "Model is in use",
            ],
        }


# ======================================================================================================================
# clean_up
# ======================================================================================================================
class TestCleanUp:
    def test_the_stacks_monitoring_schedules_and_job_definitions_go_first(
        self, aws_clients: AwsClients, stubbed: Stubber
    ) -> None:
        schedule, other = f"{PREFIX}-data-quality", f"{PREFIX}-someone-elses"
        definition = f"{PREFIX}-dq-v3-0a1b2c3d"
        stubbed.add_response(
            "list_monitoring_schedules",
            {
                "MonitoringScheduleSummaries": [
                    {
                        "MonitoringScheduleName": name,
                        "MonitoringScheduleArn": arn("monitoring-schedule", name),
                        "CreationTime": T0,
                        "LastModifiedTime": T0,
                        "MonitoringScheduleStatus": "Scheduled",
                    }
                    for name in (schedule, other)
                ]
            },
            {"NameContains": PREFIX},
        )
        stubbed.add_response(
            "list_tags",
            {"Tags": [{"Key": STACK_TAG, "Value": STACK}]},
            {"ResourceArn": arn("monitoring-schedule", schedule)},
        )
        stubbed.add_response("delete_monitoring_schedule", {}, {"MonitoringScheduleName": schedule})
        stubbed.add_response(
            "list_tags",
            {"Tags": [{"Key": STACK_TAG, "Value": OTHER_STACK}]},
            {"ResourceArn": arn("monitoring-schedule", other)},
        )
        stubbed.add_response(
            "list_data_quality_job_definitions",
            {
                "JobDefinitionSummaries": [
                    {
                        "MonitoringJobDefinitionName": definition,
                        "MonitoringJobDefinitionArn": arn("data-quality-job-definition", definition),
                        "CreationTime": T0,
                        "EndpointName": ENDPOINT,
                    }
                ]
            },
            {"NameContains": PREFIX},
        )
        stubbed.add_response(
            "list_tags",
            {"Tags": [{"Key": STACK_TAG, "Value": STACK}]},
            {"ResourceArn": arn("data-quality-job-definition", definition)},
        )
        stubbed.add_response("delete_data_quality_job_definition", {}, {"JobDefinitionName": definition})
        self._nothing_deployed(stubbed, monitoring=False)

        deleted = clean_up_now(aws_clients, pipeline="")

        assert (deleted.monitoring_schedules, deleted.job_definitions) == ([schedule], [definition])

    def test_running_executions_are_stopped_and_a_deleted_state_machine_is_skipped(self, account: Account) -> None:
        train, deploy = account.state_machine(TRAIN_MACHINE), account.state_machine(DEPLOY_MACHINE)
        retired = account.state_machine(f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{PREFIX}-retired")
        account.clients.sfn.delete_state_machine(stateMachineArn=retired)
        nightly = account.execution(train, "nightly-2026-11-26")
        deploying = account.execution(deploy, "deploy-v3-0123456789")
        done = account.execution(deploy, "deploy-v2-0123456789", ended="SUCCEEDED")
        deleted = clean_up_now(account.clients, (retired, train, deploy))
        assert deleted.stopped_executions == ["nightly-2026-11-26", "deploy-v3-0123456789"]
        assert [account.status(e) for e in (nightly, deploying, done)] == ["ABORTED", "ABORTED", "SUCCEEDED"]

    def test_the_stacks_endpoint_scaling_configs_and_models_are_deleted(self, account: Account) -> None:
        # GIVEN two deployments, the newest live with auto scaling, and deployments of another stack and untagged
        names = [account.deployment(version) for version in (1, 2)]
        account.serve(names[-1])
        account.clients.autoscaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=SCALABLE_TARGET,
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            MinCapacity=1,
            MaxCapacity=2,
        )
        theirs, untagged = account.deployment(3, stack=OTHER_STACK), account.deployment(4, stack=None)
        deleted = clean_up_now(account.clients)
        # THEN (the pipeline does not exist: nothing to delete, no error)
        assert deleted.as_dict() == {
            **NOTHING,
            "Endpoints": [ENDPOINT],
            "EndpointConfigs": [deployment_name(2), deployment_name(1)],
            "Models": [deployment_name(2), deployment_name(1)],
            "ScalableTargets": [SCALABLE_TARGET],
        }
        assert account.endpoints() == set() and account.scaling() == []
        assert account.configs() == account.models() == {theirs, untagged}

    def test_an_endpoint_without_scaling_is_deleted_all_the_same(self, account: Account) -> None:
        account.serve(account.deployment(1))
        deleted = clean_up_now(account.clients)
        assert (deleted.endpoints, deleted.scalable_targets) == ([ENDPOINT], [])

    def test_cleaning_up_again_finds_nothing_and_raises_nothing(self, account: Account) -> None:
        # GIVEN a deployment and the pipeline (no executions: moto has no ListPipelineExecutionSteps)
        account.serve(account.deployment(1))
        account.sagemaker.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
            RoleArn=ROLE,
            ClientRequestToken="create-abalone-mlops-pipeline-0001",
        )
        assert clean_up_now(account.clients).pipelines == [PIPELINE]
        # WHEN CloudFormation retries the Delete
        assert clean_up_now(account.clients).as_dict() == NOTHING

    def test_the_serving_check_models_are_deleted_before_the_pipeline(
        self, aws_clients: AwsClients, stubbed: Stubber
    ) -> None:
        # GIVEN no deployment left, and three executions of the pipeline (listed on two pages): one made a serving
        # model, one failed before making it, one's model was deleted already by its training run
        self._nothing_deployed(stubbed)
        made, failed, cleaned = (
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{PIPELINE}/execution/{x}" for x in "abc"
        )
        model_made, model_cleaned = "pipelines-a-createservingmodel-c-x1y2z3", "pipelines-c-createservingmodel-c-q9r8"
        self._executions(stubbed, [made], next_token="page-2")
        self._steps(
            stubbed,
            made,
            [
                {"StepName": TRAIN_STEP, "StepStatus": "Succeeded", "Metadata": {"TrainingJob": {"Arn": "arn:t"}}},
                {
                    "StepName": SERVING_MODEL_STEP,
                    "StepStatus": "Succeeded",
                    "Metadata": {"Model": {"Arn": arn("model", model_made)}},
                },  # fmt: skip
                {"StepName": REGISTER_STEP, "StepStatus": "Succeeded", "Metadata": {"RegisterModel": {"Arn": "arn:p"}}},
                # a model another step made is not the serving check's
                {
                    "StepName": "CreateBatchModel-CreateModel",
                    "StepStatus": "Succeeded",
                    "Metadata": {"Model": {"Arn": arn("model", "kept")}},
                },  # fmt: skip
            ],
        )
        self._executions(stubbed, [failed, cleaned], token="page-2")
        self._steps(
            stubbed,
            failed,
            [
                {
                    "StepName": SERVING_MODEL_STEP,
                    "StepStatus": "Failed",
                    "FailureReason": "image not found",
                    "Metadata": {},
                }
            ],
        )
        self._steps(
            stubbed,
            cleaned,
            [
                {
                    "StepName": SERVING_MODEL_STEP,
                    "StepStatus": "Succeeded",
                    "Metadata": {"Model": {"Arn": arn("model", model_cleaned)}},
                }
            ],  # fmt: skip
        )
        # THEN each model is deleted (the one gone already is not an error), then the pipeline: the Stubber's order
        stubbed.add_response("delete_model", {}, {"ModelName": model_made})
        stubbed.add_client_error(
            "delete_model",
            "ValidationException",
            f'Could not find model "{arn("model", model_cleaned)}".',
            expected_params={"ModelName": model_cleaned},
        )
        stubbed.add_response("delete_pipeline", {"PipelineArn": arn("pipeline", PIPELINE)}, {"PipelineName": PIPELINE})
        deleted = clean_up_now(aws_clients)
        assert deleted.as_dict() == {**NOTHING, "Models": [model_made], "Pipelines": [PIPELINE]}

    def test_a_missing_pipeline_is_not_an_error(self, aws_clients: AwsClients, stubbed: Stubber) -> None:
        # (moto's message differs: test_the_stacks_endpoint_scaling_configs_and_models_are_deleted has it)
        self._nothing_deployed(stubbed)
        missing = f"Pipeline '{arn('pipeline', PIPELINE)}' does not exist."
        stubbed.add_client_error("list_pipeline_executions", "ResourceNotFound", missing)
        stubbed.add_client_error("delete_pipeline", "ResourceNotFound", missing)
        assert clean_up_now(aws_clients).as_dict() == NOTHING

    def test_an_error_other_than_missing_is_raised(self, aws_clients: AwsClients, stubbed: Stubber) -> None:
        self._nothing_deployed(stubbed)
        self._executions(stubbed, [])
        stubbed.add_client_error("delete_pipeline", "AccessDeniedException", "not authorized to perform DeletePipeline")
        with pytest.raises(ClientError, match="AccessDeniedException"):
            clean_up_now(aws_clients)

    def test_a_listing_error_other_than_missing_is_raised(self, aws_clients: AwsClients, stubbed: Stubber) -> None:
        stubbed.add_client_error("list_pipeline_executions", "ThrottlingException", "Rate exceeded")
        with pytest.raises(ClientError, match="ThrottlingException"):
            serving_check_models(aws_clients.sagemaker, PIPELINE)

    @staticmethod
    def _nothing_deployed(stubbed: Stubber, *, monitoring: bool = True) -> None:
        if monitoring:
            stubbed.add_response(
                "list_monitoring_schedules", {"MonitoringScheduleSummaries": []}, {"NameContains": PREFIX}
            )
            stubbed.add_response(
                "list_data_quality_job_definitions", {"JobDefinitionSummaries": []}, {"NameContains": PREFIX}
            )
        for operation, key in (
            ("list_endpoints", "Endpoints"),
            ("list_endpoint_configs", "EndpointConfigs"),
            ("list_models", "Models"),
        ):
            stubbed.add_response(operation, {key: []}, {"NameContains": PREFIX})

    @staticmethod
    def _executions(stubbed: Stubber, arns: list[str], next_token: str = "", token: str = "") -> None:
        page: dict[str, Any] = {
            "PipelineExecutionSummaries": [
                {"PipelineExecutionArn": a, "StartTime": T0, "PipelineExecutionStatus": "Succeeded"} for a in arns
            ]
        }
        if next_token:
            page["NextToken"] = next_token
        request = {"PipelineName": PIPELINE, **({"NextToken": token} if token else {})}
        stubbed.add_response("list_pipeline_executions", page, request)

    @staticmethod
    def _steps(stubbed: Stubber, execution: str, steps: list[dict[str, Any]]) -> None:
        stubbed.add_response(
            "list_pipeline_execution_steps", {"PipelineExecutionSteps": steps}, {"PipelineExecutionArn": execution}
        )


# ======================================================================================================================
# the handlers
# ======================================================================================================================
@pytest.fixture
def prune_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PRUNE_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def cleanup_env(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CLEANUP_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """What the handler PUTs to CloudFormation's ResponseURL (the one outbound HTTP call, captured here)."""
    sent: list[tuple[str, dict[str, Any]]] = []

    class _Answer:
        def __enter__(self) -> _Answer:
            return self

        def __exit__(self, *args: object) -> None:
            return None

        def read(self) -> bytes:
            return b""

    def urlopen(request: Any, timeout: float) -> _Answer:
        assert request.get_method() == "PUT"
        sent.append((request.full_url, json.loads(request.data)))
        return _Answer()

    monkeypatch.setattr("mlops_shared.cloudformation.urllib.request.urlopen", urlopen)
    return sent


@pytest.mark.usefixtures("prune_env")
class TestPruneHandler:
    def test_the_state_machines_request_prunes_to_the_templates_count(
        self, account: Account, load_event: LoadEvent, lambda_context: Any
    ) -> None:
        # GIVEN six deployments, the newest live; the request protects v3 (older than the last three)
        names = [account.deployment(version) for version in range(1, 7)]
        account.serve(names[-1])
        answer = app.prune_handler(load_event("deployment_janitor/prune.json"), lambda_context)
        assert answer == {"Deleted": {**NOTHING, "EndpointConfigs": names[1::-1], "Models": names[1::-1]}}
        assert account.models() == {deployment_name(v) for v in (3, 4, 5, 6)}

    @pytest.mark.parametrize(
        ("name", "value", "message"),
        [
            (
                "KEEP_LAST_DEPLOYMENTS",
                "0",
                "environment variable KEEP_LAST_DEPLOYMENTS must be between 1 and 50, got 0",
            ),
            (
                "KEEP_LAST_DEPLOYMENTS",
                "three",
                "environment variable KEEP_LAST_DEPLOYMENTS must be an integer, got 'three'",
            ),  # fmt: skip
            ("RESOURCE_PREFIX", " ", "environment variables not set: RESOURCE_PREFIX"),
            ("STACK_NAME", "", "environment variables not set: STACK_NAME"),
        ],
    )
    def test_a_wrong_environment_is_named(
        self,
        account: Account,
        load_event: LoadEvent,
        lambda_context: Any,
        monkeypatch: pytest.MonkeyPatch,
        name: str,
        value: str,
        message: str,
    ) -> None:
        account.deployment(1)
        monkeypatch.setenv(name, value)
        with pytest.raises(ConfigurationError) as refused:
            app.prune_handler(load_event("deployment_janitor/prune.json"), lambda_context)
        assert str(refused.value) == message
        assert account.models() == {deployment_name(1)}

    @pytest.mark.parametrize(
        "event",
        [
            {"Operation": "cleanup", "Protect": []},
            {"Operation": "prune", "Protect": ["x"] * 11},
            {"Operation": "prune", "Protect": [], "KeepLast": 0},
        ],
    )
    def test_a_malformed_request_is_refused(self, aws: None, lambda_context: Any, event: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            app.prune_handler(event, lambda_context)


@pytest.mark.usefixtures("cleanup_env")
class TestCleanupHandler:
    def test_delete_cleans_up_and_answers_success_with_the_counts(
        self,
        account: Account,
        load_event: LoadEvent,
        lambda_context: Any,
        responses: list[tuple[str, dict[str, Any]]],
    ) -> None:
        event = load_event("deployment_janitor/cfn-delete.json")
        account.state_machine(TRAIN_MACHINE)
        account.execution(account.state_machine(DEPLOY_MACHINE), "deploy-v1-0123456789")
        account.serve(account.deployment(1))
        answer = app.cleanup_handler(event, lambda_context)
        assert answer == {"Status": "SUCCESS", "PhysicalResourceId": "deployment-cleanup/abalone-mlops"}
        assert responses == [
            (
                event["ResponseURL"],
                {
                    "Status": "SUCCESS",
                    "Reason": "SUCCESS",
                    "PhysicalResourceId": event["PhysicalResourceId"],
                    "StackId": event["StackId"],
                    "RequestId": event["RequestId"],
                    "LogicalResourceId": "DeploymentCleanup",
                    "NoEcho": False,
                    "Data": {
                        "Endpoints": "1",
                        "EndpointConfigs": "1",
                        "Models": "1",
                        "ScalableTargets": "0",
                        "Pipelines": "0",
                        "MonitoringSchedules": "0",
                        "JobDefinitions": "0",
                        "StoppedExecutions": "1",
                        "Errors": "0",
                    },
                },
            )
        ]
        assert account.endpoints() == account.configs() == account.models() == set()

    @pytest.mark.parametrize("request_type", ["Create", "Update"])
    def test_create_and_update_change_nothing_and_answer_success(
        self,
        account: Account,
        load_event: LoadEvent,
        lambda_context: Any,
        responses: list[tuple[str, dict[str, Any]]],
        request_type: str,
    ) -> None:
        event = {**load_event("deployment_janitor/cfn-delete.json"), "RequestType": request_type}
        if request_type == "Create":
            del event["PhysicalResourceId"]  # CloudFormation sends none: the function names the resource
        account.serve(account.deployment(1))
        answer = app.cleanup_handler(event, lambda_context)
        # An Update keeps the resource's id (a new one would make CloudFormation delete the old: a clean-up)
        physical_id = {"Create": f"deployment-cleanup/{STACK}", "Update": "deployment-cleanup/abalone-mlops"}
        assert answer == {"Status": "SUCCESS", "PhysicalResourceId": physical_id[request_type]}
        ((_, body),) = responses
        assert (body["Status"], body["PhysicalResourceId"], body["Data"]) == ("SUCCESS", physical_id[request_type], {})
        assert account.endpoints() == {ENDPOINT} and account.models() == {deployment_name(1)}

    def test_a_failed_clean_up_answers_failed_with_the_reason_and_raises(
        self,
        account: Account,
        load_event: LoadEvent,
        lambda_context: Any,
        responses: list[tuple[str, dict[str, Any]]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.delenv("PIPELINE_NAME")
        event = load_event("deployment_janitor/cfn-delete.json")
        with pytest.raises(ConfigurationError):
            app.cleanup_handler(event, lambda_context)
        ((url, body),) = responses
        assert url == event["ResponseURL"]
        assert (body["Status"], body["Reason"], body["PhysicalResourceId"]) == (
            "FAILED",
            "ConfigurationError: environment variables not set: PIPELINE_NAME",
            event["PhysicalResourceId"],
        )

    def test_an_aws_error_during_clean_up_answers_failed_too(
        self,
        account: Account,
        load_event: LoadEvent,
        lambda_context: Any,
        responses: list[tuple[str, dict[str, Any]]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        def clean_up_refused(*args: Any, **kwargs: Any) -> Deleted:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DeleteEndpoint")

        monkeypatch.setattr(app, "clean_up", clean_up_refused)
        with pytest.raises(ClientError):
            app.cleanup_handler(load_event("deployment_janitor/cfn-delete.json"), lambda_context)
        ((_, body),) = responses
        assert (body["Status"], body["Reason"]) == (
            "FAILED",
            "ClientError: An error occurred (AccessDeniedException) when calling the DeleteEndpoint operation: no",
        )

    def test_a_request_not_from_cloudformation_is_refused_unanswered(
        self, load_event: LoadEvent, lambda_context: Any, responses: list[tuple[str, dict[str, Any]]]
    ) -> None:
        with pytest.raises(ValueError) as refused:
            app.cleanup_handler(load_event("deployment_janitor/prune.json"), lambda_context)
        assert str(refused.value) == (
            "not a CloudFormation custom resource request: RequestType: Field required; ResponseURL: Field required; "
            "StackId: Field required; RequestId: Field required; LogicalResourceId: Field required"
        )
        assert responses == []

    def test_an_unknown_request_type_is_named(self, load_event: LoadEvent, lambda_context: Any) -> None:
        event = {**load_event("deployment_janitor/cfn-delete.json"), "RequestType": "Destroy"}
        with pytest.raises(ValueError) as refused:
            app.cleanup_handler(event, lambda_context)
        assert str(refused.value) == (
            "not a CloudFormation custom resource request: RequestType: Input should be 'Create', 'Update' or "
            "'Delete' (got 'Destroy')"
        )
