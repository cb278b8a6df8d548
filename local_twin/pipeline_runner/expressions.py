"""The pipeline definition's expression language: ``Get``, ``Std:Join``, ``Std:JsonGet`` and conditions.

A definition's arguments are plain JSON in which some objects are expressions. This module finds them (so the
definition can be validated before anything runs) and evaluates them against an execution's state. It knows the
language, not the steps: property values come from an :class:`EvaluationContext` that the runner implements.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

# The execution variables SageMaker resolves (sagemaker.workflow.execution_variables).
EXECUTION_VARIABLES = frozenset(
    {
        "CurrentDateTime",
        "StartDateTime",
        "PipelineExecutionId",
        "PipelineExecutionArn",
        "PipelineName",
        "PipelineArn",
        "PipelineExperimentName",
        "PipelineExperimentTrialName",
    }
)

COMPARISONS = ("Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo")
CONDITION_TYPES = frozenset({*COMPARISONS, "In", "Not", "Or"})

# One element of a property path: ``.Name``, ``['key']`` / ``["key"]`` or ``[0]``.
_PATH_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(?:'([^']*)'|\"([^\"]*)\"|(\d+))\]")
_STEP_NAME = re.compile(r"Steps\.([^.\[]+)")


class ExpressionError(ValueError):
    """An expression is malformed, refers to something unknown, or cannot be evaluated."""


PathElement = str | int


@dataclass(frozen=True)
class Reference:
    """A ``Get`` target (or a ``Std:JsonGet`` property file), parsed.

    ``kind`` is "Parameters", "Execution", "Steps" or "PropertyFile"; for steps ``path`` is the property path
    (``["ProcessingOutputConfig", "Outputs", "train", "S3Output", "S3Uri"]``), for property files it is the file
    name and, for JsonGet, the JSON path.
    """

    kind: str
    name: str
    path: tuple[PathElement, ...]
    text: str


def parse_get(text: str) -> Reference:
    """Parse the string of a ``{"Get": ...}`` expression."""
    if text.startswith("Parameters."):
        return Reference("Parameters", text.removeprefix("Parameters."), (), text)
    if text.startswith("Execution."):
        return Reference("Execution", text.removeprefix("Execution."), (), text)
    match = _STEP_NAME.match(text)
    if not match:
        raise ExpressionError(f"Get {text!r}: expected Parameters.<name>, Execution.<name> or Steps.<step>.<property>")
    step = match.group(1)
    path = parse_property_path(text[match.end() :], text)
    if not path:
        raise ExpressionError(f"Get {text!r}: a step reference needs a property path")
    if path[0] == "PropertyFiles":
        if len(path) != 2 or not isinstance(path[1], str):
            raise ExpressionError(f"Get {text!r}: expected Steps.<step>.PropertyFiles.<name>")
        return Reference("PropertyFile", step, (path[1],), text)
    return Reference("Steps", step, path, text)


def parse_property_path(rest: str, text: str) -> tuple[PathElement, ...]:
    """``.A.B['k'][0]`` → ``("A", "B", "k", 0)``; anything else is an error naming the whole reference."""
    elements: list[PathElement] = []
    position = 0
    while position < len(rest):
        match = _PATH_TOKEN.match(rest, position)
        if not match or match.end() == position:
            raise ExpressionError(f"Get {text!r}: cannot parse the property path at {rest[position:]!r}")
        name, single, double, index = match.groups()
        if name is not None:
            if not match.group(0).startswith("."):
                raise ExpressionError(f"Get {text!r}: expected '.' before {name!r}")
            elements.append(name)
        elif index is not None:
            elements.append(int(index))
        else:
            elements.append(single if single is not None else double)
        position = match.end()
    return tuple(elements)


def references(node: Any) -> Iterator[Reference]:
    """Every reference inside a JSON value (arguments, conditions, error messages)."""
    if isinstance(node, dict):
        if set(node) == {"Get"} and isinstance(node["Get"], str):
            yield parse_get(node["Get"])
            return
        if set(node) == {"Std:JsonGet"}:
            yield _json_get_reference(node["Std:JsonGet"])
            return
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def _json_get_reference(spec: Any) -> Reference:
    if not isinstance(spec, dict) or "Path" not in spec:
        raise ExpressionError(f"Std:JsonGet needs PropertyFile and Path: {json.dumps(spec)}")
    target = spec.get("PropertyFile")
    if not (isinstance(target, dict) and isinstance(target.get("Get"), str)):
        raise ExpressionError(
            f"Std:JsonGet: only the PropertyFile form ({{'Get': 'Steps.<step>.PropertyFiles.<name>'}}) is supported "
            f"locally: {json.dumps(spec)}"
        )
    reference = parse_get(target["Get"])
    if reference.kind != "PropertyFile":
        raise ExpressionError(f"Std:JsonGet PropertyFile must be Steps.<step>.PropertyFiles.<name>: {target['Get']!r}")
    return Reference("PropertyFile", reference.name, (reference.path[0], str(spec["Path"])), reference.text)


class EvaluationContext(Protocol):
    """What an expression needs from a running execution."""

    def parameter(self, name: str) -> Any: ...

    def execution_variable(self, name: str) -> Any: ...

    def step_property(self, step: str, path: tuple[PathElement, ...], text: str) -> Any: ...

    def property_file(self, step: str, file_name: str) -> Any: ...


def evaluate(node: Any, context: EvaluationContext) -> Any:
    """The JSON value with every expression replaced by its value."""
    if isinstance(node, dict):
        if set(node) == {"Get"} and isinstance(node["Get"], str):
            return _get(parse_get(node["Get"]), context)
        if set(node) == {"Std:Join"}:
            return _join(node["Std:Join"], context)
        if set(node) == {"Std:JsonGet"}:
            reference = _json_get_reference(node["Std:JsonGet"])
            document = context.property_file(reference.name, str(reference.path[0]))
            return json_path_get(document, str(reference.path[1]), reference.text)
        return {key: evaluate(value, context) for key, value in node.items()}
    if isinstance(node, list):
        return [evaluate(item, context) for item in node]
    return node


def _get(reference: Reference, context: EvaluationContext) -> Any:
    if reference.kind == "Parameters":
        return context.parameter(reference.name)
    if reference.kind == "Execution":
        return context.execution_variable(reference.name)
    if reference.kind == "PropertyFile":
        raise ExpressionError(f"{reference.text}: a property file can only be read through Std:JsonGet")
    return context.step_property(reference.name, reference.path, reference.text)


def _join(spec: Any, context: EvaluationContext) -> str:
    if not isinstance(spec, dict) or not isinstance(spec.get("Values"), list):
        raise ExpressionError(f"Std:Join needs On and a list of Values: {json.dumps(spec)}")
    values = [evaluate(value, context) for value in spec["Values"]]
    return str(spec.get("On", "")).join(_as_text(value) for value in values)


def _as_text(value: Any) -> str:
    """How SageMaker prints a value inside Std:Join (JSON spelling for booleans and null)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


