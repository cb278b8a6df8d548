"""Patterns of the identifiers the functions accept, in one place for every parser model.

Lower-case group names only: SageMaker lower-cases names in model-package ARNs (template.yaml's
ModelPackageGroupName constraint says why).
"""

from __future__ import annotations

import re

MODEL_PACKAGE_GROUP_NAME = r"[a-z0-9](-*[a-z0-9]){0,62}"
MODEL_PACKAGE_ARN = (
    r"^arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    rf"model-package/(?P<group>{MODEL_PACKAGE_GROUP_NAME})/(?P<version>\d+)$"
)
PIPELINE_EXECUTION_ARN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:pipeline/[A-Za-z0-9-]{1,256}/execution/\S+$"
S3_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"
SAGEMAKER_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
PARAMETER_NAME = r"^[A-Za-z0-9\-_]{1,256}$"

_MODEL_PACKAGE = re.compile(MODEL_PACKAGE_ARN)


def model_package_parts(arn: str) -> dict[str, str]:
    """Partition, region, account, group and version of a model-package (version) ARN; ValueError if it is none."""
    match = _MODEL_PACKAGE.match(arn)
    if match is None:
        raise ValueError(
            f"{arn!r} is not a model package version ARN (arn:aws:sagemaker:<region>:<account>:"
            "model-package/<group>/<version>)"
        )
    return match.groupdict()
