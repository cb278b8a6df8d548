"""Read template.yaml and resolve what the emulator needs from it, for a given set of values.

The tests and ``make local`` create the state machine from the ASL file with the template's own
DefinitionSubstitutions, and dispatch Lambda invocations to the template's own Handler with the template's own
environment, so nothing can drift between what is tested and what deploys.

Parsing is PyYAML's safe loader plus CloudFormation's short-form tags (``!Ref``/``!GetAtt``/``!Sub``... into their long
forms). cfn-lint's decoder did the same, but importing it loads all of cfn-lint (sympy included): ~3 s of CPU on every
``make local``, measured by ``make bench``; both give identical results for template.yaml and network.yaml. Resolving
is hand-written and small on purpose: no library evaluates intrinsics offline against values the caller chooses
(physical names, ARNs of resources that only exist in the emulator). It covers the intrinsics this template uses
and fails, naming the intrinsic, on anything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
NETWORK_TEMPLATE_PATH = REPO_ROOT / "network.yaml"
SUB_PATTERN = re.compile(r"\$\{([^}!][^}]*)\}")


class _NoValue:
    """``!Ref AWS::NoValue``: the property or list element it stands for is removed, as CloudFormation does."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class TemplateError(ValueError):
    """The template uses something this resolver does not know, or a value is missing."""


class _CfnLoader(yaml.SafeLoader):
    """Safe YAML plus the short-form intrinsic tags: ``!Ref x`` → ``{"Ref": "x"}``, ``!Sub s`` → ``{"Fn::Sub": s}``,
    ``!GetAtt A.B`` → ``{"Fn::GetAtt": ["A", "B"]}``, ``!Condition c`` → ``{"Condition": "c"}``."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {key: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain dicts and lists, intrinsics in long form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``)."""
    parsed: dict[str, Any] = _plain(yaml.load(path.read_text(), Loader=_CfnLoader))  # _CfnLoader is a SafeLoader
    return parsed


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


@dataclass
class TemplateValues:
    """What the intrinsics resolve to.

    ``parameters`` override the template's defaults; ``refs`` are what ``!Ref <resource>`` gives (physical names) and
    ``attributes`` what ``!GetAtt <resource>.<attribute>`` gives, keyed ``"Logical.Attribute"``.
    """

    region: str = "us-east-1"
    account_id: str = "123456789012"
    stack_name: str = "abalone-mlops"
    partition: str = "aws"
    parameters: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    # Conditions decided by the caller instead of evaluated (the security checks judge e.g. every branch at once).
    conditions: dict[str, bool] = field(default_factory=dict)
    # A value for any other !Ref/!GetAtt name ("Logical.Attribute"); None: such a reference is an error.
    placeholder: Callable[[str], str] | None = None


