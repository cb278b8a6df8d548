"""The live state of the stack's endpoint: which package it serves, read from the live endpoint config's model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from deployments.registry import version_of

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

BUSY_STATUSES = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed")
NOT_FOUND = "Could not find endpoint"


@dataclass(frozen=True)
class Live:
    """The endpoint as it is now."""

    status: str
    config: str
    package_arn: str | None  # None: its model does not come from a model package
    failure_reason: str = ""

    @property
    def version(self) -> int | None:
        return version_of(self.package_arn) if self.package_arn else None

    @property
    def busy(self) -> bool:
        return self.status in BUSY_STATUSES

    @property
    def failed(self) -> bool:
        """A Failed endpoint (its creation failed) serves nothing, and SageMaker updates only an InService one."""
        return self.status == "Failed"

    def serves(self, package_arn: str) -> bool:
        return not self.failed and self.package_arn == package_arn


def live(endpoint_name: str, sagemaker: SageMakerClient) -> Live | None:
    """What the endpoint serves now (endpoint → config → model → ModelPackageName); None without an endpoint."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except sagemaker.exceptions.ClientError as error:
        if NOT_FOUND in str(error.response.get("Error", {}).get("Message", "")):
            return None
        raise
    config_name = endpoint["EndpointConfigName"]
    return Live(
        status=endpoint["EndpointStatus"],
        config=config_name,
        package_arn=package_of_config(config_name, sagemaker),
        failure_reason=endpoint.get("FailureReason", ""),
    )


def package_of_config(config_name: str, sagemaker: SageMakerClient) -> str | None:
    config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    package = container.get("ModelPackageName")
    return str(package) if package else None
