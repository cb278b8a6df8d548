"""The preventive-controls policy as the template defines it, resolved with sample deploy values for evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from security import cfn
from security.cfn import load_template, resolve

POLICY_LOGICAL_ID = "SageMakerPreventiveControlsPolicy"

# Sample deploy values: what a stack in account 123456789012 would resolve the template's references to.
ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
PROJECT_KMS_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/1111aaaa-2222-bbbb-3333-cccc4444dddd"
FOREIGN_KMS_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/9999ffff-8888-eeee-7777-dddd6666cccc"
PROJECT_SUBNETS = ("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002")
PROJECT_SECURITY_GROUPS = ("sg-0a1b2c3d4e5f60003",)
FOREIGN_SUBNET = "subnet-0f0f0f0f0f0f0f0f0"
FOREIGN_SECURITY_GROUP = "sg-0f0f0f0f0f0f0f0f0"


def sample_values() -> dict[str, Any]:
    """Values for the Refs/GetAtts the policy may use (both the stack-created key and an existing-key parameter)."""
    return {
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": REGION,
        "AWS::Partition": "aws",
        "AWS::StackName": "abalone-dev",
        "PrivateSubnetIds": list(PROJECT_SUBNETS),
        "SecurityGroupIds": list(PROJECT_SECURITY_GROUPS),
        "ProjectKey.Arn": PROJECT_KMS_KEY_ARN,  # the key the stack creates (condition CreateKmsKey)
        "KmsKeyArn": PROJECT_KMS_KEY_ARN,  # or an existing key given as a parameter
    }


def policy_resource(template_path: Path | None = None) -> dict[str, Any]:
    """The ``AWS::IAM::ManagedPolicy`` resource, unresolved, exactly as the template has it."""
    template_path = template_path or cfn.TEMPLATE
    template = load_template(template_path)
    resource = template["Resources"].get(POLICY_LOGICAL_ID)
    if resource is None:
        raise KeyError(f"{template_path.name} has no {POLICY_LOGICAL_ID} resource")
    return dict(resource)


def policy_document(template_path: Path | None = None, conditions: Mapping[str, bool] | None = None) -> dict[str, Any]:
    """The policy document with the template's references replaced by the sample values."""
    template_path = template_path or cfn.TEMPLATE
    document = policy_resource(template_path)["Properties"]["PolicyDocument"]
    resolved: dict[str, Any] = resolve(document, sample_values(), _all_conditions(template_path, conditions))
    return resolved


def _all_conditions(template_path: Path, conditions: Mapping[str, bool] | None) -> dict[str, bool]:
    """Every template condition defaults to True (e.g. CreateKmsKey) unless the caller says otherwise."""
    names = load_template(template_path).get("Conditions", {}) or {}
    chosen = dict.fromkeys(names, True)
    chosen.update(conditions or {})
    return chosen


class _SampleValues(dict[str, Any]):
    """Sample values, with a readable placeholder ARN for any other resource the roles' policies mention."""

    def __contains__(self, name: object) -> bool:
        return True

    def __missing__(self, name: str) -> str:
        return f"arn:aws:placeholder:{REGION}:{ACCOUNT_ID}:{name}"


EXECUTION_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/abalone-dev-SageMakerExecutionRole-1A2B3C4D5E6F"
ROLE_SAMPLE_PARAMETERS = {
    "ResourceNamePrefix": "abalone-mlops",
    "ModelPackageGroupName": "abalone",
    "SageMakerExecutionRole.Arn": EXECUTION_ROLE_ARN,
}


def role_policies(expanded: Mapping[str, Any], role_logical_id: str) -> dict[str, dict[str, Any]]:
    """Every identity policy a role of the deployed (SAM-expanded) template carries, resolved: name -> document.

    Inline policies, AWS::IAM::Policy and ManagedPolicy resources attached to it (the preventive controls included).
    AWS-managed policy ARNs (e.g. SAM's AWSXrayWriteOnlyAccess) are not included: they grant nothing to SageMaker.
    """
    values = _SampleValues({**sample_values(), **ROLE_SAMPLE_PARAMETERS})
    conditions = dict.fromkeys(expanded.get("Conditions", {}) or {}, True)
    resources = expanded["Resources"]
    role = resources[role_logical_id]
    policies = {
        f"{role_logical_id}/{policy['PolicyName']}": policy["PolicyDocument"]
        for policy in role["Properties"].get("Policies", [])
    }
    for logical_id, resource in resources.items():
        attached = resource.get("Properties", {}).get("Roles", [])
        if (
            resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
            and {"Ref": role_logical_id} in attached
        ):
            policies[logical_id] = resource["Properties"]["PolicyDocument"]
    resolved: dict[str, dict[str, Any]] = resolve(policies, values, conditions)
    return resolved
