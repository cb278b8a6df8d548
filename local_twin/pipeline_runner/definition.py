"""Parse and validate a pipeline definition (the SDK's ``Pipeline.definition()`` JSON) before anything runs.

Everything that SageMaker would reject at CreatePipeline / StartPipelineExecution, and everything this runner cannot
execute, is found here, with the step and the problem named: unsupported step types, references to unknown
parameters, steps, properties or property files, unknown condition types, dependency cycles, unmapped images.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from local_twin.images import ImageError, is_model_monitor_analyzer, local_image
from local_twin.pipeline_runner.expressions import (
    EXECUTION_VARIABLES,
    ExpressionError,
    Reference,
    condition_parts,
    references,
)
from local_twin.pipeline_runner.properties import validate_property_path

SUPPORTED_STEP_TYPES = (
    "Processing",
    "Training",
    "Condition",
    "RegisterModel",
    "Model",
    "Transform",
    "Fail",
    "QualityCheck",
)
# A QualityCheck step's fields beside its Arguments (the SageMaker SDK's QualityCheckStep.to_request); they may hold
# expressions ({"Get": "Parameters.X"}) and are evaluated when the step runs.
QUALITY_CHECK_FIELDS = (
    "CheckType",
    "ModelPackageGroupName",
    "SkipCheck",
    "FailOnViolation",
    "RegisterNewBaseline",
    "SuppliedBaselineStatistics",
    "SuppliedBaselineConstraints",
)
QUALITY_CHECK_TYPES = ("DATA_QUALITY",)  # MODEL_QUALITY needs ground truth merging, not emulated
PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")

ParameterValue = str | int | float | bool


class DefinitionError(ValueError):
    """The definition (or the parameters given for an execution) cannot be run; the message says what and where."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: ParameterValue | None

    def coerce(self, value: ParameterValue) -> ParameterValue:
        """A value given for this parameter (a string from the CLI or the API, or a typed value) in its type."""
        try:
            if self.type == "Integer":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError(value)
                return int(value)
            if self.type == "Float":
                return float(value)
            if self.type == "Boolean":
                return _boolean(value)
        except (TypeError, ValueError) as error:
            message = f"parameter {self.name} ({self.type}): {value!r} is not a valid {self.type}"
            raise DefinitionError(message) from error
        return str(value)


def _boolean(value: ParameterValue) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(value)


@dataclass(frozen=True)
class PropertyFileSpec:
    name: str
    output_name: str
    file_path: str


@dataclass(frozen=True)
class StepSpec:
    """One step; ``branch_of`` is ``(condition step, "if" | "else")`` for a step inside a condition's branch."""

    name: str
    type: str
    arguments: dict[str, Any]
    depends_on: tuple[str, ...]
    property_files: dict[str, PropertyFileSpec]
    branch_of: tuple[str, str] | None
    if_steps: tuple[str, ...] = ()
    else_steps: tuple[str, ...] = ()
    display_name: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # a QualityCheck step's QUALITY_CHECK_FIELDS


@dataclass(frozen=True)
class PipelineDefinition:
    parameters: dict[str, Parameter]
    steps: dict[str, StepSpec]
    # step → the steps it waits for: DependsOn, data dependencies, and the condition that gates its branch
    upstream: dict[str, frozenset[str]] = field(default_factory=dict)

    def resolve_parameters(self, given: Mapping[str, ParameterValue]) -> dict[str, ParameterValue]:
        """Defaults overlaid with ``given``, typed; an unknown name or a missing required value is an error."""
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            raise DefinitionError(
                f"unknown pipeline parameter(s): {', '.join(unknown)}; the definition has: "
                f"{', '.join(sorted(self.parameters))}"
            )
        resolved: dict[str, ParameterValue] = {}
        for name, parameter in self.parameters.items():
            if name in given:
                resolved[name] = parameter.coerce(given[name])
            elif parameter.default is not None:
                resolved[name] = parameter.coerce(parameter.default)
            else:
                raise DefinitionError(f"parameter {name} has no default value and was not given")
        return resolved


def parse_definition(document: str | Mapping[str, Any]) -> PipelineDefinition:
    """Parse and validate a whole definition; raise :class:`DefinitionError` on the first problem found."""
    data = json.loads(document) if isinstance(document, str) else document
    if not isinstance(data, Mapping) or not isinstance(data.get("Steps"), list):
        raise DefinitionError("a pipeline definition is a JSON object with a Steps list")
    parameters = _parse_parameters(data.get("Parameters", []))
    steps: dict[str, StepSpec] = {}
    for raw in data["Steps"]:
        _collect_step(raw, None, steps)
    upstream = {name: _upstream(step, steps) for name, step in steps.items()}
    for step in steps.values():
        _validate_step(step, steps, parameters)
    _check_acyclic(upstream)
    return PipelineDefinition(parameters=parameters, steps=steps, upstream=upstream)