def json_path_get(document: Any, path: str, text: str) -> Any:
    """The value at a JsonGet path: dotted names and ``[index]``, as the SDK's JsonGet documents it."""
    current = document
    for element in parse_property_path("." + path, f"{text} Path {path!r}"):
        try:
            current = current[element]
        except (KeyError, IndexError, TypeError) as error:
            raise ExpressionError(f"Std:JsonGet {text} Path {path!r}: no {element!r} in the property file") from error
    return current


def evaluate_condition(condition: Any, context: EvaluationContext) -> bool:
    """One entry of a ConditionStep's ``Conditions`` (the step's outcome is the AND of all of them)."""
    kind = condition.get("Type") if isinstance(condition, dict) else None
    if kind in COMPARISONS:
        left = evaluate(condition["LeftValue"], context)
        right = evaluate(condition["RightValue"], context)
        return _compare(kind, left, right)
    if kind == "In":
        query = evaluate(condition["QueryValue"], context)
        return any(_compare("Equals", query, evaluate(value, context)) for value in condition["Values"])
    if kind == "Not":
        return not evaluate_condition(condition["Condition"], context)
    if kind == "Or":
        return any(evaluate_condition(inner, context) for inner in condition["Conditions"])
    raise ExpressionError(f"unsupported condition type {kind!r}; supported: {', '.join(sorted(CONDITION_TYPES))}")


def _compare(kind: str, left: Any, right: Any) -> bool:
    left, right = _comparable(left, right)
    try:
        if kind == "Equals":
            return bool(left == right)
        if kind == "GreaterThan":
            return bool(left > right)
        if kind == "GreaterThanOrEqualTo":
            return bool(left >= right)
        if kind == "LessThan":
            return bool(left < right)
        return bool(left <= right)
    except TypeError as error:
        raise ExpressionError(f"condition {kind}: cannot compare {left!r} with {right!r}") from error


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Numbers compare as numbers even when one side is a numeric string (a parameter or a JSON value)."""
    if isinstance(left, int | float) and not isinstance(left, bool) and isinstance(right, str):
        return left, _number(right)
    if isinstance(right, int | float) and not isinstance(right, bool) and isinstance(left, str):
        return _number(left), right
    return left, right


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def condition_parts(condition: Any, where: str) -> Iterator[Any]:
    """The operands of a condition (for validation), failing on an unknown type."""
    kind = condition.get("Type") if isinstance(condition, dict) else None
    if kind not in CONDITION_TYPES:
        raise ExpressionError(
            f"{where}: unsupported condition type {kind!r}; supported: {', '.join(sorted(CONDITION_TYPES))}"
        )
    if kind in COMPARISONS:
        yield condition.get("LeftValue")
        yield condition.get("RightValue")
    elif kind == "In":
        yield condition.get("QueryValue")
        yield condition.get("Values")
    elif kind == "Not":
        yield from condition_parts(condition.get("Condition"), where)
    else:
        for inner in condition.get("Conditions", []):
            yield from condition_parts(inner, where)
