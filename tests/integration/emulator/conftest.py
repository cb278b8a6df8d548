"""Fixtures of the emulator's own tests: the session's emulated account (``aws``, tests/integration/conftest.py -- only
one emulator may run in a process) and what a test module creates in it, removed when the module ends.

The account is shared with the other integration modules, so every name made here is unique (:func:`unique`) and
everything created is deleted again: functions (and their sandboxes), queues, rules, state machines, model packages.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_twin.emulator import ACCOUNT_ID, REGION, Emulator, Faults, FunctionSpec

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHECKS = 1500  # bound of every polling loop (each check sleeps 0.02 s): a number of checks, never a time assertion
INFERENCE = {
    "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def poll(check: Callable[[], Any], what: str) -> Any:
    """The first truthy answer of ``check``, asked at most :data:`CHECKS` times."""
    for _ in range(CHECKS):
        answer = check()
        if answer:
            return answer
        time.sleep(0.02)
    raise AssertionError(f"{what}: not reached after {CHECKS} checks")


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "the emulated Lambda runs the fixture package itself\n")
    return buffer.getvalue()


class Resources:
    """Creates resources in the emulated account for one test module, and deletes them all in :meth:`cleanup`."""

    def __init__(self, aws: Emulator) -> None:
        self.aws = aws
        self._role: str | None = None
        self._functions: list[str] = []
        self._queues: list[str] = []
        self._rules: list[str] = []
        self._machines: list[str] = []
        self._groups: list[str] = []

    # --- Lambda ----------------------------------------------------------------------------------------------------
    @property
    def role(self) -> str:
        if self._role is None:
            iam = self.aws.client("iam")
            name = unique("emulator-tests")
            self._role = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])
        return self._role

    def function(
        self,
        package: str = "probe",
        *,
        timeout: int = 30,
        environment: Mapping[str, str] | None = None,
        dead_letter_arn: str | None = None,
        max_retry_attempts: int = 2,
        layers: Sequence[Path] = (),
    ) -> str:
        """A python3.13 function running ``fixtures/<package>/app.py`` (moto's Lambda API and the runtime): its name."""
        name = unique(f"emulator-{package.replace('_', '-')}")
        created = self.aws.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=self.role,
            Handler="app.handler",
            Code={"ZipFile": _placeholder_zip()},
            Timeout=timeout,
            MemorySize=128,
            Environment={"Variables": dict(environment or {})},
            **({"DeadLetterConfig": {"TargetArn": dead_letter_arn}} if dead_letter_arn else {}),
        )
        self._functions.append(name)
        self.aws.lambdas.register(
            FunctionSpec(
                name=name,
                arn=created["FunctionArn"],
                handler="app.handler",
                runtime="python3.13",
                timeout_seconds=timeout,
                memory_mb=128,
                code_dir=FIXTURES / package,
                layer_dirs=tuple(layers),
                environment=dict(environment or {}),
                dead_letter_arn=dead_letter_arn,
                max_retry_attempts=max_retry_attempts,
            )
        )
        return name

    @staticmethod
    def function_arn(name: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"

    # --- SQS ---------------------------------------------------------------------------------------------------------
    def queue(self) -> tuple[str, str]:
        """A standard queue: (url, arn)."""
        sqs = self.aws.client("sqs")
        url = str(sqs.create_queue(QueueName=unique("emulator-tests"))["QueueUrl"])
        self._queues.append(url)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, str(arn)

    def receive(self, url: str, count: int) -> list[dict[str, Any]]:
        """Exactly ``count`` messages of the queue (polled, a bounded number of times), deleted once read."""
        sqs = self.aws.client("sqs")
        messages: list[dict[str, Any]] = []

        def enough() -> bool:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
            for message in batch.get("Messages", []):
                messages.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return len(messages) >= count

        poll(enough, f"{count} messages in {url}")
        assert len(messages) == count, f"more messages than expected in {url}: {messages}"
        return messages

    def queue_is_empty(self, url: str) -> bool:
        sqs = self.aws.client("sqs")
        return not sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages")

    # --- EventBridge -------------------------------------------------------------------------------------------------
    def rule(self, pattern: Mapping[str, Any], targets: Sequence[dict[str, Any]], state: str = "ENABLED") -> str:
        """A rule on the default bus with these targets: its ARN."""
        events = self.aws.client("events")
        name = unique("emulator-tests")
        arn = str(events.put_rule(Name=name, EventPattern=json.dumps(pattern), State=state)["RuleArn"])
        self._rules.append(name)
        if targets:
            events.put_targets(Rule=name, Targets=list(targets))
        return arn

    # --- Step Functions ----------------------------------------------------------------------------------------------
    def state_machine(self, definition: Mapping[str, Any]) -> str:
        arn = self.aws.client("stepfunctions").create_state_machine(
            name=unique("emulator-tests"), definition=json.dumps(definition), roleArn=self.role
        )["stateMachineArn"]
        self._machines.append(str(arn))
        return str(arn)

    def execute(self, definition: Mapping[str, Any], execution_input: Any = None) -> dict[str, Any]:
        """Run the definition to its end: DescribeExecution's answer."""
        sfn = self.aws.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=self.state_machine(definition), input=json.dumps(execution_input or {})
        )["executionArn"]

        def ended() -> dict[str, Any] | None:
            described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
            return described if described["status"] != "RUNNING" else None

        result: dict[str, Any] = poll(ended, f"execution {arn} ended")
        return result

    # --- SageMaker ---------------------------------------------------------------------------------------------------
    def model_package_group(self) -> str:
        name = unique("emulator-tests")
        self.aws.client("sagemaker").create_model_package_group(ModelPackageGroupName=name)
        self._groups.append(name)
        return name

    # --- cleanup -----------------------------------------------------------------------------------------------------
    def cleanup(self) -> None:
        self.aws.lambdas.wait_for_async()
        lambda_client, sqs, events = (self.aws.client(s) for s in ("lambda", "sqs", "events"))
        sfn, sagemaker = self.aws.client("stepfunctions"), self.aws.client("sagemaker")
        for rule in self._rules:
            with suppress(ClientError):
                ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]]
                if ids:
                    events.remove_targets(Rule=rule, Ids=ids)
                events.delete_rule(Name=rule)
        for name in self._functions:
            self.aws.lambdas.unregister(name)
            with suppress(ClientError):
                lambda_client.delete_function(FunctionName=name)
        for url in self._queues:
            with suppress(ClientError):
                sqs.delete_queue(QueueUrl=url)
        for machine in self._machines:
            with suppress(ClientError):
                sfn.delete_state_machine(stateMachineArn=machine)
        for group in self._groups:
            with suppress(ClientError):
                packages = sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
                for package in packages:
                    sagemaker.delete_model_package(ModelPackageName=package["ModelPackageArn"])
                sagemaker.delete_model_package_group(ModelPackageGroupName=group)
        if self._role is not None:
            with suppress(ClientError):
                self.aws.client("iam").delete_role(RoleName=self._role.rsplit("/", 1)[-1])


@pytest.fixture(scope="module")
def resources(aws: Emulator) -> Iterator[Resources]:
    created = Resources(aws)
    try:
        yield created
    finally:
        created.cleanup()


@pytest.fixture
def faults(aws: Emulator) -> Iterator[Faults]:
    """The emulator's fault injection, cleared after the test."""
    yield aws.faults
    aws.faults.clear()
