"""Read CloudFormation/SAM templates and resolve the few intrinsic functions the security checks need.

Templates are parsed with cfn-lint's decoder (it understands the short-form tags such as ``!Ref``). Resolution is
hand-written on purpose: no offline library evaluates intrinsics against chosen parameter values, and the checks only
need ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If``, ``Fn::Join`` and ``Fn::Select`` over values a test supplies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "template.yaml"
NETWORK_TEMPLATE = REPO_ROOT / "network.yaml"

_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


class UnresolvedError(KeyError):
    """A template value refers to something the caller gave no value for."""


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML template into plain dicts (intrinsics become ``{"Ref": ...}`` etc.)."""
    parsed = cfn_yaml.loads(path.read_text(), fname=str(path))
    if not isinstance(parsed, dict) or "Resources" not in parsed:
        raise ValueError(f"{path}: not a CloudFormation template (no Resources section)")
    return dict(parsed)


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical ID -> resource, for every resource of one type."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if isinstance(resource, dict) and resource.get("Type") == resource_type
    }


def resolve(node: Any, values: Mapping[str, Any], conditions: Mapping[str, bool] | None = None) -> Any:
    """Replace intrinsics by values: ``values`` maps a Ref name or ``"Logical.Attr"`` (GetAtt) to its value."""
    conditions = conditions or {}
    if isinstance(node, list):
        return [resolve(item, values, conditions) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Ref":
            return _lookup(values, str(arg))
        if key == "Fn::GetAtt":
            name = ".".join(arg) if isinstance(arg, list) else str(arg)
            return _lookup(values, name)
        if key == "Fn::Sub":
            return _sub(arg, values, conditions)
        if key == "Fn::If":
            condition, when_true, when_false = arg
            if condition not in conditions:
                raise UnresolvedError(f"no value for condition {condition!r}")
            return resolve(when_true if conditions[condition] else when_false, values, conditions)
        if key == "Fn::Join":
            separator, items = arg
            return separator.join(str(item) for item in resolve(items, values, conditions))
        if key == "Fn::Select":
            index, items = arg
            return resolve(items, values, conditions)[int(index)]
    return {key: resolve(value, values, conditions) for key, value in node.items()}


def _lookup(values: Mapping[str, Any], name: str) -> Any:
    if name not in values:
        raise UnresolvedError(f"no value for {name!r}")
    return values[name]


def _sub(arg: Any, values: Mapping[str, Any], conditions: Mapping[str, bool]) -> str:
    text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
    own = {name: resolve(value, values, conditions) for name, value in local.items()}

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(own[name] if name in own else _lookup(values, name))

    return _SUB_VARIABLE.sub(value_of, text)


def specialise(template: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The template as one deployment sees it: conditions decided, ``Fn::If`` resolved, parameter ``Ref``s replaced.

    Why: CloudFormation hooks (and so the Control Tower proactive controls) judge resolved properties, and cfn-guard
    rules cannot evaluate ``Fn::If``. References to resources and pseudo parameters stay as they are, so the rules'
    "refers to a KMS key in this template" checks still work. Parameters not given take their Default.
    """
    declared = template.get("Parameters", {}) or {}
    values = {
        name: spec.get("Default") for name, spec in declared.items() if isinstance(spec, dict) and "Default" in spec
    }
    values.update(parameters)
    missing = sorted(set(declared) - set(values))
    if missing:
        raise UnresolvedError(f"no value for the parameters {', '.join(missing)}")
    conditions: dict[str, bool] = {}
    for name, expression in (template.get("Conditions", {}) or {}).items():
        conditions[name] = _condition(expression, values, conditions, template.get("Conditions", {}))
    result = {key: value for key, value in template.items() if key not in ("Conditions", "Rules")}
    result["Resources"] = {
        logical_id: _specialise(resource, values, conditions)
        for logical_id, resource in template["Resources"].items()
        if "Condition" not in resource or conditions[resource["Condition"]]
    }
    if "Outputs" in template:
        result["Outputs"] = {
            name: _specialise(output, values, conditions)
            for name, output in template["Outputs"].items()
            if "Condition" not in output or conditions[output["Condition"]]
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


def _condition(
    expression: Any, parameters: Mapping[str, Any], decided: dict[str, bool], all_: Mapping[str, Any]
) -> bool:
    """Evaluate a template condition over parameter values (Fn::Equals/Not/And/Or and Condition references)."""
    ((key, arg),) = expression.items()
    if key == "Condition":
        if arg not in decided:
            decided[arg] = _condition(all_[arg], parameters, decided, all_)
        return decided[arg]
    if key == "Fn::Equals":
        left, right = (_specialise(side, parameters, decided) for side in arg)
        return str(left) == str(right)
    if key == "Fn::Not":
        return not _condition(arg[0], parameters, decided, all_)
    if key == "Fn::And":
        return all(_condition(item, parameters, decided, all_) for item in arg)
    if key == "Fn::Or":
        return any(_condition(item, parameters, decided, all_) for item in arg)
    raise UnresolvedError(f"unsupported condition function {key}")