def _parse_parameters(raw: Any) -> dict[str, Parameter]:
    if not isinstance(raw, list):
        raise DefinitionError("Parameters must be a list")
    parameters: dict[str, Parameter] = {}
    for entry in raw:
        name, kind = entry.get("Name"), entry.get("Type", "String")
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"a parameter has no Name: {json.dumps(entry)}")
        if kind not in PARAMETER_TYPES:
            supported = ", ".join(PARAMETER_TYPES)
            raise DefinitionError(f"parameter {name}: unsupported type {kind!r}; supported: {supported}")
        if name in parameters:
            raise DefinitionError(f"parameter {name} is defined twice")
        parameter = Parameter(name, kind, entry.get("DefaultValue"))
        if parameter.default is not None:
            parameter.coerce(parameter.default)
        parameters[name] = parameter
    return parameters


def _collect_step(raw: Any, branch_of: tuple[str, str] | None, steps: dict[str, StepSpec]) -> None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("Name"), str):
        raise DefinitionError(f"a step has no Name: {json.dumps(raw)[:200]}")
    name, kind = raw["Name"], raw.get("Type")
    if kind not in SUPPORTED_STEP_TYPES:
        raise DefinitionError(
            f"step {name!r}: step type {kind!r} is not supported locally; supported: {', '.join(SUPPORTED_STEP_TYPES)}"
        )
    if name in steps:
        raise DefinitionError(f"step {name!r} is defined twice")
    arguments = raw.get("Arguments", {})
    if not isinstance(arguments, dict):
        raise DefinitionError(f"step {name!r}: Arguments must be an object")
    files = {}
    for entry in raw.get("PropertyFiles", []):
        spec = PropertyFileSpec(entry["PropertyFileName"], entry["OutputName"], entry["FilePath"])
        files[spec.name] = spec
    if_raw = arguments.get("IfSteps", []) if kind == "Condition" else []
    else_raw = arguments.get("ElseSteps", []) if kind == "Condition" else []
    steps[name] = StepSpec(
        name=name,
        type=kind,
        arguments=arguments,
        depends_on=tuple(raw.get("DependsOn", [])),
        property_files=files,
        branch_of=branch_of,
        if_steps=tuple(s.get("Name", "") for s in if_raw),
        else_steps=tuple(s.get("Name", "") for s in else_raw),
        display_name=raw.get("DisplayName"),
        attributes={k: raw[k] for k in QUALITY_CHECK_FIELDS if k in raw} if kind == "QualityCheck" else {},
    )
    for nested in if_raw:
        _collect_step(nested, (name, "if"), steps)
    for nested in else_raw:
        _collect_step(nested, (name, "else"), steps)


def _own_expressions(step: StepSpec) -> Any:
    """The parts of a step that hold its expressions (a condition's branches are steps of their own)."""
    if step.type == "Condition":
        return step.arguments.get("Conditions", [])
    if step.type == "QualityCheck":
        return [step.arguments, step.attributes]
    return step.arguments


def _step_references(step: StepSpec) -> Iterator[Reference]:
    try:
        yield from references(_own_expressions(step))
    except ExpressionError as error:
        raise DefinitionError(f"step {step.name!r}: {error}") from error


def _upstream(step: StepSpec, steps: Mapping[str, StepSpec]) -> frozenset[str]:
    names = set(step.depends_on)
    names.update(ref.name for ref in _step_references(step) if ref.kind in ("Steps", "PropertyFile"))
    if step.branch_of is not None:
        names.add(step.branch_of[0])
    return frozenset(names)


def _validate_step(step: StepSpec, steps: Mapping[str, StepSpec], parameters: Mapping[str, Parameter]) -> None:
    for name in step.depends_on:
        if name not in steps:
            raise DefinitionError(f"step {step.name!r}: DependsOn names unknown step {name!r}")
    for ref in _step_references(step):
        _validate_reference(step, ref, steps, parameters)
    if step.type == "Condition":
        conditions = step.arguments.get("Conditions")
        if not isinstance(conditions, list) or not conditions:
            raise DefinitionError(f"step {step.name!r}: a Condition step needs a non-empty Conditions list")
        for condition in conditions:
            try:
                list(condition_parts(condition, f"step {step.name!r}"))
            except ExpressionError as error:
                raise DefinitionError(str(error)) from error
    elif step.type == "Fail" and "ErrorMessage" not in step.arguments:
        raise DefinitionError(f"step {step.name!r}: a Fail step needs an ErrorMessage")
    _validate_runnable(step)