class Resolver:
    """Evaluate intrinsics of one template for one set of values."""

    def __init__(self, template: Mapping[str, Any], values: TemplateValues) -> None:
        self.template = template
        self.values = values
        self.parameters: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            if name in values.parameters:
                self.parameters[name] = values.parameters[name]
            elif "Default" in spec:
                self.parameters[name] = spec["Default"]
        unknown = set(values.parameters) - set(template.get("Parameters", {}))
        if unknown:
            raise TemplateError(f"values for parameters the template does not declare: {sorted(unknown)}")

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.values.region,
            "AWS::AccountId": self.values.account_id,
            "AWS::StackName": self.values.stack_name,
            "AWS::Partition": self.values.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.values.refs:
            return self.values.refs[name]
        if name in self.template.get("Parameters", {}):
            raise TemplateError(f"parameter {name} has no default and no value was given")
        if self.values.placeholder is not None:
            return self.values.placeholder(name)
        raise TemplateError(f"no value for !Ref {name} (give it in TemplateValues.refs)")

    def get_att(self, logical_id: str, attribute: str) -> str:
        key = f"{logical_id}.{attribute}"
        if key not in self.values.attributes and self.values.placeholder is not None:
            return self.values.placeholder(key)
        if key not in self.values.attributes:
            raise TemplateError(f"no value for !GetAtt {key} (give it in TemplateValues.attributes)")
        return self.values.attributes[key]

    def condition(self, name: str) -> bool:
        if name in self.values.conditions:
            return self.values.conditions[name]
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(conditions[name]))

    def sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return str(self.ref(name))

        return SUB_PATTERN.sub(replace, text)

    def resolve(self, node: Any) -> Any:  # noqa: C901 - one branch per intrinsic reads best here
        if isinstance(node, list):
            return [value for value in (self.resolve(item) for item in node) if value is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Ref", "Fn::", "Condition")):
            resolved = {key: self.resolve(value) for key, value in node.items()}
            return {key: value for key, value in resolved.items() if value is not NO_VALUE}
        ((key, arg),) = node.items()
        if key == "Ref":
            return self.ref(arg)
        if key == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical_id, attribute)
        if key == "Fn::Sub":
            if isinstance(arg, list):
                return self.sub(arg[0], {k: self.resolve(v) for k, v in arg[1].items()})
            return self.sub(arg, {})
        if key == "Fn::Join":
            return str(arg[0]).join(str(v) for v in self._as_list(self.resolve(arg[1])))
        if key == "Fn::Split":
            return str(self.resolve(arg[1])).split(arg[0])
        if key == "Fn::Select":
            return self._as_list(self.resolve(arg[1]))[int(self.resolve(arg[0]))]
        if key == "Fn::If":
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(a) for a in arg)
        if key == "Fn::Or":
            return any(self.resolve(a) for a in arg)
        if key == "Condition":
            return self.condition(arg)
        raise TemplateError(f"intrinsic {key} is not supported by cfn.template")

    @staticmethod
    def _as_list(value: Any) -> list[Any]:
        if isinstance(value, list):
            return value
        if isinstance(value, str):
            return value.split(",") if value else []
        raise TemplateError(f"expected a list, got {value!r}")


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical ID -> resource, for every resource of one type."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if isinstance(resource, dict) and resource.get("Type") == resource_type
    }


