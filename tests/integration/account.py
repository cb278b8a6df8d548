"""The emulated account the integration tests run against, and what they do with it.

One emulator per test session (the same one ``make local`` starts: local_twin.emulator), with stacks provisioned from
template.yaml by the same code as ``make local`` (``provision``): functions run from the packages ``sam build`` made,
under python3.13, state machines from the ASL files. Stacks are kept for the session -- their Lambda workers stay
warm -- and every test starts from an empty registry and no endpoint (:meth:`TestStack.reset`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Literal

from moto.applicationautoscaling.models import applicationautoscaling_backends
from moto.sagemaker.models import sagemaker_backends
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_twin.emulator import ACCOUNT_ID, REGION, SECURITY_GROUPS, SUBNETS, Emulator, Stack, provision

ApprovalStatus = Literal["Approved", "PendingManualApproval", "Rejected"]
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
# The test stacks' parameters: polls without waiting, few of them; everything else as the template's defaults.
BASE_PARAMETERS = {
    "PrivateSubnetIds": ",".join(SUBNETS),
    "SecurityGroupIds": ",".join(SECURITY_GROUPS),
    "PollIntervalSeconds": "0",
    "MaxPolls": "5",
}
SETTLE_CHECKS = 2000  # bounds on polling loops (each ~0.02 s): a number of checks, never a time assertion


@dataclass
class TestStack:
    """A provisioned stack, with the clients and the questions tests ask of it."""

    __test__ = False  # not a test class for pytest

    aws: Emulator
    stack: Stack
    notifications_queue_url: str
    groups: list[str] = field(default_factory=list)

    # --- names ---------------------------------------------------------------------------------------------------
    @property
    def group(self) -> str:
        return str(self.stack.values.parameters.get("ModelPackageGroupName", "abalone"))

    @property
    def prefix(self) -> str:
        return str(self.stack.values.parameters.get("ResourceNamePrefix", "abalone-mlops"))

    @property
    def endpoint(self) -> str:
        return f"{self.prefix}-endpoint"

    @property
    def train_machine(self) -> str:
        return self.stack.ref("TrainStateMachine")

    @property
    def deploy_machine(self) -> str:
        return self.stack.ref("DeployStateMachine")

    @property
    def bucket(self) -> str:
        return self.stack.ref("ArtifactsBucket")

    def function(self, logical_id: str) -> str:
        return self.stack.function_names[logical_id]

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    # --- the registry --------------------------------------------------------------------------------------------
    def register(
        self, status: ApprovalStatus = "Approved", model_data: str | None = None, *, baseline: bool = False
    ) -> str:
        """CreateModelPackage as the pipeline's RegisterModel step does it (SageMaker sends its event); ``baseline``:
        with the data-quality baseline the pipeline's quality-check step records (DriftCheckBaselines)."""
        extra: dict[str, Any] = {}
        if baseline:
            folder = f"s3://{self.bucket}/pipeline-runs/baseline"
            extra["DriftCheckBaselines"] = {
                "ModelDataQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"{folder}/statistics.json"},
                    "Constraints": {"ContentType": "application/json", "S3Uri": f"{folder}/constraints.json"},
                }
            }
        arn: str = self.client("sagemaker").create_model_package(
            **extra,
            ModelPackageGroupName=self.group,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [
                    {"Image": XGBOOST_IMAGE, "ModelDataUrl": model_data or f"s3://{self.bucket}/models/model.tar.gz"}
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        return arn

    def set_status(self, package_arn: str, status: ApprovalStatus, **fields: Any) -> None:
        """UpdateModelPackage, as a reviewer does (SageMaker sends its event)."""
        self.client("sagemaker").update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus=status, **fields)

    # --- what is deployed ---------------------------------------------------------------------------------------
    def live_config(self) -> str | None:
        sagemaker = self.client("sagemaker")
        try:
            return str(sagemaker.describe_endpoint(EndpointName=self.endpoint)["EndpointConfigName"])
        except sagemaker.exceptions.ClientError:
            return None

    def live_package(self) -> str | None:
        """The model package the endpoint serves now (endpoint → config → model → package); None without one."""
        config_name = self.live_config()
        if config_name is None:
            return None
        sagemaker = self.client("sagemaker")
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        return str(model["PrimaryContainer"]["ModelPackageName"])

    # --- executions ---------------------------------------------------------------------------------------------
    def start(self, machine: str, name: str, execution_input: Mapping[str, Any]) -> str:
        arn: str = self.client("stepfunctions").start_execution(
            stateMachineArn=machine, name=name, input=json.dumps(execution_input)
        )["executionArn"]
        return arn

    def run(self, machine: str, name: str, execution_input: Mapping[str, Any]) -> dict[str, Any]:
        return self.wait_for(self.start(machine, name, execution_input))

    def executions(self, machine: str | None = None) -> list[dict[str, Any]]:
        """The machine's executions (the deploy machine's by default), oldest first."""
        listed = self.client("stepfunctions").list_executions(stateMachineArn=machine or self.deploy_machine)
        return sorted(listed["executions"], key=lambda e: e["startDate"])

    def wait_for(self, execution_arn: str) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        for _ in range(SETTLE_CHECKS):
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return dict(described)
            time.sleep(0.02)
        raise AssertionError(f"execution {execution_arn} still RUNNING after {SETTLE_CHECKS} checks")

    def settle(self) -> list[dict[str, Any]]:
        """Wait until every event was handled and every execution it started ended; the deploy executions, described.

        Twice in a row "no invocation, no interpreter at work": an execution that ends hands its end event to the
        reconciler before it counts as ended, and an invocation that starts an execution registers it before it ends.
        """
        for _ in range(SETTLE_CHECKS):
            self.aws.lambdas.wait_for_async()
            if not self.aws.executions.running():
                self.aws.lambdas.wait_for_async()
                if not self.aws.executions.running():
                    sfn = self.client("stepfunctions")
                    return [dict(sfn.describe_execution(executionArn=e["executionArn"])) for e in self.executions()]
            time.sleep(0.02)
        raise AssertionError(f"the stack did not settle within {SETTLE_CHECKS} checks")

    def settle_stopped(self) -> None:
        """Wait until the stopped executions' interpreters are done: a stop takes effect between states, so a Task's
        call already made still lands (in the next test's account, if nobody waited)."""
        until(
            lambda: all(
                e["status"] != "RUNNING" for m in (self.train_machine, self.deploy_machine) for e in self.executions(m)
            ),
            "executions stopped",
        )
        self.aws.executions.wait_until_idle()

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.client("stepfunctions").get_execution_history(
            executionArn=execution_arn, maxResults=1000
        )["events"]
        return events

    def states(self, execution_arn: str) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history(execution_arn)
            if "stateEnteredEventDetails" in e
        ]

    def finish(self, execution_arn: str) -> dict[str, Any]:
        """What the execution's Finish state returned (outcome, subject, message)."""
        for event in reversed(self.history(execution_arn)):
            details = event.get("stateExitedEventDetails")
            if details and details["name"] == "Finish":
                result: dict[str, Any] = json.loads(details["output"])["Finish"]
                return result
        raise AssertionError(f"{execution_arn} never finished its Finish state")

    # --- notifications ------------------------------------------------------------------------------------------
    def notifications(self) -> list[dict[str, Any]]:
        """Messages published to the topic since the last call (delivered through an SQS subscription)."""
        sqs = self.client("sqs")
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.notifications_queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return messages
            for message in batch:
                messages.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.notifications_queue_url, ReceiptHandle=message["ReceiptHandle"])

    def subjects(self) -> list[str]:
        return [n["Subject"] for n in self.notifications()]

    # --- between tests ------------------------------------------------------------------------------------------
    def provisioned(self) -> bool:
        """Whether the stack is still in the emulated account (its deploy state machine stands for the rest)."""
        try:
            self.client("stepfunctions").describe_state_machine(stateMachineArn=self.deploy_machine)
        except self.client("stepfunctions").exceptions.StateMachineDoesNotExist:
            return False
        return True

    def reset(self) -> None:
        """An empty registry, no endpoint, no faults: what every test starts from (the stack itself is kept)."""
        self.aws.lambdas.wait_for_async()
        sfn = self.client("stepfunctions")
        for machine in (self.train_machine, self.deploy_machine):
            for execution in self.executions(machine):
                if execution["status"] == "RUNNING":
                    with suppress(sfn.exceptions.ClientError):
                        sfn.stop_execution(executionArn=execution["executionArn"], cause="test reset")
        self.settle_stopped()
        machines = {self.train_machine, self.deploy_machine}
        for state_machine in stepfunctions_parser_backends[ACCOUNT_ID][REGION].state_machines:
            if state_machine.arn in machines:
                state_machine.executions.clear()  # names are free again, as in a new account
        self.aws.faults.clear()
        self.aws.pipelines.clear()
        self.aws.deployments.clear()
        self.aws.model_package_events.clear()
        self.aws.monitoring.clear()
        self.aws.lambdas.records.clear()
        sagemaker_backends[ACCOUNT_ID][REGION].reset()
        applicationautoscaling_backends[ACCOUNT_ID][REGION].reset()
        sagemaker = self.client("sagemaker")
        for group in self.groups:
            sagemaker.create_model_package_group(ModelPackageGroupName=group)
        self.notifications()


