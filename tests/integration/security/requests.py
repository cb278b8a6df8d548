"""Realistic SageMaker requests as IAM sees them: the request context keys AWS sets for each call the project makes.

Compliant requests carry what the project sends (its subnets, security groups, isolation, encryption, its KMS key);
``violations`` turns one into requests that break exactly one condition of one deny statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from security.iam.controls import (
    ACCOUNT_ID,
    FOREIGN_KMS_KEY_ARN,
    FOREIGN_SECURITY_GROUP,
    FOREIGN_SUBNET,
    PROJECT_KMS_KEY_ARN,
    PROJECT_SECURITY_GROUPS,
    PROJECT_SUBNETS,
    REGION,
)
from security.iam.simulator import Request

ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}"
VPC = {"sagemaker:VpcSubnets": list(PROJECT_SUBNETS), "sagemaker:VpcSecurityGroupIds": list(PROJECT_SECURITY_GROUPS)}
ISOLATED_ENCRYPTED = {"sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true"}
KMS = {"sagemaker:VolumeKmsKeyArn": PROJECT_KMS_KEY_ARN, "sagemaker:OutputKmsKeyArn": PROJECT_KMS_KEY_ARN}
TAGS = {"aws:RequestTag/project": "abalone", "aws:TagKeys": ["project"]}

COMPLIANT: dict[str, Request] = {
    # The pipeline's steps (build/pipeline-definition.json), created by SageMaker Pipelines as the execution role.
    "sagemaker:CreateProcessingJob": Request(
        "sagemaker:CreateProcessingJob",
        f"{ARN}:processing-job/pipelines-abc123-preprocess-abalone",
        {**VPC, **ISOLATED_ENCRYPTED, **KMS, "sagemaker:InstanceTypes": ["ml.m5.xlarge"]},
    ),
    "sagemaker:CreateTrainingJob": Request(
        "sagemaker:CreateTrainingJob",
        f"{ARN}:training-job/pipelines-abc123-train-abalone",
        {**VPC, **ISOLATED_ENCRYPTED, **KMS, "sagemaker:InstanceTypes": ["ml.m5.xlarge"]},
    ),
    "sagemaker:CreateHyperParameterTuningJob": Request(
        "sagemaker:CreateHyperParameterTuningJob",
        f"{ARN}:hyper-parameter-tuning-job/abalone-tuning",
        {**VPC, **ISOLATED_ENCRYPTED, **KMS},
    ),
    # The deploy path of the state machine.
    "sagemaker:CreateModel": Request(
        "sagemaker:CreateModel",
        f"{ARN}:model/abalone-v3-1a2b3c",
        {**VPC, "sagemaker:NetworkIsolation": "true", **TAGS},
    ),
    "sagemaker:CreateEndpointConfig": Request(
        "sagemaker:CreateEndpointConfig",
        f"{ARN}:endpoint-config/abalone-v3-1a2b3c",
        {
            "sagemaker:VolumeKmsKeyArn": PROJECT_KMS_KEY_ARN,
            "sagemaker:InstanceTypes": ["ml.m5.large"],
            "sagemaker:ModelArn": [f"{ARN}:model/abalone-v3-1a2b3c"],
            **TAGS,
        },
    ),
    "sagemaker:CreateEndpoint": Request("sagemaker:CreateEndpoint", f"{ARN}:endpoint/abalone", {**TAGS}),
    "sagemaker:UpdateEndpoint": Request("sagemaker:UpdateEndpoint", f"{ARN}:endpoint/abalone", {}),
    # Batch transform: no VPC keys exist for it (it runs in the model's VPC).
    "sagemaker:CreateTransformJob": Request(
        "sagemaker:CreateTransformJob",
        f"{ARN}:transform-job/abalone-v3-1a2b3c",
        {**KMS, "sagemaker:InstanceTypes": ["ml.m5.large"], "sagemaker:ModelArn": f"{ARN}:model/abalone-v3-1a2b3c"},
    ),
    # The deploy steps' data-quality monitoring (functions/deployments/monitoring.py): the job definition carries the
    # whole job's configuration; the schedule names the definition, so its request carries none of those keys.
    "sagemaker:CreateDataQualityJobDefinition": Request(
        "sagemaker:CreateDataQualityJobDefinition",
        f"{ARN}:data-quality-job-definition/abalone-mlops-dq-v3-0a1b2c3d",
        {
            **VPC,
            **ISOLATED_ENCRYPTED,
            **KMS,
            "sagemaker:InstanceTypes": ["ml.m5.large"],
            "sagemaker:MaxRuntimeInSeconds": "3600",
            **TAGS,
        },
    ),
    "sagemaker:CreateMonitoringSchedule": Request(
        "sagemaker:CreateMonitoringSchedule", f"{ARN}:monitoring-schedule/abalone-mlops-data-quality", {**TAGS}
    ),
    "sagemaker:UpdateMonitoringSchedule": Request(
        "sagemaker:UpdateMonitoringSchedule", f"{ARN}:monitoring-schedule/abalone-mlops-data-quality", {}
    ),
    # The upsert Lambda.
    "sagemaker:CreatePipeline": Request("sagemaker:CreatePipeline", f"{ARN}:pipeline/abalone-pipeline", {**TAGS}),
    # Notebooks: not used by the project, refused unless locked down (the seed's RootAccess/DirectInternetAccess).
    "sagemaker:CreateNotebookInstance": Request(
        "sagemaker:CreateNotebookInstance",
        f"{ARN}:notebook-instance/abalone-notebook",
        {
            **VPC,
            "sagemaker:VolumeKmsKeyArn": PROJECT_KMS_KEY_ARN,
            "sagemaker:RootAccess": "Disabled",
            "sagemaker:DirectInternetAccess": "Disabled",
            "sagemaker:InstanceTypes": ["ml.t3.medium"],
        },
    ),
    "sagemaker:UpdateNotebookInstance": Request(
        "sagemaker:UpdateNotebookInstance",
        f"{ARN}:notebook-instance/abalone-notebook",
        {"sagemaker:InstanceTypes": ["ml.t3.large"]},
    ),
}


def violations(request: Request, operator: str, key: str) -> list[Request]:
    """Requests that make the condition ``operator: {key: ...}`` of a deny statement match.

    Negated operators (ArnNotEquals, StringNotEquals) also match when the key is absent, so both a wrong value and a
    missing key are violations for them.
    """
    if operator == "Null":
        return [_with(request, key, None)]
    if operator == "Bool":
        return [_with(request, key, "false")]
    if operator == "ForAnyValue:StringNotEquals":
        foreign = FOREIGN_SUBNET if key.endswith("Subnets") else FOREIGN_SECURITY_GROUP
        return [_with(request, key, [*_as_list(request.context.get(key, [])), foreign])]
    if operator == "ArnNotEquals":
        return [_with(request, key, FOREIGN_KMS_KEY_ARN), _with(request, key, None)]
    if operator == "StringNotEquals":
        return [_with(request, key, "Enabled"), _with(request, key, None)]
    if operator == "StringEquals":
        return [_with(request, key, "Enabled")]
    raise ValueError(
        f"no violation known for the operator {operator!r}: add one to tests/integration/security/requests.py"
    )


def _with(request: Request, key: str, value: str | list[str] | None) -> Request:
    context: dict[str, Any] = dict(request.context)
    if value is None:
        context.pop(key, None)
    else:
        context[key] = value
    return Request(request.action, request.resource, context, request.principal)


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def statement_conditions(statement: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(operator, key) pairs of a statement's Condition block."""
    return [(operator, key) for operator, keys in statement.get("Condition", {}).items() for key in keys]
