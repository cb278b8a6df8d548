"""The preventive-controls policy as the template defines it, resolved with sample deploy values for evaluation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cfn import TEMPLATE_PATH, Resolver, TemplateValues, load_template

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


def sample_values(
    conditions: Mapping[str, bool],
    parameters: Mapping[str, Any] | None = None,
    attributes: Mapping[str, str] | None = None,
    placeholder: Callable[[str], str] | None = None,
) -> TemplateValues:
    """Values for the Refs/GetAtts the policy may use (both the stack-created key and an existing-key parameter)."""
    return TemplateValues(
        region=REGION,
        account_id=ACCOUNT_ID,
        stack_name="abalone-dev",
        partition="aws",
        parameters={
            "PrivateSubnetIds": list(PROJECT_SUBNETS),
            "SecurityGroupIds": list(PROJECT_SECURITY_GROUPS),
            "KmsKeyArn": PROJECT_KMS_KEY_ARN,  # an existing key given as a parameter ...
            **(parameters or {}),
        },
        attributes={"ProjectKey.Arn": PROJECT_KMS_KEY_ARN, **(attributes or {})},  # ... or the key the stack creates
        conditions=dict(conditions),
        placeholder=placeholder,
    )


def policy_resource(template_path: Path | None = None) -> dict[str, Any]:
    """The ``AWS::IAM::ManagedPolicy`` resource, unresolved, exactly as the template has it."""
    template_path = template_path or TEMPLATE_PATH
    template = load_template(template_path)
    resource = template["Resources"].get(POLICY_LOGICAL_ID)
    if resource is None:
        raise KeyError(f"{template_path.name} has no {POLICY_LOGICAL_ID} resource")
    return dict(resource)


def policy_document(template_path: Path | None = None, conditions: Mapping[str, bool] | None = None) -> dict[str, Any]:
    """The policy document with the template's references replaced by the sample values."""
    template_path = template_path or TEMPLATE_PATH
    template = load_template(template_path)
    document = policy_resource(template_path)["Properties"]["PolicyDocument"]
    values = sample_values(_all_conditions(template, conditions))
    resolved: dict[str, Any] = Resolver(template, values).resolve(document)
    return resolved


def _all_conditions(template: Mapping[str, Any], conditions: Mapping[str, bool] | None = None) -> dict[str, bool]:
    """Every template condition defaults to True (e.g. CreateKmsKey) unless the caller says otherwise."""
    chosen = dict.fromkeys(template.get("Conditions", {}) or {}, True)
    chosen.update(conditions or {})
    return chosen


def _placeholder(name: str) -> str:
    """A readable placeholder ARN for any other resource the roles' policies mention."""
    return f"arn:aws:placeholder:{REGION}:{ACCOUNT_ID}:{name}"


EXECUTION_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/abalone-dev-SageMakerExecutionRole-1A2B3C4D5E6F"
ROLE_SAMPLE_PARAMETERS = {"ResourceNamePrefix": "abalone-mlops", "ModelPackageGroupName": "abalone"}
ARTIFACTS_BUCKET_ARN = "arn:aws:s3:::abalone-dev-artifactsbucket"
ROLE_SAMPLE_ATTRIBUTES = {"SageMakerExecutionRole.Arn": EXECUTION_ROLE_ARN, "ArtifactsBucket.Arn": ARTIFACTS_BUCKET_ARN}


def role_policies(
    expanded: Mapping[str, Any],
    role_logical_id: str,
    *,
    conditions: Mapping[str, bool] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every identity policy a role of the deployed (SAM-expanded) template carries, resolved: name -> document.

    Inline policies, AWS::IAM::Policy and ManagedPolicy resources attached to it (the preventive controls included).
    AWS-managed policy ARNs (e.g. SAM's AWSXrayWriteOnlyAccess) are not included: they grant nothing to SageMaker.
    ``conditions`` and ``parameters``: a stack role's (multi-account) instead of every condition true.
    """
    values = _values(expanded, conditions, parameters)
    resources = expanded["Resources"]
    role = resources[role_logical_id]
    policies = {
        f"{role_logical_id}/{policy['PolicyName']}": policy["PolicyDocument"]
        for policy in role["Properties"].get("Policies", [])
    }
    resolver = Resolver(expanded, values)
    role = resolver.resolve({"Ref": role_logical_id})
    for logical_id, resource in resources.items():
        if resource.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        attached = resolver.resolve(resource.get("Properties", {}).get("Roles", []))  # Fn::If decided
        if role in attached:
            policies[logical_id] = resource["Properties"]["PolicyDocument"]
    resolved: dict[str, dict[str, Any]] = resolver.resolve(policies)
    return resolved


def resource_policy(
    expanded: Mapping[str, Any],
    logical_id: str,
    property_name: str,
    *,
    conditions: Mapping[str, bool] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A resource's own policy (``KeyPolicy`` of a key, ``PolicyDocument`` of a bucket policy...), resolved with the
    same sample values as :func:`role_policies`."""
    values = _values(expanded, conditions, parameters)
    document = expanded["Resources"][logical_id]["Properties"][property_name]
    resolved: dict[str, Any] = Resolver(expanded, values).resolve(document)
    return resolved


def resolved_resources(expanded: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Every resource of a type, its properties resolved with the sample values: logical id -> properties."""
    values = sample_values(_all_conditions(expanded), ROLE_SAMPLE_PARAMETERS, ROLE_SAMPLE_ATTRIBUTES, _placeholder)
    resolver = Resolver(expanded, values)
    return {
        logical_id: resolver.resolve(resource.get("Properties", {}))
        for logical_id, resource in expanded["Resources"].items()
        if resource.get("Type") == resource_type
    }


def _values(
    expanded: Mapping[str, Any], conditions: Mapping[str, bool] | None, parameters: Mapping[str, Any] | None
) -> TemplateValues:
    return sample_values(
        _all_conditions(expanded, conditions),
        {**ROLE_SAMPLE_PARAMETERS, **(parameters or {})},
        ROLE_SAMPLE_ATTRIBUTES,
        _placeholder,
    )
