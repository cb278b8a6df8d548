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
        (key, arg), = node.items()
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
    scope = {**values, **{name: resolve(value, values, conditions) for name, value in local.items()}}
    return _SUB_VARIABLE.sub(lambda match: str(_lookup(scope, match.group(1))), text)
