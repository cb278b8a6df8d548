"""Custom checkov checks for what checkov's CloudFormation rules do not cover (loaded with --external-checks-dir).

Each names a project rule (CKV_ABALONE_*). They run in .venv-checkov, inside checkov; the ASL and pipeline-definition
checks, which checkov cannot see, are in security/project_checks.py.
"""

from __future__ import annotations

from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import (  # type: ignore[import-not-found]
    BaseResourceCheck,
)
from checkov.common.models.enums import CheckCategories, CheckResult  # type: ignore[import-not-found]


def _properties(conf: dict[str, Any]) -> dict[str, Any]:
    properties = conf.get("Properties") or {}
    return properties if isinstance(properties, dict) else {}


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


class EndpointConfigEncrypted(BaseResourceCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            name="SageMaker endpoint configs encrypt their storage volumes with a KMS key",
            id="CKV_ABALONE_1",
            categories=[CheckCategories.ENCRYPTION],
            supported_resources=["AWS::SageMaker::EndpointConfig"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> Any:
        return CheckResult.PASSED if _properties(conf).get("KmsKeyId") else CheckResult.FAILED


class ModelInPrivateVpcIsolated(BaseResourceCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            name="SageMaker models run in the VPC (subnets and security groups) with network isolation",
            id="CKV_ABALONE_2",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["AWS::SageMaker::Model"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> Any:
        properties = _properties(conf)
        vpc = properties.get("VpcConfig") or {}
        in_vpc = bool(vpc.get("Subnets")) and bool(vpc.get("SecurityGroupIds"))
        isolated = _is_true(properties.get("EnableNetworkIsolation"))
        return CheckResult.PASSED if in_vpc and isolated else CheckResult.FAILED


class StateMachineLogsAndTraces(BaseResourceCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            name="Step Functions state machines log ALL events to a log group and have X-Ray tracing enabled",
            id="CKV_ABALONE_3",
            categories=[CheckCategories.LOGGING],
            supported_resources=["AWS::StepFunctions::StateMachine"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> Any:
        properties = _properties(conf)
        logging = properties.get("LoggingConfiguration") or properties.get("Logging") or {}
        tracing = properties.get("TracingConfiguration") or properties.get("Tracing") or {}
        logs_all = logging.get("Level") == "ALL" and bool(logging.get("Destinations"))
        return CheckResult.PASSED if logs_all and _is_true(tracing.get("Enabled")) else CheckResult.FAILED


class EventTargetsHaveDeadLetterQueues(BaseResourceCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            name="EventBridge rule targets have a retry policy and a dead-letter queue (no lost event)",
            id="CKV_ABALONE_4",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["AWS::Events::Rule"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> Any:
        targets = _properties(conf).get("Targets") or []
        complete = all(
            isinstance(target, dict) and (target.get("DeadLetterConfig") or {}).get("Arn") and target.get("RetryPolicy")
            for target in targets
        )
        return CheckResult.PASSED if targets and complete else CheckResult.FAILED


class PassRoleOnlyToSageMaker(BaseResourceCheck):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(
            name="iam:PassRole names its roles and passes them only to sagemaker.amazonaws.com",
            id="CKV_ABALONE_5",
            categories=[CheckCategories.IAM],
            supported_resources=[
                "AWS::IAM::Role",
                "AWS::IAM::Policy",
                "AWS::IAM::ManagedPolicy",
                "AWS::Serverless::Function",
                "AWS::Serverless::StateMachine",
            ],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> Any:
        for statement in _statements(_properties(conf)):
            actions = statement.get("Action") or []
            actions = actions if isinstance(actions, list) else [actions]
            passes_role = any(isinstance(a, str) and a.lower() in ("iam:passrole", "iam:*", "*") for a in actions)
            if statement.get("Effect") != "Allow" or not passes_role:
                continue
            resources = statement.get("Resource")
            resources = resources if isinstance(resources, list) else [resources]
            passed_to = ((statement.get("Condition") or {}).get("StringEquals") or {}).get("iam:PassedToService")
            if "*" in resources or passed_to != "sagemaker.amazonaws.com":
                return CheckResult.FAILED
        return CheckResult.PASSED


def _statements(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """Allow/Deny statements of every policy a resource carries (IAM inline/managed policies, SAM Policies)."""
    documents: list[Any] = []
    if "PolicyDocument" in properties:
        documents.append(properties["PolicyDocument"])
    for policy in properties.get("Policies") or []:
        if isinstance(policy, dict):
            documents.append(policy.get("PolicyDocument", policy))
    statements: list[dict[str, Any]] = []
    for document in documents:
        found = document.get("Statement", []) if isinstance(document, dict) else []
        statements.extend(s for s in (found if isinstance(found, list) else [found]) if isinstance(s, dict))
    return statements


check_endpoint_config = EndpointConfigEncrypted()
check_model = ModelInPrivateVpcIsolated()
check_state_machine = StateMachineLogsAndTraces()
check_event_targets = EventTargetsHaveDeadLetterQueues()
check_pass_role = PassRoleOnlyToSageMaker()
