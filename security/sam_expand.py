"""Expand a SAM template into the plain CloudFormation that CloudFormation itself would deploy, offline.

Runs in .venv-sam (aws-sam-cli pins aws-sam-translator there). Why: checkov and cfn-guard judge CloudFormation
resources; on the SAM template they never see the Lambda functions, roles, log settings and state machine that SAM
generates. ``sam validate`` does not write the expansion and cfn-lint 1.x no longer runs the SAM transform, so this
calls the same translator ``sam deploy``'s transform uses, with the two offline substitutions ``sam validate`` makes:
local ``CodeUri`` / ``ContentUri`` paths become placeholder S3 locations and managed-policy names are not looked up
in IAM (the template uses none). A state machine's local ``DefinitionS3Location`` file is inlined as ``Definition``
so the scanners see the ASL that deploys.

Usage: .venv-sam/bin/python -m security.sam_expand template.yaml build/security/template.expanded.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse  # type: ignore[import-not-found]
from samtranslator.translator.transform import transform  # type: ignore[import-not-found]

PLACEHOLDER_BUCKET = "s3://offline-expansion-placeholder"
# The translator reads a region from boto3 only to name the partition; intrinsics such as !Ref AWS::Region stay as
# they are in the output. Any commercial region gives the same expansion.
EXPANSION_REGION = "us-east-1"


class _NoManagedPolicyLookup:
    """Stands in for samtranslator's IAM-backed loader: this project names no AWS managed policy."""

    def load(self) -> dict[str, str]:
        return {}


def expand(template_path: Path) -> dict[str, Any]:
    """The CloudFormation template SAM's transform produces for ``template_path``."""
    template: dict[str, Any] = yaml_parse(template_path.read_text())
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            properties["CodeUri"] = f"{PLACEHOLDER_BUCKET}/{properties['CodeUri']}"
        if resource.get("Type") == "AWS::Serverless::LayerVersion" and isinstance(properties.get("ContentUri"), str):
            properties["ContentUri"] = f"{PLACEHOLDER_BUCKET}/{properties['ContentUri']}"
        # A local DefinitionS3Location is the file `sam package` uploads; inlined so the scanners read the ASL.
        if resource.get("Type") == "AWS::StepFunctions::StateMachine" and isinstance(
            properties.get("DefinitionS3Location"), str
        ):
            definition_path = template_path.parent / properties.pop("DefinitionS3Location")
            properties["Definition"] = json.loads(definition_path.read_text())
    os.environ.setdefault("AWS_DEFAULT_REGION", EXPANSION_REGION)
    expanded: dict[str, Any] = transform(template, {}, _NoManagedPolicyLookup())
    return expanded


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m security.sam_expand <template.yaml> <output.json>", file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(expand(source), indent=1, sort_keys=True))
    print(f"{source} -> {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
