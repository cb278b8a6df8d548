"""The deploy-time tokens of the rendered pipeline definition, and the one function that fills them.

The definition is rendered offline at build time (ml_code/render.py), so nothing account-specific can be in it.
Those values appear as ``{{Name}}`` tokens instead. They are filled at deploy time by the upsert Lambda (in AWS) and
by the local pipeline runner (on a laptop) -- both import this module, so there is one implementation of the
filling. It is standard-library only: it ships inside a Lambda package, where the SageMaker SDK must not.

Tokens:

===================== ======= =====================================================================================
Token                 Kind    Filled with
===================== ======= =====================================================================================
ExecutionRoleArn      string  the SageMaker execution role every job runs as
ArtifactsBucket       string  the project's artifacts bucket (code, data, models, reports)
KmsKeyArn             string  the project's KMS key: job volumes, job outputs, model artifacts
ModelPackageGroupName string  the Model Registry group that receives registered models
XGBoostImageUri       string  the regional URI of the SageMaker XGBoost framework image (build/image-uris.json)
ModelMonitorImageUri  string  the regional URI of the Model Monitor analyzer image (build/image-uris.json)
SubnetIds             list    private subnets (spliced into the list that holds the token)
SecurityGroupIds      list    security groups (spliced into the list that holds the token)
===================== ======= =====================================================================================

A string token may be part of a longer string (``s3://{{ArtifactsBucket}}/code/...``); a list token must be a whole
element of a JSON list, which it is replaced by (``["{{SubnetIds}}"]`` becomes ``["subnet-a", "subnet-b"]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TOKEN_PATTERN = re.compile(r"\{\{([A-Za-z][A-Za-z0-9]*)\}\}")

STRING_TOKENS = (
    "ExecutionRoleArn",
    "ArtifactsBucket",
    "KmsKeyArn",
    "ModelPackageGroupName",
    "XGBoostImageUri",
    "ModelMonitorImageUri",
)
LIST_TOKENS = ("SubnetIds", "SecurityGroupIds")
ALL_TOKENS = STRING_TOKENS + LIST_TOKENS


def token(name: str) -> str:
    """The placeholder text for a token, as the renderer writes it."""
    if name not in ALL_TOKENS:
        raise ValueError(f"unknown deploy token {name!r}; known tokens: {', '.join(ALL_TOKENS)}")
    return "{{" + name + "}}"


class TokenError(ValueError):
    """The definition's tokens and the values given do not fit together."""


@dataclass(frozen=True)
class DeployValues:
    """The account-specific values a definition is filled with."""

    execution_role_arn: str
    artifacts_bucket: str
    kms_key_arn: str
    model_package_group_name: str
    xgboost_image_uri: str
    model_monitor_image_uri: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        empty = [name for name, value in self.as_tokens().items() if not value]
        if empty:
            raise TokenError(f"deploy values are empty for: {', '.join(sorted(empty))}")
        for name, values in (("SubnetIds", self.subnet_ids), ("SecurityGroupIds", self.security_group_ids)):
            blank = [v for v in values if not v.strip()]
            if blank:
                raise TokenError(f"{name} contains a blank entry: {list(values)!r}")

    def as_tokens(self) -> dict[str, str | tuple[str, ...]]:
        return {
            "ExecutionRoleArn": self.execution_role_arn,
            "ArtifactsBucket": self.artifacts_bucket,
            "KmsKeyArn": self.kms_key_arn,
            "ModelPackageGroupName": self.model_package_group_name,
            "XGBoostImageUri": self.xgboost_image_uri,
            "ModelMonitorImageUri": self.model_monitor_image_uri,
            "SubnetIds": self.subnet_ids,
            "SecurityGroupIds": self.security_group_ids,
        }


def tokens_in(definition: Any) -> set[str]:
    """Every token name that occurs anywhere in a definition (a JSON string or its parsed form)."""
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return set(TOKEN_PATTERN.findall(text))


def fill_definition(definition: str | Mapping[str, Any], values: DeployValues) -> dict[str, Any]:
    """Return the definition with every token replaced; fail, naming the token, if one is unknown or misplaced."""
    # A JSON round trip copies a parsed definition, so the caller's object is never modified.
    text = definition if isinstance(definition, str) else json.dumps(definition)
    parsed: dict[str, Any] = json.loads(text)
    unknown = tokens_in(parsed) - set(ALL_TOKENS)
    if unknown:
        raise TokenError(f"the definition has unknown tokens: {', '.join(sorted(unknown))}")
    filled = _fill(parsed, values.as_tokens(), path="$")
    if not isinstance(filled, dict):  # pragma: no cover - a JSON object stays an object
        raise TokenError("a pipeline definition must be a JSON object")
    return filled


def _fill(node: Any, tokens: Mapping[str, str | tuple[str, ...]], path: str) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, tokens, f"{path}.{key}") for key, value in node.items()}
    if isinstance(node, list):
        return _fill_list(node, tokens, path)
    if isinstance(node, str):
        return _fill_string(node, tokens, path)
    return node


def _fill_list(items: Sequence[Any], tokens: Mapping[str, str | tuple[str, ...]], path: str) -> list[Any]:
    filled: list[Any] = []
    for index, item in enumerate(items):
        match = TOKEN_PATTERN.fullmatch(item) if isinstance(item, str) else None
        if match and match.group(1) in LIST_TOKENS:
            filled.extend(tokens[match.group(1)])
        else:
            filled.append(_fill(item, tokens, f"{path}[{index}]"))
    return filled


def _fill_string(text: str, tokens: Mapping[str, str | tuple[str, ...]], path: str) -> str:
    def replace(match: re.Match[str]) -> str:
        value = tokens[match.group(1)]
        if not isinstance(value, str):
            raise TokenError(f"list token {match.group(0)} at {path} must be a whole element of a JSON list")
        return value

    return TOKEN_PATTERN.sub(replace, text)