def specialise(template: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The template as one deployment sees it: conditions decided, ``Fn::If`` resolved, parameter ``Ref``s replaced.

    Why (the security gates): CloudFormation hooks, and so the Control Tower proactive controls, judge resolved
    properties, and cfn-guard rules cannot evaluate ``Fn::If``. References to resources and pseudo parameters stay as
    they are, so rules like "refers to a KMS key in this template" still work. Parameters not given take their Default.
    """
    declared = template.get("Parameters", {}) or {}
    missing = sorted(name for name, spec in declared.items() if name not in parameters and "Default" not in spec)
    if missing:
        raise TemplateError(f"no value for the parameters {', '.join(missing)}")
    resolver = Resolver(template, TemplateValues(parameters={k: v for k, v in parameters.items() if k in declared}))
    conditions = {name: resolver.condition(name) for name in template.get("Conditions", {}) or {}}

    def keep(node: Mapping[str, Any]) -> bool:
        return "Condition" not in node or conditions[node["Condition"]]

    result = {key: value for key, value in template.items() if key not in ("Conditions", "Rules")}
    for section in ("Resources", "Outputs"):
        if section in template:
            result[section] = {
                name: _specialise(node, resolver.parameters, conditions)
                for name, node in template[section].items()
                if keep(node)
            }
    return result


def _specialise(node: Any, parameters: Mapping[str, Any], conditions: Mapping[str, bool]) -> Any:
    if isinstance(node, list):
        return [_specialise(item, parameters, conditions) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Ref" and arg in parameters:
            return parameters[arg]
        if key == "Fn::If":
            condition, when_true, when_false = arg
            return _specialise(when_true if conditions[condition] else when_false, parameters, conditions)
    return {key: _specialise(value, parameters, conditions) for key, value in node.items()}


@dataclass(frozen=True)
class FunctionConfig:
    """One function as SAM deploys it: its properties with Globals merged, resolved."""

    logical_id: str
    handler: str
    runtime: str
    timeout: int
    environment: dict[str, str]
    memory_mb: int = 128
    log_format: str = "Text"
    layers: tuple[str, ...] = ()  # what each Layers entry resolves to (a layer ARN, or a template layer's Ref)
    dead_letter_arn: str | None = None
    max_retry_attempts: int = 2  # EventInvokeConfig; Lambda's defaults
    max_event_age_seconds: int = 21600


def function_ids(template: Mapping[str, Any]) -> list[str]:
    return [k for k, v in template["Resources"].items() if v.get("Type") == "AWS::Serverless::Function"]


def function_config(template: Mapping[str, Any], logical_id: str, values: TemplateValues) -> FunctionConfig:
    """A function's properties, merged with Globals as SAM merges them (maps merged, lists with the global entries
    first, other values replaced), then resolved."""
    resource = template["Resources"].get(logical_id)
    if resource is None or resource.get("Type") != "AWS::Serverless::Function":
        raise TemplateError(f"{logical_id} is not an AWS::Serverless::Function of the template")
    resolver = Resolver(template, values)
    globals_ = template.get("Globals", {}).get("Function", {})
    props = resource["Properties"]
    env = {
        **globals_.get("Environment", {}).get("Variables", {}),
        **props.get("Environment", {}).get("Variables", {}),
    }
    resolved_env = {name: resolver.resolve(value) for name, value in env.items()}
    layers = [*globals_.get("Layers", []), *props.get("Layers", [])]
    invoke_config = resolver.resolve(props.get("EventInvokeConfig", globals_.get("EventInvokeConfig", {})))
    dead_letter = resolver.resolve(props.get("DeadLetterQueue", globals_.get("DeadLetterQueue", {})))
    logging = resolver.resolve(props.get("LoggingConfig", globals_.get("LoggingConfig", {})))
    return FunctionConfig(
        logical_id=logical_id,
        handler=props["Handler"],
        runtime=props.get("Runtime", globals_.get("Runtime", "")),
        timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
        environment={name: str(value) for name, value in resolved_env.items() if value is not NO_VALUE},
        memory_mb=int(resolver.resolve(props.get("MemorySize", globals_.get("MemorySize", 128)))),
        log_format=str(logging.get("LogFormat", "Text")),
        layers=tuple(str(layer) for layer in resolver.resolve(layers)),
        dead_letter_arn=dead_letter.get("TargetArn"),
        max_retry_attempts=int(invoke_config.get("MaximumRetryAttempts", 2)),
        max_event_age_seconds=int(invoke_config.get("MaximumEventAgeInSeconds", 21600)),
    )


def state_machine_substitutions(template: Mapping[str, Any], logical_id: str, values: TemplateValues) -> dict[str, str]:
    props = template["Resources"][logical_id]["Properties"]
    resolver = Resolver(template, values)
    return {name: str(resolver.resolve(value)) for name, value in props.get("DefinitionSubstitutions", {}).items()}


def state_machine_definition(
    template: Mapping[str, Any], logical_id: str, values: TemplateValues, root: Path = REPO_ROOT
) -> str:
    """The ASL file named by DefinitionS3Location (a local path `sam package` uploads) with the template's
    DefinitionSubstitutions applied, as CloudFormation does: every ``${Key}`` replaced by its value; a token without a
    substitution is an error here (CloudFormation would leave it and the state machine would fail at run time)."""
    props = template["Resources"][logical_id]["Properties"]
    text = (root / props["DefinitionS3Location"]).read_text()
    substitutions = state_machine_substitutions(template, logical_id, values)
    missing = sorted(set(SUB_PATTERN.findall(text)) - set(substitutions))
    if missing:
        raise TemplateError(f"{props['DefinitionS3Location']} uses tokens with no DefinitionSubstitution: {missing}")
    return SUB_PATTERN.sub(lambda m: substitutions[m.group(1)], text)


def asl_tokens(template: Mapping[str, Any], logical_id: str, root: Path = REPO_ROOT) -> set[str]:
    props = template["Resources"][logical_id]["Properties"]
    return set(SUB_PATTERN.findall((root / props["DefinitionS3Location"]).read_text()))


def rule_pattern(template: Mapping[str, Any], logical_id: str, values: TemplateValues) -> dict[str, Any]:
    """An EventBridge rule's EventPattern, resolved (e.g. the model package group filled in)."""
    pattern: dict[str, Any] = Resolver(template, values).resolve(
        template["Resources"][logical_id]["Properties"]["EventPattern"]
    )
    return pattern
