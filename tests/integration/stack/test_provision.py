"""The emulated stack is template.yaml itself: every resource created (or why not), the ASL files, the built code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cfn import TEMPLATE_PATH, load_template
from tests.integration.account import TestStack


def test_every_resource_is_created_or_its_absence_explained(stack: TestStack) -> None:
    resources = set(load_template()["Resources"])

    assert set(stack.stack.created) | set(stack.stack.not_created) >= resources
    assert all(reason for reason in stack.stack.not_created.values())


@pytest.mark.parametrize(
    ("logical_id", "asl_file"), [("TrainStateMachine", "train.asl.json"), ("DeployStateMachine", "deploy.asl.json")]
)
def test_each_state_machine_is_its_asl_file_with_the_templates_substitutions(
    stack: TestStack, logical_id: str, asl_file: str
) -> None:
    definition = stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.stack.ref(logical_id))[
        "definition"
    ]
    asl = json.loads((TEMPLATE_PATH.parent / "statemachine" / asl_file).read_text())

    assert "${" not in definition
    assert set(json.loads(definition)["States"]) == set(asl["States"])
    invoked = [name for name in stack.stack.function_names.values() if f":function:{name}" in definition]
    assert invoked, "the definition invokes none of the provisioned functions"


@pytest.mark.parametrize("logical_id", ["TrainStateMachine", "DeployStateMachine"])
def test_state_machines_are_encrypted_with_the_project_key_which_their_role_may_use(
    stack: TestStack, logical_id: str
) -> None:
    arn = stack.stack.ref(logical_id)
    key_arn = stack.stack.attribute("ProjectKey", "Arn")
    described = stack.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    role_name = described["roleArn"].rsplit("/", 1)[1]

    statements = _role_statements(stack, role_name)

    assert described["encryptionConfiguration"] == {
        "type": "CUSTOMER_MANAGED_KMS_KEY",
        "kmsKeyId": key_arn,
        "kmsDataKeyReusePeriodSeconds": 300,
    }
    (history,) = [s for s in statements if s.get("Sid") == "ExecutionHistoryEncryptedWithTheProjectKey"]
    assert history["Resource"] == key_arn
    assert arn in history["Condition"]["StringEquals"]["kms:EncryptionContext:aws:states:stateMachineArn"]


def test_functions_carry_the_templates_handler_environment_and_runtime(stack: TestStack) -> None:
    template = load_template()
    lambda_client = stack.client("lambda")

    for logical_id, name in stack.stack.function_names.items():
        configuration = lambda_client.get_function_configuration(FunctionName=name)
        assert configuration["Handler"] == template["Resources"][logical_id]["Properties"]["Handler"]
        assert configuration["Environment"]["Variables"] == stack.stack.functions[logical_id].environment
        assert configuration["Runtime"] == "python3.13"


def test_the_bucket_is_encrypted_with_the_project_key(stack: TestStack) -> None:
    rules = stack.client("s3").get_bucket_encryption(Bucket=stack.bucket)["ServerSideEncryptionConfiguration"]["Rules"]

    default = rules[0]["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"] == stack.stack.attribute("ProjectKey", "Arn")


def test_the_registry_rule_matches_every_change_of_the_group_and_targets_the_reconciler(stack: TestStack) -> None:
    events = stack.client("events")
    rule = stack.stack.ref("ModelRegistryRule")

    pattern = json.loads(events.describe_rule(Name=rule)["EventPattern"])
    (target,) = events.list_targets_by_rule(Rule=rule)["Targets"]

    assert pattern["detail"] == {"ModelPackageGroupName": [stack.group]}
    assert pattern["detail-type"] == ["SageMaker Model Package State Change"]
    assert target["Arn"].rsplit(":", 1)[-1] == stack.function("ReconcileDeploymentsFunction")
    assert target["DeadLetterConfig"]["Arn"].endswith(
        ":" + stack.stack.ref("DeploymentEventsDeadLetterQueue").rsplit("/", 1)[-1]
    )


def _role_statements(stack: TestStack, role_name: str) -> list[dict[str, Any]]:
    """Every statement of the role: its inline policies and its attached managed policies."""
    iam = stack.client("iam")
    statements: list[dict[str, Any]] = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        statements += iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]["Statement"]
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
        document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)["PolicyVersion"]
        statements += document["Document"]["Statement"]
    return statements
