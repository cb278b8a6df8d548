"""The one explicit table from container images to local Python environments.

A processing or training step names an ECR image. Locally there is no Docker, so each image that may run here is
mapped to a Python interpreter whose packages match the image's (requirements/dev.in pins the SageMaker XGBoost 3.0-5
image's xgboost, numpy, pandas and scikit-learn). An image with no entry is an error naming the step and the image:
guessing would run the code against the wrong libraries and hide the mismatch until the cloud run.

One image is not mapped to an interpreter: SageMaker's Model Monitor analyzer (``sagemaker-model-monitor-analyzer``,
whose URI the SageMaker SDK gives without a tag) runs no user code; its work is done by the project's stand-in,
``local_twin.monitor`` (:func:`is_model_monitor_analyzer` recognises it).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path


class ImageError(ValueError):
    """A step's image has no local environment."""


@dataclass(frozen=True)
class LocalImage:
    """What runs a step's code locally in place of the container image."""

    repository: str
    tag: str
    python: Path
    interpreters: frozenset[str] = frozenset({"python3", "python"})

    def command(self, entrypoint: list[str], step: str) -> list[str]:
        """The container entrypoint with its interpreter replaced by the local one."""
        if not entrypoint or entrypoint[0] not in self.interpreters:
            raise ImageError(
                f"step {step!r}: entrypoint {entrypoint!r} is not a Python script; locally the image "
                f"{self.repository}:{self.tag} runs only {sorted(self.interpreters)} entrypoints"
            )
        return [str(self.python), *entrypoint[1:]]


# (repository, tag) → environment. The project environment is the one this process runs in (make pipeline-local and
# the tests use .venv/bin/python).
IMAGE_TABLE: dict[tuple[str, str], LocalImage] = {
    ("sagemaker-xgboost", "3.0-5"): LocalImage("sagemaker-xgboost", "3.0-5", Path(sys.executable)),
}

MODEL_MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"
# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/sagemaker-model-monitor-analyzer[:<tag>] (SageMaker developer guide,
# "Built-in analyzer": the regional image; the SDK's image_uris omits the tag, AWS samples use :latest)
_ANALYZER_URI = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/" + MODEL_MONITOR_REPOSITORY + r"(?::[^:@/]+)?$"
)
# <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>:<tag>
_ECR_URI = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?P<repo>[^:@]+):(?P<tag>[^:@]+)$")


def parse_image_uri(uri: str) -> tuple[str, str]:
    """``683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5`` → ``("sagemaker-xgboost", "3.0-5")``."""
    match = _ECR_URI.match(uri)
    if not match:
        expected = "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>"
        raise ImageError(f"{uri!r} is not an ECR image URI with a tag ({expected})")
    return match.group("repo"), match.group("tag")


def local_image(uri: str, step: str, table: dict[tuple[str, str], LocalImage] | None = None) -> LocalImage:
    """The local environment for ``uri``; a clear error naming the step if the table has none."""
    mapping = IMAGE_TABLE if table is None else table
    try:
        key = parse_image_uri(uri)
    except ImageError as error:
        raise ImageError(f"step {step!r}: {error}") from error
    if key not in mapping:
        known = ", ".join(f"{repo}:{tag}" for repo, tag in sorted(mapping))
        raise ImageError(f"step {step!r}: image {uri} has no local environment (mapped images: {known})")
    return mapping[key]


def is_model_monitor_analyzer(uri: object) -> bool:
    """Whether ``uri`` is SageMaker's Model Monitor analyzer image (any region, with or without a tag)."""
    return isinstance(uri, str) and bool(_ANALYZER_URI.match(uri))