def subscribe_notifications(aws: Emulator, stack: Stack) -> str:
    """An SQS queue subscribed to the stack's topic, so tests read what the team would receive."""
    sqs = aws.client("sqs")
    url: str = sqs.create_queue(QueueName=f"{stack.name}-notifications-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(TopicArn=stack.ref("NotificationTopic"), Protocol="sqs", Endpoint=arn)
    return url


class Stacks:
    """The session's stacks, one per parameter set (each with its own names, so they do not collide)."""

    def __init__(self, aws: Emulator) -> None:
        self.aws = aws
        self._stacks: dict[tuple[tuple[str, str], ...], TestStack] = {}
        self._indices: dict[tuple[tuple[str, str], ...], int] = {}  # stable names across re-provisioning

    def get(self, **parameters: str) -> TestStack:
        key = tuple(sorted(parameters.items()))
        if any(not each.provisioned() for each in self._stacks.values()):
            # Something reset moto's backends -- a test's own mock_aws() resets every backend when it ends, the
            # emulator's included -- so every stack is gone: provision again on demand.
            self._stacks.clear()
        if key not in self._stacks:
            index = self._indices.setdefault(key, len(self._indices))
            names = (
                {}
                if index == 0
                else {"ResourceNamePrefix": f"abalone-t{index}", "ModelPackageGroupName": f"abalone-t{index}"}
            )
            stack = provision(
                self.aws,
                parameters={**BASE_PARAMETERS, **names, **parameters},
                stack_name="abalone-mlops" if index == 0 else f"abalone-t{index}",
            )
            test_stack = TestStack(self.aws, stack, subscribe_notifications(self.aws, stack))
            self._stacks[key] = test_stack
            for each in self._stacks.values():
                each.groups = [s.group for s in self._stacks.values()]
        return self._stacks[key]

    def __iter__(self) -> Iterator[TestStack]:
        return iter(self._stacks.values())


def until(condition: Callable[[], bool], what: str) -> None:
    """Poll a condition (a bound on the number of checks, not a timing assertion)."""
    for _ in range(SETTLE_CHECKS):
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what}: not reached after {SETTLE_CHECKS} checks")
