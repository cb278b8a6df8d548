"""network.yaml: a private VPC whose endpoints cover every AWS API called from inside it, and whose outputs feed the
main stack's parameters."""

from __future__ import annotations

from typing import Any

import pytest

from cfn import NETWORK_TEMPLATE_PATH, TEMPLATE_PATH, load_template, resources_of_type

# The roles of what runs inside the VPC: the SageMaker execution role (jobs, models) and the Lambda functions.
# Service prefix of an action they are granted -> the VPC endpoint that carries the call.
ENDPOINT_FOR_SERVICE = {
    "sagemaker": "sagemaker.api",
    "s3": "s3",
    "states": "states",
    "sns": "sns",
    "kms": "kms",
    "logs": "logs",
    "ecr": "ecr.api",
    "cloudwatch": "monitoring",
    "sts": "sts",
    "application-autoscaling": "application-autoscaling",  # the stack-deletion clean-up (issue 7)
}
# Granted, but never called from inside the VPC, with the reason.
NOT_CALLED_FROM_THE_VPC = {
    "ec2": "SageMaker creates the jobs' network interfaces itself, with the role's permission",
    "iam": "iam:PassRole is an authorisation check on the SageMaker call, not an API call",
}
REQUIRED_ENDPOINTS = {  # the list, plus what the code calls
    "s3", "sagemaker.api", "sagemaker.runtime", "sts", "logs", "monitoring", "ecr.api", "ecr.dkr", "kms", "states",
    "sns", "xray",
}  # fmt: skip


@pytest.fixture(scope="module")
def network() -> dict[str, Any]:
    return load_template(NETWORK_TEMPLATE_PATH)


def _endpoint_services(network: dict[str, Any]) -> dict[str, dict[str, Any]]:
    endpoints = resources_of_type(network, "AWS::EC2::VPCEndpoint")
    services = {}
    for resource in endpoints.values():
        service_name = resource["Properties"]["ServiceName"]["Fn::Sub"]
        services[service_name.removeprefix("com.amazonaws.${AWS::Region}.")] = resource["Properties"]
    return services


def test_required_endpoints_exist_with_policies(network: dict[str, Any]) -> None:
    services = _endpoint_services(network)

    assert set(services) >= REQUIRED_ENDPOINTS
    assert services["s3"]["VpcEndpointType"] == "Gateway"
    without_policy = [name for name, properties in services.items() if "PolicyDocument" not in properties]
    assert not without_policy


def _branches(value: Any) -> list[dict[str, Any]]:
    """Every statement or policy a value may be: both branches of an ``Fn::If`` (a stack role's), none of
    ``AWS::NoValue``."""
    if isinstance(value, dict) and "Fn::If" in value:
        return [item for branch in value["Fn::If"][1:] for item in _branches(branch)]
    if isinstance(value, dict) and value.get("Ref") == "AWS::NoValue":
        return []
    return [value] if isinstance(value, dict) else []


def test_every_service_the_vpc_bound_roles_call_has_an_endpoint(network: dict[str, Any]) -> None:
    template = load_template(TEMPLATE_PATH)
    granted: set[str] = set()
    execution_role = template["Resources"]["SageMakerExecutionRole"]["Properties"]
    policies = [b for p in execution_role["Policies"] for b in _branches(p)]
    statements = [b for p in policies for s in p["PolicyDocument"]["Statement"] for b in _branches(s)]
    for function in resources_of_type(template, "AWS::Serverless::Function").values():
        for policy in (b for p in function["Properties"].get("Policies", []) for b in _branches(p)):
            statements += [b for s in policy.get("Statement", []) for b in _branches(s)]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        granted |= {action.split(":")[0] for action in actions}

    unknown = granted - set(ENDPOINT_FOR_SERVICE) - set(NOT_CALLED_FROM_THE_VPC)
    assert not unknown, f"services called from the VPC with no endpoint decision: {unknown}"
    missing = {ENDPOINT_FOR_SERVICE[s] for s in granted & set(ENDPOINT_FOR_SERVICE)} - set(_endpoint_services(network))
    assert not missing, f"no VPC endpoint for {missing}"


def test_no_route_to_the_internet(network: dict[str, Any]) -> None:
    types = {resource["Type"] for resource in network["Resources"].values()}
    assert not types & {"AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EgressOnlyInternetGateway"}
    assert not resources_of_type(network, "AWS::EC2::Route")


def test_two_private_subnets_in_two_availability_zones(network: dict[str, Any]) -> None:
    subnets = resources_of_type(network, "AWS::EC2::Subnet").values()
    zones = [subnet["Properties"]["AvailabilityZone"]["Fn::Select"][0] for subnet in subnets]

    assert sorted(zones) == [0, 1]
    assert all(subnet["Properties"]["MapPublicIpOnLaunch"] is False for subnet in subnets)


def test_outputs_feed_the_main_stacks_parameters(network: dict[str, Any]) -> None:
    parameters = load_template(TEMPLATE_PATH)["Parameters"]

    for output in ("PrivateSubnetIds", "SecurityGroupIds"):
        assert output in network["Outputs"]
        assert parameters[output]["Type"].startswith("List<AWS::EC2::")
