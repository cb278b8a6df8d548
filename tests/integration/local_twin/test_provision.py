"""The emulator is provisioned from template.yaml itself, and the run's environment points only at it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from cfn import TEMPLATE_PATH, load_template
from local_twin.provision import Emulator, Stack, provision, running_emulator

PARAMETERS = {
    "PrivateSubnetIds": "subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002",
    "SecurityGroupIds": "sg-0a1b2c3d4e5f60001",
}


@pytest.fixture(scope="module")
def provisioned() -> Iterator[tuple[Emulator, Stack]]:
    with running_emulator("us-east-1") as emulator:
        yield emulator, provision(emulator, parameters=PARAMETERS)


def test_every_resource_is_created_or_its_absence_explained(provisioned: tuple[Emulator, Stack]) -> None:
    _, stack = provisioned
    resources = set(load_template()["Resources"])

    assert set(stack.created) | set(stack.not_created) >= resources
    assert all(reason for reason in stack.not_created.values())


def test_the_state_machine_is_the_asl_file_with_the_templates_substitutions(
    provisioned: tuple[Emulator, Stack],
) -> None:
    emulator, stack = provisioned
    arn = stack.ref(stack.only("AWS::StepFunctions::StateMachine"))

    definition = emulator.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]

    assert "${" not in definition
    asl = json.loads((TEMPLATE_PATH.parent / "statemachine" / "train_deploy.asl.json").read_text())
    assert set(json.loads(definition)["States"]) == set(asl["States"])
    for name in stack.function_names.values():
        if f":function:{name}" in definition:
            break
    else:
        pytest.fail("the definition invokes none of the provisioned functions")


def test_the_state_machine_is_encrypted_with_the_project_key_and_its_role_can_use_it(
    provisioned: tuple[Emulator, Stack],
) -> None:
    emulator, stack = provisioned
    arn = stack.ref(stack.only("AWS::StepFunctions::StateMachine"))

    described = emulator.client("stepfunctions").describe_state_machine(stateMachineArn=arn)
    role_name = described["roleArn"].rsplit("/", 1)[1]
    policy = emulator.client("iam").get_role_policy(RoleName=role_name, PolicyName="TrainDeployStateMachineRolePolicy0")

    assert described["encryptionConfiguration"] == {
        "type": "CUSTOMER_MANAGED_KMS_KEY",
        "kmsKeyId": stack.attribute("ProjectKey", "Arn"),
        "kmsDataKeyReusePeriodSeconds": 300,
    }
    (history,) = [
        s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "ExecutionHistoryEncryptedWithTheProjectKey"
    ]
    assert history["Resource"] == stack.attribute("ProjectKey", "Arn")
    assert history["Condition"]["StringEquals"]["kms:EncryptionContext:aws:states:stateMachineArn"] == arn


def test_functions_carry_the_templates_handler_and_environment(provisioned: tuple[Emulator, Stack]) -> None:
    emulator, stack = provisioned
    template = load_template()

    for logical_id, name in stack.function_names.items():
        configuration = emulator.client("lambda").get_function_configuration(FunctionName=name)
        assert configuration["Handler"] == template["Resources"][logical_id]["Properties"]["Handler"]
        assert configuration["Environment"]["Variables"] == stack.functions[logical_id].environment
        assert configuration["Runtime"] == "python3.13"


def test_the_bucket_is_encrypted_with_the_project_key(provisioned: tuple[Emulator, Stack]) -> None:
    emulator, stack = provisioned
    bucket = stack.ref(stack.only("AWS::S3::Bucket"))

    rules = emulator.client("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]

    default = rules[0]["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"] == stack.attribute(stack.only("AWS::KMS::Key"), "Arn")


def test_the_approval_rule_has_the_templates_pattern_and_targets_the_approval_function(
    provisioned: tuple[Emulator, Stack],
) -> None:
    emulator, stack = provisioned
    events = emulator.client("events")
    rule = stack.ref("ModelApprovedRule")  # the template also has ModelRejectedRule (issue 7)

    pattern = json.loads(events.describe_rule(Name=rule)["EventPattern"])
    targets = events.list_targets_by_rule(Rule=rule)["Targets"]

    assert pattern["detail"]["ModelApprovalStatus"] == ["Approved"]
    assert pattern["detail"]["ModelPackageGroupName"] == ["abalone"]
    assert [target["Arn"].rsplit(":", 1)[-1] for target in targets] == [stack.function_names["OnModelApprovedFunction"]]
