"""Execute a rendered SageMaker Pipeline definition on one machine: no Docker, no AWS account.

See runner.py for the public API and docs/pipeline.md for what is supported.
"""

from local_twin.pipeline_runner.definition import DefinitionError, PipelineDefinition, parse_definition
from local_twin.pipeline_runner.runner import ExecutionResult, PipelineRunner, StepRecord
from local_twin.storage import LocalDirectoryStore, ObjectStore, S3Store

__all__ = [
    "DefinitionError",
    "ExecutionResult",
    "LocalDirectoryStore",
    "ObjectStore",
    "PipelineDefinition",
    "PipelineRunner",
    "S3Store",
    "StepRecord",
    "parse_definition",
]
