"""Batch deployments: one transform job per (version, input prefix), named so that the name says which.

``<prefix>-v<version>-<hash of the input prefix>-<attempt>``: the registry's highest Approved version "is deployed"
to a batch target when a job of that name Completed. A failed or stopped attempt leaves room for the next one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deployments.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

RUNNING = ("InProgress", "Stopping")


@dataclass(frozen=True)
class TransformState:
    completed: str | None  # a Completed job's name
    running: str | None  # a job still running
    attempts: int  # jobs of this (version, input), whatever their status


def job_base(resource_prefix: str, version: int, input_uri: str) -> str:
    return f"{resource_prefix}-v{version}-{hashlib.sha256(input_uri.encode()).hexdigest()[:8]}"


def transform_state(settings: Settings, version: int, input_uri: str, sagemaker: SageMakerClient) -> TransformState:
    base = job_base(settings.resource_prefix, version, input_uri)
    completed = running = None
    attempts = 0
    for page in sagemaker.get_paginator("list_transform_jobs").paginate(NameContains=f"{base}-"):
        for job in page.get("TransformJobSummaries", []):
            if not job["TransformJobName"].startswith(f"{base}-"):
                continue
            attempts += 1
            if job["TransformJobStatus"] == "Completed":
                completed = job["TransformJobName"]
            elif job["TransformJobStatus"] in RUNNING:
                running = job["TransformJobName"]
    return TransformState(completed, running, attempts)


def next_job_name(settings: Settings, version: int, input_uri: str, state: TransformState) -> str:
    return f"{job_base(settings.resource_prefix, version, input_uri)}-{state.attempts + 1}"