def _validate_reference(
    step: StepSpec, ref: Reference, steps: Mapping[str, StepSpec], parameters: Mapping[str, Parameter]
) -> None:
    where = f"step {step.name!r}"
    if ref.kind == "Parameters" and ref.name not in parameters:
        raise DefinitionError(f"{where}: {ref.text} refers to an unknown parameter {ref.name!r}")
    if ref.kind == "Execution" and ref.name not in EXECUTION_VARIABLES:
        raise DefinitionError(f"{where}: {ref.text} is not an execution variable")
    if ref.kind not in ("Steps", "PropertyFile"):
        return
    target = steps.get(ref.name)
    if target is None:
        raise DefinitionError(f"{where}: {ref.text} refers to an unknown step {ref.name!r}")
    if ref.kind == "PropertyFile":
        if ref.path[0] not in target.property_files:
            raise DefinitionError(f"{where}: {ref.text}: step {ref.name!r} has no property file {ref.path[0]!r}")
        return
    try:
        validate_property_path(target.type, ref.path, ref.text)
    except ExpressionError as error:
        raise DefinitionError(f"{where}: {error}") from error


def _validate_runnable(step: StepSpec) -> None:
    """What this runner cannot execute, found before anything runs (a literal image must be mapped)."""
    arguments = step.arguments
    image: Any = None
    if step.type == "Processing":
        image = arguments.get("AppSpecification", {}).get("ImageUri")
        for entry in arguments.get("ProcessingInputs", []):
            s3_input = entry.get("S3Input")
            if s3_input is None:
                raise DefinitionError(f"step {step.name!r}: input {entry.get('InputName')!r} is not an S3Input")
            if s3_input.get("S3DataType", "S3Prefix") != "S3Prefix" or s3_input.get("S3InputMode", "File") != "File":
                raise DefinitionError(
                    f"step {step.name!r}: input {entry.get('InputName')!r}: "
                    "only S3Prefix inputs in File mode run locally"
                )
        for spec in step.property_files.values():
            outputs = [o.get("OutputName") for o in arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])]
            if spec.output_name not in outputs:
                raise DefinitionError(
                    f"step {step.name!r}: property file {spec.name!r} reads output {spec.output_name!r}, "
                    f"which the step does not have"
                )
    elif step.type == "QualityCheck":
        _validate_quality_check(step)
    elif step.type == "Training":
        algorithm = arguments.get("AlgorithmSpecification", {})
        image = algorithm.get("TrainingImage")
        if algorithm.get("TrainingInputMode", "File") != "File":
            raise DefinitionError(f"step {step.name!r}: only TrainingInputMode File runs locally")
        hyperparameters = arguments.get("HyperParameters", {})
        missing = [k for k in ("sagemaker_program", "sagemaker_submit_directory") if k not in hyperparameters]
        if missing:
            raise DefinitionError(
                f"step {step.name!r}: only script-mode training runs locally; hyperparameters lack {', '.join(missing)}"
            )
    if isinstance(image, str):
        try:
            local_image(image, step.name)
        except ImageError as error:
            raise DefinitionError(str(error)) from error


def _validate_quality_check(step: StepSpec) -> None:
    """A QualityCheck runs locally as a data-quality check of S3 File inputs by the analyzer's stand-in."""
    where = f"step {step.name!r}"
    check = step.attributes.get("CheckType")
    if check not in QUALITY_CHECK_TYPES:
        supported = ", ".join(QUALITY_CHECK_TYPES)
        raise DefinitionError(f"{where}: CheckType {check!r} is not run locally; supported: {supported}")
    image = step.arguments.get("AppSpecification", {}).get("ImageUri")
    if isinstance(image, str) and not is_model_monitor_analyzer(image):
        raise DefinitionError(
            f"{where}: a QualityCheck step runs the Model Monitor analyzer image "
            f"(<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-model-monitor-analyzer), not {image}"
        )
    for entry in step.arguments.get("ProcessingInputs", []):
        s3_input = entry.get("S3Input") or {}
        if s3_input.get("S3DataType", "S3Prefix") != "S3Prefix" or s3_input.get("S3InputMode", "File") != "File":
            raise DefinitionError(
                f"{where}: input {entry.get('InputName')!r}: only S3Prefix inputs in File mode run locally"
            )


def _check_acyclic(upstream: Mapping[str, frozenset[str]]) -> None:
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = trail[trail.index(name) :] + [name]
            raise DefinitionError(f"the steps depend on each other in a cycle: {' -> '.join(cycle)}")
        state[name] = 1
        for parent in sorted(upstream[name]):
            visit(parent, [*trail, name])
        state[name] = 2

    for name in sorted(upstream):
        visit(name, [])
