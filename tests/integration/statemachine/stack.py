"""The stack of template.yaml, created in moto from the template's own properties (shared by the integration tests).

The state machine is created from the ASL file with the template's DefinitionSubstitutions, the functions with the
template's Handler and environment; local_twin.emulator dispatches their invocations in-process.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass
from typing import Any, cast

import boto3

from cfn import (
    TemplateValues,
    function_config,
    function_ids,
    load_template,
    state_machine_definition,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "abalone-mlops"
GROUP = "abalone"
STATE_MACHINE_ID = "TrainDeployStateMachine"
SUBNETS = ["subnet-0aaa1111", "subnet-0bbb2222"]
SECURITY_GROUPS = ["sg-0ccc3333"]


@dataclass
class Stack:
    values: TemplateValues
    state_machine_arn: str
    bucket: str
    topic_arn: str
    notifications_queue_url: str
    role_arn: str
    kms_key_arn: str
    template: dict[str, Any]

    def notifications(self) -> list[dict[str, Any]]:
        """Messages published to the topic so far (delivered through an SQS subscription)."""
        sqs = boto3.client("sqs", region_name=REGION)
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


def _zip() -> bytes:
    # moto stores the code but the emulator never runs it: it dispatches to the Handler in this process.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.txt", "code is dispatched in-process by local_twin.emulator")
    return buffer.getvalue()


def create_stack(parameters: dict[str, Any] | None = None) -> Stack:
    """Create the template's resources in moto (call inside mock_aws and emulate())."""
    template = load_template()
    kms_key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    bucket = f"{STACK}-artifacts"
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
    sns = boto3.client("sns", region_name=REGION)
    topic_arn = sns.create_topic(Name=f"{STACK}-notifications")["TopicArn"]
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="notifications-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    iam = boto3.client("iam", region_name=REGION)
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    role_arn = iam.create_role(RoleName="SageMakerExecutionRole", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    boto3.client("sagemaker", region_name=REGION).create_model_package_group(ModelPackageGroupName=GROUP)

    function_arns = {
        logical_id: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}" for logical_id in function_ids(template)
    }
    values = TemplateValues(
        region=REGION,
        account_id=ACCOUNT,
        stack_name=STACK,
        parameters={
            "PrivateSubnetIds": SUBNETS,
            "SecurityGroupIds": SECURITY_GROUPS,
            "ModelPackageGroupName": GROUP,
            "PollIntervalSeconds": 0,
            "MaxPolls": 5,
            **(parameters or {}),
        },
        refs={
            "ArtifactsBucket": bucket,
            "NotificationTopic": topic_arn,
            "ModelPackageGroup": GROUP,
            **{logical_id: logical_id for logical_id in function_arns},
        },
        attributes={
            "ProjectKey.Arn": kms_key_arn,
            "SageMakerExecutionRole.Arn": role_arn,
            **{f"{logical_id}.Arn": arn for logical_id, arn in function_arns.items()},
        },
    )
    lambda_client = boto3.client("lambda", region_name=REGION)
    for logical_id in function_arns:
        config = function_config(template, logical_id, values)
        lambda_client.create_function(
            FunctionName=logical_id,
            Runtime=cast("Any", config.runtime),
            Role=role_arn,
            Handler=config.handler,
            Code={"ZipFile": _zip()},
            Timeout=config.timeout,
            Environment={"Variables": config.environment},
        )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    state_machine_arn = sfn.create_state_machine(
        name=f"{STACK}-train-deploy",
        definition=state_machine_definition(template, STATE_MACHINE_ID, values),
        roleArn=role_arn,
    )["stateMachineArn"]
    return Stack(values, state_machine_arn, bucket, topic_arn, queue_url, role_arn, kms_key_arn, template)


def wait_for_execution(execution_arn: str, max_checks: int = 600) -> dict[str, Any]:
    """Poll until the execution leaves RUNNING (a bound on the number of checks, not a timing assertion)."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    for _ in range(max_checks):
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError(f"execution {execution_arn} still RUNNING after {max_checks} checks")


def executed_states(execution_arn: str) -> list[str]:
    """The names of the states the execution entered, in order."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
