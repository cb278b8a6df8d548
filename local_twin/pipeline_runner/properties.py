"""Step properties: which ``Steps.<name>.<path>`` references exist, and their values once a step has run.

SageMaker resolves a step's properties from the Describe* response of the job the step ran (DescribeProcessingJob for
a processing step, DescribeTrainingJob for training, ...). Rather than hand-writing those response shapes, the
validator walks botocore's own service model for the same operation -- the shapes the AWS API really returns -- so a
misspelt property is rejected before anything runs, exactly as SageMaker rejects it at CreatePipeline.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape

from local_twin.pipeline_runner.expressions import ExpressionError, PathElement

# Step type → the Describe operation whose response is the step's property object.
DESCRIBE_OPERATION = {
    "Processing": "DescribeProcessingJob",
    "Training": "DescribeTrainingJob",
    "Transform": "DescribeTransformJob",
    "RegisterModel": "DescribeModelPackage",
    "Model": "DescribeModel",
}
CONDITION_PROPERTIES = frozenset({"Outcome"})
# A QualityCheck step's properties (SageMaker SDK QualityCheckStep.properties; developer guide, "Baseline calculation,
# drift detection and lifecycle with ClarifyCheck and QualityCheck steps"): S3 URIs, no Describe operation behind them.
QUALITY_CHECK_PROPERTIES = frozenset(
    {
        "CalculatedBaselineStatistics",
        "CalculatedBaselineConstraints",
        "BaselineUsedForDriftCheckStatistics",
        "BaselineUsedForDriftCheckConstraints",
    }
)

# A list property indexed by a string (``Outputs['train']``) selects the element whose name field has that value.
LIST_KEY_FIELDS = ("OutputName", "InputName", "ChannelName", "MetricName", "Name")


@cache
def _describe_shape(step_type: str) -> StructureShape:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(DESCRIBE_OPERATION[step_type]).output_shape
    if not isinstance(shape, StructureShape):  # pragma: no cover - every Describe* output is a structure
        raise TypeError(f"{DESCRIBE_OPERATION[step_type]} has no structured output")
    return shape


def validate_property_path(step_type: str, path: tuple[PathElement, ...], text: str) -> None:
    """Fail, naming the reference and the first unknown element, if ``path`` is not a property of the step type."""
    if step_type == "Condition":
        if path and path[0] in CONDITION_PROPERTIES and len(path) == 1:
            return
        raise ExpressionError(f"{text}: a Condition step has only the property Outcome")
    if step_type == "QualityCheck":
        if len(path) == 1 and path[0] in QUALITY_CHECK_PROPERTIES:
            return
        raise ExpressionError(
            f"{text}: a QualityCheck step has only the properties {', '.join(sorted(QUALITY_CHECK_PROPERTIES))}"
        )
    if step_type not in DESCRIBE_OPERATION:
        raise ExpressionError(f"{text}: a {step_type} step has no properties")
    shape: Shape = _describe_shape(step_type)
    for position, element in enumerate(path):
        where = ".".join(str(e) for e in path[: position + 1])
        if isinstance(shape, StructureShape):
            if not isinstance(element, str) or element not in shape.members:
                raise ExpressionError(
                    f"{text}: {where!r} is not a property of a {step_type} step "
                    f"({DESCRIBE_OPERATION[step_type]} has no {element!r} in {shape.name})"
                )
            shape = shape.members[element]
        elif isinstance(shape, ListShape):
            shape = shape.member
        elif isinstance(shape, MapShape):
            if not isinstance(element, str):
                raise ExpressionError(f"{text}: {where!r} indexes a map with a number")
            shape = shape.value
        else:
            raise ExpressionError(f"{text}: {where!r} goes inside a {shape.type_name} value")


def resolve_property(properties: dict[str, Any], path: tuple[PathElement, ...], text: str) -> Any:
    """The value at ``path`` in a step's (Describe-shaped) properties."""
    current: Any = properties
    for element in path:
        current = _child(current, element, text)
    return current


def _child(current: Any, element: PathElement, text: str) -> Any:
    if isinstance(current, dict) and isinstance(element, str) and element in current:
        return current[element]
    if isinstance(current, list) and isinstance(element, int) and 0 <= element < len(current):
        return current[element]
    if isinstance(current, list) and isinstance(element, str):
        for item in current:
            if isinstance(item, dict) and any(item.get(field) == element for field in LIST_KEY_FIELDS):
                return item
    raise ExpressionError(f"{text}: the step ran but has no value for {element!r}")
