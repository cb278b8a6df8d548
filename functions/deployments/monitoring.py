"""Data-quality monitoring of the live version: one schedule per endpoint, judged against that version's baseline.

The pipeline's quality-check step records each version's data-quality baseline (statistics.json, constraints.json of
the train records) in the package's DriftCheckBaselines. After a deployment makes a version live, :func:`monitor`
points the endpoint's schedule at a new data-quality job definition with that baseline -- job definitions cannot be
changed, so each version gets its own -- and deletes the previous definition. A version without a baseline gets no
schedule (an old one would judge captured requests against another version's data), and the notification says so.

Every job the schedule starts runs like every other job of the project: in the private subnets with the security
groups, network isolation, inter-container encryption, the project key on volumes and outputs (the preventive
controls deny anything else to this function's role).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

STACK_TAG = "sagemaker-secure-mlops:stack"
NAME_LIMIT = 63
# Where the analyzer reads the captured requests and writes its reports, inside its processing container.
ENDPOINT_INPUT_PATH = "/opt/ml/processing/input/endpoint"
OUTPUT_PATH = "/opt/ml/processing/output"


@dataclass(frozen=True)
class MonitoringSettings:
    """What a job definition needs from the stack (the template's values)."""

    schedule_name: str
    schedule_expression: str
    instance_type: str
    execution_role_arn: str
    kms_key_arn: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    analyzer_image_uri: str
    reports_uri: str  # s3://<bucket>/monitoring: reports land under <endpoint>/<schedule>/yyyy/mm/dd/hh
    stack_name: str


def baseline_of(package: dict[str, Any]) -> dict[str, str] | None:
    """The package's data-quality baseline: {"Statistics": uri, "Constraints": uri}, or None without one."""
    quality = (package.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
    statistics = (quality.get("Statistics") or {}).get("S3Uri")
    constraints = (quality.get("Constraints") or {}).get("S3Uri")
    if statistics and constraints:
        return {"Statistics": statistics, "Constraints": constraints}
    return None


def job_definition_name(prefix: str, version: int, execution_name: str) -> str:
    """``<prefix>-dq-v<version>-<hash>``: unique per deploy execution, within SageMaker's 63 characters."""
    digest = hashlib.sha256(execution_name.encode()).hexdigest()[:8]
    return f"{prefix}-dq-v{version}-{digest}"[:NAME_LIMIT]


def monitor(
    endpoint_name: str,
    package: dict[str, Any],
    execution_name: str,
    prefix: str,
    config: MonitoringSettings,
    sagemaker: SageMakerClient,
) -> dict[str, Any]:
    """Point the endpoint's schedule at the live version's baseline (or remove it: no baseline); what was done."""
    version = int(package["ModelPackageVersion"])
    current = _schedule(config.schedule_name, sagemaker)
    previous_definition = (
        current["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName") if current is not None else None
    )
    baseline = baseline_of(package)
    if baseline is None:
        if current is not None:
            sagemaker.delete_monitoring_schedule(MonitoringScheduleName=config.schedule_name)
        return {
            "Monitored": False,
            "Schedule": None,
            "JobDefinition": None,
            "Note": f"version {version} has no data-quality baseline: its requests are not monitored"
            + (f" (schedule {config.schedule_name} was removed)" if current is not None else ""),
        }
    definition = job_definition_name(prefix, version, execution_name)
    _create_job_definition(definition, endpoint_name, baseline, config, sagemaker)
    schedule_config: Any = {
        "ScheduleConfig": {"ScheduleExpression": config.schedule_expression},
        "MonitoringJobDefinitionName": definition,
        "MonitoringType": "DataQuality",
    }
    if current is None:
        sagemaker.create_monitoring_schedule(
            MonitoringScheduleName=config.schedule_name,
            MonitoringScheduleConfig=schedule_config,
            Tags=[{"Key": STACK_TAG, "Value": config.stack_name}],
        )
    elif previous_definition != definition:
        sagemaker.update_monitoring_schedule(
            MonitoringScheduleName=config.schedule_name, MonitoringScheduleConfig=schedule_config
        )
    if previous_definition and previous_definition != definition:
        _delete_job_definition(previous_definition, sagemaker)
    return {
        "Monitored": True,
        "Schedule": config.schedule_name,
        "JobDefinition": definition,
        "Note": f"version {version}'s requests are checked against its baseline ({config.schedule_expression})",
    }


def stop_monitoring(schedule_name: str, sagemaker: SageMakerClient) -> bool:
    """Delete the schedule and its job definition (the endpoint is going); False if there was none."""
    current = _schedule(schedule_name, sagemaker)
    if current is None:
        return False
    sagemaker.delete_monitoring_schedule(MonitoringScheduleName=schedule_name)
    definition = current["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName")
    if definition:
        _delete_job_definition(definition, sagemaker)
    return True


def _schedule(name: str, sagemaker: SageMakerClient) -> dict[str, Any] | None:
    try:
        described: dict[str, Any] = dict(sagemaker.describe_monitoring_schedule(MonitoringScheduleName=name))
    except sagemaker.exceptions.ResourceNotFound:
        return None
    if described.get("MonitoringScheduleStatus") == "Failed" and not described.get("MonitoringScheduleConfig"):
        return None
    return described


def _create_job_definition(
    name: str, endpoint_name: str, baseline: dict[str, str], config: MonitoringSettings, sagemaker: SageMakerClient
) -> None:
    """Idempotent: a retried step finds the definition it created (ResourceInUse) and keeps it."""
    try:
        sagemaker.create_data_quality_job_definition(
            JobDefinitionName=name,
            DataQualityBaselineConfig={
                "ConstraintsResource": {"S3Uri": baseline["Constraints"]},
                "StatisticsResource": {"S3Uri": baseline["Statistics"]},
            },
            DataQualityAppSpecification={
                "ImageUri": config.analyzer_image_uri,
                # The drift metrics the template's alarm watches (aws/sagemaker/Endpoints/data-metrics).
                "Environment": {"publish_cloudwatch_metrics": "Enabled"},
            },
            DataQualityJobInput={
                "EndpointInput": {
                    "EndpointName": endpoint_name,
                    "LocalPath": ENDPOINT_INPUT_PATH,
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            DataQualityJobOutputConfig={
                "MonitoringOutputs": [
                    {"S3Output": {"S3Uri": config.reports_uri, "LocalPath": OUTPUT_PATH, "S3UploadMode": "EndOfJob"}}
                ],
                "KmsKeyId": config.kms_key_arn,
            },
            JobResources={
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": config.instance_type,  # type: ignore[typeddict-item]  # a template parameter
                    "VolumeSizeInGB": 20,
                    "VolumeKmsKeyId": config.kms_key_arn,
                }
            },
            NetworkConfig={
                "EnableInterContainerTrafficEncryption": True,
                "EnableNetworkIsolation": True,
                "VpcConfig": {
                    "Subnets": list(config.subnet_ids),
                    "SecurityGroupIds": list(config.security_group_ids),
                },
            },
            RoleArn=config.execution_role_arn,
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
            Tags=[{"Key": STACK_TAG, "Value": config.stack_name}],
        )
    except sagemaker.exceptions.ResourceInUse:
        return


def _delete_job_definition(name: str, sagemaker: SageMakerClient) -> None:
    """Best effort: a definition still referenced (or gone already) is left for the stack's clean-up."""
    try:
        sagemaker.delete_data_quality_job_definition(JobDefinitionName=name)
    except sagemaker.exceptions.ClientError:
        return
