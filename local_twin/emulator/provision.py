"""Create in the emulated account what ``template.yaml`` declares, with the template's own properties.

The same code provisions the stack for ``make local`` and for the integration tests, so what is tested is what runs
locally. Resources are created in dependency order; the functions are registered with the emulated Lambda runtime
from the packages ``sam build`` made (``.aws-sam/build/<LogicalId>``), with their layers, so they run as deployed.
Whatever a local stack leaves out, or creates differently, is listed in :attr:`Stack.adjustments`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from cfn import (
    SUB_PATTERN,
    TEMPLATE_PATH,
    FunctionConfig,
    Resolver,
    TemplateError,
    TemplateValues,
    function_config,
    load_template,
    state_machine_definition,
)
from local_twin.emulator.account import STACK_NAME
from local_twin.emulator.core import Emulator
from local_twin.emulator.lambda_runtime import BUILD_DIR, FunctionSpec, LambdaSetupError

# --- provisioning from template.yaml ----------------------------------------------------------------------------------
# Resource types whose only effect is outside what a local run can observe; they are listed in the result, not created.
NO_LOCAL_EFFECT: dict[str, str] = {
    "AWS::SNS::Subscription": "e-mail subscriptions need a mailbox",
    "AWS::KMS::Alias": "only a display name for the key",
    "AWS::ApplicationAutoScaling::ScalableTarget": "the local endpoint is a single process",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "the local endpoint is a single process",
    "AWS::Logs::ResourcePolicy": "log delivery is not emulated",
    "Custom::DeploymentCleanup": "acts only when the stack is deleted; a local run has no stack deletion",
}
# Created later by the run itself, as CloudFormation would create it by invoking the function behind it.
CREATED_BY_THE_RUN = {"Custom::SageMakerPipeline": "the upsert stage invokes its ServiceToken function"}
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
SAM_FUNCTION = "AWS::Serverless::Function"
STATE_MACHINE = "AWS::StepFunctions::StateMachine"
IMPLICIT_ROLE = "SAM::ImplicitRole"  # not a CloudFormation type: the role SAM adds for a function
# Not a CloudFormation type either: the inline policies of a template role, put once every resource they name exists
# (the state machine's role names the functions, which need roles first).
ROLE_POLICIES = "local_twin::RolePolicies"


ALARM_PROPERTIES = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Metrics",
)


# The properties each creator below applies; any other property of a created resource is listed in the stack's
# adjustments, so what the local stack leaves out is visible in the run's summary instead of silently dropped.
APPLIED_PROPERTIES: dict[str, set[str]] = {
    "AWS::KMS::Key": {"Description", "EnableKeyRotation", "KeyPolicy", "KeyUsage"},
    "AWS::S3::Bucket": {
        "BucketName",
        "BucketEncryption",
        "PublicAccessBlockConfiguration",
        "OwnershipControls",
        "VersioningConfiguration",
    },
    "AWS::S3::BucketPolicy": {"Bucket", "PolicyDocument"},
    "AWS::SageMaker::ModelPackageGroup": {
        "ModelPackageGroupName",
        "ModelPackageGroupDescription",
        "ModelPackageGroupPolicy",
    },
    "AWS::Events::EventBusPolicy": {"StatementId", "Statement", "EventBusName"},
    "AWS::IAM::Role": {"AssumeRolePolicyDocument", "Policies", "Description"},
    "AWS::IAM::ManagedPolicy": {"ManagedPolicyName", "PolicyDocument", "Roles", "Description"},
    "AWS::IAM::Policy": {"PolicyName", "PolicyDocument", "Roles"},
    "AWS::SNS::Topic": {"TopicName", "DisplayName", "KmsMasterKeyId"},
    "AWS::SQS::Queue": {
        "QueueName",
        "KmsMasterKeyId",
        "MessageRetentionPeriod",
        "VisibilityTimeout",
        "KmsDataKeyReusePeriodSeconds",
    },
    "AWS::SQS::QueuePolicy": {"Queues", "PolicyDocument"},
    "AWS::Logs::LogGroup": {"LogGroupName", "KmsKeyId", "RetentionInDays"},
    "AWS::Serverless::Function": {
        "FunctionName",
        "Handler",
        "Runtime",
        "CodeUri",
        "Description",
        "Timeout",
        "MemorySize",
        "Environment",
        "Tracing",
        "Policies",
        "Role",
        "KmsKeyArn",
        "VpcConfig",
        "DeadLetterQueue",
        "LoggingConfig",
        "Architectures",
        "AutoPublishAlias",
        "Layers",
        "EventInvokeConfig",
    },
    "AWS::Serverless::LayerVersion": {
        "LayerName",
        "Description",
        "ContentUri",
        "CompatibleRuntimes",
        "CompatibleArchitectures",
        "RetentionPolicy",
    },
    "AWS::Events::Rule": {"Name", "EventPattern", "State", "Description", "Targets"},
    "AWS::CloudWatch::Alarm": {"AlarmName", *ALARM_PROPERTIES},
    "AWS::Lambda::Permission": {"FunctionName", "Action", "Principal", "SourceArn", "SourceAccount"},
    "AWS::StepFunctions::StateMachine": {
        "StateMachineName",
        "StateMachineType",
        "RoleArn",
        "DefinitionS3Location",
        "DefinitionSubstitutions",
        "EncryptionConfiguration",
    },
}


class ProvisionError(RuntimeError):
    """A resource of the template cannot be created in the emulator; the message names it."""


@dataclass
class Stack:
    """What provisioning created: physical names and ARNs by logical id, and what the run needs most."""

    name: str
    template: dict[str, Any]
    values: TemplateValues
    created: dict[str, str] = field(default_factory=dict)  # logical id → physical id
    not_created: dict[str, str] = field(default_factory=dict)  # logical id → why
    adjustments: list[str] = field(default_factory=list)  # what was created differently from AWS, and why
    functions: dict[str, FunctionConfig] = field(default_factory=dict)  # logical id → config (handler, env)
    function_names: dict[str, str] = field(default_factory=dict)  # logical id → function name
    build_dir: Path = BUILD_DIR
    layer_dirs: dict[str, Path] = field(default_factory=dict)  # layer version ARN → its built package

    def ref(self, logical_id: str) -> str:
        return self.values.refs[logical_id]

    def attribute(self, logical_id: str, attribute: str) -> str:
        return self.values.attributes[f"{logical_id}.{attribute}"]

    def logical_ids(self, resource_type: str) -> list[str]:
        return [key for key, value in self.template["Resources"].items() if value.get("Type") == resource_type]

    def only(self, resource_type: str) -> str:
        ids = [key for key in self.logical_ids(resource_type) if key in self.created]
        if len(ids) != 1:
            raise ProvisionError(f"expected one {resource_type} in the template, found {ids}")
        return ids[0]


def provision(
    emulator: Emulator,
    *,
    parameters: Mapping[str, Any],
    stack_name: str = STACK_NAME,
    template_path: Path = TEMPLATE_PATH,
    build_dir: Path = BUILD_DIR,
    account_id: str | None = None,
) -> Stack:
    """Create the template's resources in the emulator, in dependency order, with the template's own properties.

    ``build_dir``: where ``sam build`` put the functions' and layers' packages (one folder per logical id).
    ``account_id``: the account the stack is deployed to (default: the emulator's); every resource is created with
    that account's client (``AWS::AccountId`` is that account), and its functions run with their execution roles'
    credentials in that account. Function names are unique across accounts only through the stack name: give each
    account's stack its own.
    """
    if account_id is not None and account_id != emulator.account_id:
        emulator = emulator.in_account(account_id)
    template = load_template(template_path)
    values = TemplateValues(
        region=emulator.region, account_id=emulator.account_id, stack_name=stack_name, parameters=dict(parameters)
    )
    resolver = Resolver(template, values)
    stack = Stack(name=stack_name, template=template, values=values, build_dir=build_dir)
    creators = _creators()
    for logical_id, kind in _creation_order(template):
        if kind == IMPLICIT_ROLE:
            # Trust only for now: its policies name resources created later, so they are added with the owner.
            stack.created[logical_id] = _create_role(emulator, stack, logical_id, LAMBDA_TRUST, [])
            continue
        if kind == ROLE_POLICIES:
            if logical_id in stack.created:
                policies = template["Resources"][logical_id]["Properties"]["Policies"]
                try:
                    _put_role_policies(emulator, stack.ref(logical_id), resolver.resolve(policies))
                except (TemplateError, ClientError, ParamValidationError) as error:
                    raise ProvisionError(f"{logical_id} (AWS::IAM::Role Policies): {error}") from error
            continue
        resource = template["Resources"][logical_id]
        condition = resource.get("Condition")
        if condition and not resolver.condition(condition):
            stack.not_created[logical_id] = f"condition {condition} is false"
            continue
        if kind in NO_LOCAL_EFFECT:
            stack.not_created[logical_id] = NO_LOCAL_EFFECT[kind]
            continue
        if kind in CREATED_BY_THE_RUN:
            stack.not_created[logical_id] = CREATED_BY_THE_RUN[kind]
            continue
        creator = creators.get(kind)
        if creator is None:
            raise ProvisionError(
                f"{logical_id}: resource type {kind} is not provisioned by local_twin/provision.py; add it there "
                "(or to NO_LOCAL_EFFECT with the reason it does not matter locally)"
            )
        properties = resource.get("Properties", {})
        if kind == "AWS::IAM::Role":  # its Policies are put later (ROLE_POLICIES)
            properties = {key: value for key, value in properties.items() if key != "Policies"}
        try:
            physical_id = creator(emulator, stack, resolver, logical_id, resolver.resolve(properties))
        except (TemplateError, ClientError, ParamValidationError) as error:
            raise ProvisionError(f"{logical_id} ({kind}): {error}") from error
        stack.created[logical_id] = physical_id
        ignored = sorted(set(resource.get("Properties", {})) - APPLIED_PROPERTIES.get(kind, set()))
        if ignored:
            stack.adjustments.append(
                f"{logical_id}: not applied locally (no effect on a local run): {', '.join(ignored)}"
            )
    return stack


# Types whose physical id others reference, created first; everything else keeps the template's order after them.
_ORDER = (
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::SageMaker::ModelPackageGroup",
    "AWS::IAM::Role",
    IMPLICIT_ROLE,
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::Policy",
    "AWS::SNS::Topic",
    "AWS::SQS::Queue",
    "AWS::Logs::LogGroup",
    "AWS::Serverless::LayerVersion",
    "AWS::Serverless::Function",
    "AWS::Events::Rule",
    ROLE_POLICIES,
    STATE_MACHINE,
)


def _creation_order(template: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(logical id, type) in an order CloudFormation could create them: every resource after what it references.

    Two steps are split as CloudFormation's own dependency graph allows: a role is created with its trust policy
    only and its inline policies are put once everything they name exists (``ROLE_POLICIES``); the role SAM
    generates for a function (``<LogicalId>Role``) comes before the function, which adds its policies. Among the
    resources ready at the same time, the ones others often reference come first (``_ORDER``).
    """
    resources = template["Resources"]
    entries: dict[str, tuple[str, set[str]]] = {}  # node → (kind, what it waits for)
    for key, value in resources.items():
        kind = str(value["Type"])
        properties = dict(value.get("Properties", {}))
        if kind == "AWS::IAM::Role":
            policies = properties.pop("Policies", None)
            if policies:
                entries[f"{key}/policies"] = (ROLE_POLICIES, _references(policies) | {key})
        needs = (
            _references(properties) | _references(value.get("Condition", "")) | set(_as_list(value.get("DependsOn")))
        )
        if kind == SAM_FUNCTION:
            needs |= _references(template.get("Globals", {}).get("Function", {}))
            if "Role" not in properties:
                entries[f"{key}Role"] = (IMPLICIT_ROLE, set())
                needs.add(f"{key}Role")
        entries[key] = (kind, needs)
    known = set(entries)
    rank = {kind: index for index, kind in enumerate(_ORDER)}
    waiting = {node: {need for need in needs if need in known and need != node} for node, (_, needs) in entries.items()}
    ordered: list[tuple[str, str]] = []
    while waiting:
        ready = sorted(
            (node for node, needs in waiting.items() if not needs),
            key=lambda n: (rank.get(entries[n][0], len(_ORDER)), n),
        )
        if not ready:
            raise ProvisionError(f"circular references between {sorted(waiting)}")
        node = ready[0]
        del waiting[node]
        for needs in waiting.values():
            needs.discard(node)
        ordered.append((node.removesuffix("/policies"), entries[node][0]))
    return ordered


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def _references(node: Any) -> set[str]:
    """The logical ids (and parameters) an expression references: Ref, GetAtt, and ${...} in Sub."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add((value if isinstance(value, list) else str(value).split("."))[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {name.split(".")[0] for name in SUB_PATTERN.findall(str(text))}
                if isinstance(value, list):
                    found |= _references(value[1])
            else:
                found |= _references(value)
    return found


Creator = Callable[[Emulator, Stack, Resolver, str, dict[str, Any]], str]


def _creators() -> dict[str, Creator]:
    return {
        "AWS::KMS::Key": _kms_key,
        "AWS::S3::Bucket": _bucket,
        "AWS::S3::BucketPolicy": _bucket_policy,
        "AWS::SageMaker::ModelPackageGroup": _model_package_group,
        "AWS::IAM::Role": _role,
        "AWS::IAM::ManagedPolicy": _managed_policy,
        "AWS::IAM::Policy": _inline_policy,
        "AWS::SNS::Topic": _topic,
        "AWS::SQS::Queue": _queue,
        "AWS::SQS::QueuePolicy": _queue_policy,
        "AWS::Logs::LogGroup": _log_group,
        "AWS::Serverless::Function": _function,
        "AWS::Serverless::LayerVersion": _layer,
        "AWS::CloudWatch::Alarm": _alarm,
        "AWS::CloudWatch::Dashboard": _dashboard,
        "AWS::Events::Rule": _rule,
        "AWS::Lambda::Permission": _permission,
        "AWS::Events::EventBusPolicy": _event_bus_policy,
        STATE_MACHINE: _state_machine,
    }


def _physical_name(stack: Stack, logical_id: str, limit: int = 64, lower: bool = False) -> str:
    """CloudFormation's generated-name shape, ``<stack>-<LogicalId>-<suffix>``, cut to the service's limit."""
    suffix = hashlib.sha256(f"{stack.name}/{logical_id}".encode()).hexdigest()[:12].upper()
    name = f"{stack.name}-{logical_id}"[: limit - len(suffix) - 1] + f"-{suffix}"
    return name.lower() if lower else name


def _kms_key(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    kms = emulator.client("kms")
    key = kms.create_key(
        Description=props.get("Description", ""),
        Policy=json.dumps(props["KeyPolicy"]) if "KeyPolicy" in props else None,
        KeyUsage=props.get("KeyUsage", "ENCRYPT_DECRYPT"),
    )["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    stack.values.refs[logical_id] = key["KeyId"]
    stack.values.attributes[f"{logical_id}.Arn"] = key["Arn"]
    return str(key["Arn"])


def _bucket(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    s3 = emulator.client("s3")
    name = props.get("BucketName") or _physical_name(stack, logical_id, limit=63, lower=True)
    if emulator.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": emulator.region})
    if "BucketEncryption" in props:
        # CloudFormation's names for the API's Rules and ApplyServerSideEncryptionByDefault
        rules = [
            {
                ("ApplyServerSideEncryptionByDefault" if key == "ServerSideEncryptionByDefault" else key): value
                for key, value in rule.items()
            }
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    stack.values.refs[logical_id] = name
    stack.values.attributes[f"{logical_id}.Arn"] = f"arn:aws:s3:::{name}"
    return str(name)


def _bucket_policy(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    """The policy without its conditional Deny statements: ``Deny ... aws:SecureTransport=false`` would deny every
    request (the emulator's endpoint is plain HTTP on loopback). Conditional Allow statements are kept: the
    cross-account reads they grant are checked with their conditions (local_twin.emulator.s3)."""
    document = dict(props["PolicyDocument"])
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]

    def dropped_locally(statement: Mapping[str, Any]) -> bool:
        return "Condition" in statement and statement.get("Effect") == "Deny"

    kept = [statement for statement in statements if not dropped_locally(statement)]
    dropped = [
        str(statement.get("Sid", index)) for index, statement in enumerate(statements) if dropped_locally(statement)
    ]
    if dropped:
        stack.adjustments.append(f"{logical_id}: conditional statements not applied locally: {', '.join(dropped)}")
    if kept:
        document["Statement"] = kept
        emulator.client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))
    return str(props["Bucket"])


def _model_package_group(
    emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]
) -> str:
    name = props["ModelPackageGroupName"]
    sagemaker = emulator.client("sagemaker")
    created = sagemaker.create_model_package_group(
        ModelPackageGroupName=name, ModelPackageGroupDescription=props.get("ModelPackageGroupDescription", "")
    )
    if props.get("ModelPackageGroupPolicy"):  # CloudFormation applies it with PutModelPackageGroupPolicy
        sagemaker.put_model_package_group_policy(
            ModelPackageGroupName=name, ResourcePolicy=json.dumps(props["ModelPackageGroupPolicy"])
        )
    stack.values.refs[logical_id] = name
    stack.values.attributes[f"{logical_id}.ModelPackageGroupArn"] = created["ModelPackageGroupArn"]
    return str(name)


def _create_role(
    emulator: Emulator, stack: Stack, logical_id: str, trust: Mapping[str, Any], policies: Sequence[Mapping[str, Any]]
) -> str:
    iam = emulator.client("iam")
    name = _physical_name(stack, logical_id)
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for policy in policies:
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
        )
    stack.values.refs[logical_id] = name
    stack.values.attributes[f"{logical_id}.Arn"] = arn
    return str(arn)


def _role(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    return _create_role(emulator, stack, logical_id, props["AssumeRolePolicyDocument"], props.get("Policies", []))


def _put_role_policies(emulator: Emulator, role_name: str, policies: Sequence[Mapping[str, Any]]) -> None:
    iam = emulator.client("iam")
    for policy in policies:
        iam.put_role_policy(
            RoleName=role_name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"])
        )


def _managed_policy(
    emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]
) -> str:
    iam = emulator.client("iam")
    name = props.get("ManagedPolicyName") or _physical_name(stack, logical_id, limit=128)
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(props["PolicyDocument"]))["Policy"]["Arn"]
    for role in props.get("Roles", []):
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    stack.values.refs[logical_id] = arn
    return str(arn)


def _inline_policy(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    iam = emulator.client("iam")
    for role in props.get("Roles", []):
        iam.put_role_policy(
            RoleName=role, PolicyName=props["PolicyName"], PolicyDocument=json.dumps(props["PolicyDocument"])
        )
    stack.values.refs[logical_id] = props["PolicyName"]
    return str(props["PolicyName"])


def _topic(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    attributes = {key: str(props[key]) for key in ("DisplayName", "KmsMasterKeyId") if key in props}
    name = props.get("TopicName") or _physical_name(stack, logical_id, limit=256)
    arn = emulator.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    stack.values.refs[logical_id] = arn
    stack.values.attributes[f"{logical_id}.TopicArn"] = arn
    stack.values.attributes[f"{logical_id}.TopicName"] = name
    return str(arn)


def _queue(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    sqs = emulator.client("sqs")
    keys = ("KmsMasterKeyId", "MessageRetentionPeriod", "VisibilityTimeout", "KmsDataKeyReusePeriodSeconds")
    attributes = {key: str(props[key]) for key in keys if key in props}
    name = props.get("QueueName") or _physical_name(stack, logical_id, limit=80)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.values.refs[logical_id] = url
    stack.values.attributes[f"{logical_id}.Arn"] = arn
    stack.values.attributes[f"{logical_id}.QueueName"] = name
    return str(url)


def _queue_policy(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    sqs = emulator.client("sqs")
    for url in props["Queues"]:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])})
    return ",".join(props["Queues"])


def _log_group(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    logs = emulator.client("logs")
    name = props.get("LogGroupName") or f"/aws/local/{_physical_name(stack, logical_id, limit=200)}"
    extra = {"kmsKeyId": props["KmsKeyId"]} if props.get("KmsKeyId") else {}
    logs.create_log_group(logGroupName=name, **extra)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    arn = f"arn:aws:logs:{emulator.region}:{emulator.account_id}:log-group:{name}:*"
    stack.values.refs[logical_id] = name
    stack.values.attributes[f"{logical_id}.Arn"] = arn
    return name


def _sam_policies(logical_id: str, props: Mapping[str, Any]) -> list[dict[str, Any]]:
    """SAM's ``Policies`` (inline statements) as the role policies SAM generates for them."""
    policies: list[dict[str, Any]] = []
    for index, policy in enumerate(props.get("Policies", [])):
        if isinstance(policy, dict) and "Statement" in policy:
            document = {"Version": "2012-10-17", "Statement": policy["Statement"]}
            policies.append({"PolicyName": f"{logical_id}RolePolicy{index}", "PolicyDocument": document})
        else:
            raise ProvisionError(f"{logical_id}: only inline policy statements are provisioned, got {policy!r}")
    return policies


def _function(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    config = function_config(stack.template, logical_id, stack.values)
    role_arn = props.get("Role") or _implicit_role_policies(emulator, stack, logical_id, props)
    name = props.get("FunctionName") or _physical_name(stack, logical_id)
    globals_ = resolver.resolve(stack.template.get("Globals", {}).get("Function", {}))
    merged = {**globals_, **props}
    extra: dict[str, Any] = {}
    if merged.get("KmsKeyArn"):
        extra["KMSKeyArn"] = merged["KmsKeyArn"]
    if merged.get("VpcConfig"):
        extra["VpcConfig"] = {key: list(value) for key, value in merged["VpcConfig"].items()}
    if config.dead_letter_arn:
        extra["DeadLetterConfig"] = {"TargetArn": config.dead_letter_arn}
    if merged.get("LoggingConfig"):
        extra["LoggingConfig"] = merged["LoggingConfig"]
    layers = [layer for layer in config.layers if layer in stack.layer_dirs]
    for layer in sorted(set(config.layers) - set(layers)):
        stack.adjustments.append(f"{logical_id}: layer {layer} is not part of the template's build; not used locally")
    code_dir = stack.build_dir / logical_id
    if not code_dir.is_dir():
        raise LambdaSetupError(f"{logical_id}: {code_dir} does not exist; build the functions first (`make build`)")
    lambda_client = emulator.client("lambda")
    credentials = None
    if emulator.account_id != emulator.home_account_id:
        # Lambda runs the function with its execution role's session, named after the function; in the default
        # account the throw-away credentials act there already.
        credentials = emulator.role_credentials(role_arn, name)
    created = lambda_client.create_function(
        FunctionName=name,
        Runtime=config.runtime,
        Role=role_arn,
        Handler=config.handler,
        # The emulated Lambda runs the built package itself (FunctionSpec below); moto only keeps the configuration.
        Code={"ZipFile": _placeholder_package(f"{code_dir}")},
        Description=props.get("Description", ""),
        Timeout=config.timeout,
        MemorySize=config.memory_mb,
        Environment={"Variables": config.environment},
        TracingConfig={"Mode": merged.get("Tracing", "PassThrough")},
        Architectures=list(merged.get("Architectures", ["x86_64"])),
        **({"Layers": layers} if layers else {}),
        **extra,
    )
    emulator.lambdas.register(
        FunctionSpec(
            name=name,
            arn=created["FunctionArn"],
            handler=config.handler,
            runtime=config.runtime,
            timeout_seconds=config.timeout,
            memory_mb=config.memory_mb,
            code_dir=code_dir,
            layer_dirs=tuple(stack.layer_dirs[layer] for layer in layers),
            environment=config.environment,
            log_format=config.log_format,
            dead_letter_arn=config.dead_letter_arn,
            max_retry_attempts=config.max_retry_attempts,
            max_event_age_seconds=config.max_event_age_seconds,
            credentials=credentials,
        )
    )
    if merged.get("AutoPublishAlias"):
        version = lambda_client.publish_version(FunctionName=name)["Version"]
        lambda_client.create_alias(FunctionName=name, Name=merged["AutoPublishAlias"], FunctionVersion=version)
        stack.values.refs[f"{logical_id}.Version"] = version
    stack.functions[logical_id] = config
    stack.function_names[logical_id] = name
    stack.values.refs[logical_id] = name
    stack.values.attributes[f"{logical_id}.Arn"] = created["FunctionArn"]
    return str(created["FunctionArn"])


def _alarm(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    name = props.get("AlarmName") or _physical_name(stack, logical_id, limit=255)
    arguments = {key: props[key] for key in ALARM_PROPERTIES if key in props}
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in arguments:
            arguments[key] = int(arguments[key])
    if "Threshold" in arguments:
        arguments["Threshold"] = float(arguments["Threshold"])
    emulator.client("cloudwatch").put_metric_alarm(AlarmName=name, **arguments)
    arn = f"arn:aws:cloudwatch:{emulator.region}:{emulator.account_id}:alarm:{name}"
    stack.values.refs[logical_id] = name
    stack.values.attributes[f"{logical_id}.Arn"] = arn
    return arn


def _dashboard(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    name = props.get("DashboardName") or _physical_name(stack, logical_id)
    emulator.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
    stack.values.refs[logical_id] = name
    return str(name)


def _layer(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    """A layer version of the template: published in the emulated Lambda, its built package kept for the workers."""
    built = stack.build_dir / logical_id
    if not (built / "python").is_dir():
        raise LambdaSetupError(f"{logical_id}: {built}/python does not exist; build the layer first (`make build`)")
    name = props.get("LayerName") or _physical_name(stack, logical_id)
    published = emulator.client("lambda").publish_layer_version(
        LayerName=name,
        Description=props.get("Description", ""),
        Content={"ZipFile": _placeholder_package(str(built))},
        CompatibleRuntimes=list(props.get("CompatibleRuntimes", [])),
        CompatibleArchitectures=list(props.get("CompatibleArchitectures", [])),
    )
    arn = str(published["LayerVersionArn"])
    stack.layer_dirs[arn] = built
    stack.values.refs[logical_id] = arn
    return arn


def _implicit_role_policies(emulator: Emulator, stack: Stack, logical_id: str, props: Mapping[str, Any]) -> str:
    """Add SAM's policies to the role SAM generated for ``logical_id``; its ARN."""
    iam = emulator.client("iam")
    role = f"{logical_id}Role"
    for policy in _sam_policies(logical_id, props):
        iam.put_role_policy(
            RoleName=stack.ref(role),
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )
    return stack.attribute(role, "Arn")


def _placeholder_package(built: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", f"the emulated Lambda runs the package sam build made: {built}\n")
    return buffer.getvalue()


def _rule(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    events = emulator.client("events")
    name = props.get("Name") or _physical_name(stack, logical_id)
    arn = events.put_rule(
        Name=name,
        EventPattern=json.dumps(props["EventPattern"]),
        State=props.get("State", "ENABLED"),
        Description=props.get("Description", ""),
    )["RuleArn"]
    targets = [
        {key: value for key, value in target.items() if key != "Id"} | {"Id": target["Id"]}
        for target in props.get("Targets", [])
    ]
    if targets:
        events.put_targets(Rule=name, Targets=targets)
    stack.values.refs[logical_id] = name
    stack.values.attributes[f"{logical_id}.Arn"] = arn
    return str(arn)


def _permission(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    extra = {key: props[key] for key in ("SourceArn", "SourceAccount") if key in props}
    emulator.client("lambda").add_permission(
        FunctionName=props["FunctionName"],
        StatementId=logical_id,
        Action=props["Action"],
        Principal=props["Principal"],
        **extra,
    )
    return logical_id


def _event_bus_policy(
    emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]
) -> str:
    """AWS::Events::EventBusPolicy with ``Statement``: PutPermission with a policy holding that statement
    (CloudFormation user guide, "AWS::Events::EventBusPolicy"); the bus's other statements stay."""
    statement = {"Sid": props["StatementId"], **props["Statement"]}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    bus = props.get("EventBusName", "default")
    emulator.client("events").put_permission(EventBusName=bus, Policy=json.dumps(policy))
    stack.values.refs[logical_id] = props["StatementId"]
    return str(props["StatementId"])


def _state_machine(emulator: Emulator, stack: Stack, resolver: Resolver, logical_id: str, props: dict[str, Any]) -> str:
    definition = state_machine_definition(stack.template, logical_id, stack.values)
    name = props.get("StateMachineName") or _physical_name(stack, logical_id, limit=80)
    extra: dict[str, Any] = {}
    if "EncryptionConfiguration" in props:
        encryption = props["EncryptionConfiguration"]
        extra["encryptionConfiguration"] = {
            "type": encryption["Type"],
            **({"kmsKeyId": encryption["KmsKeyId"]} if "KmsKeyId" in encryption else {}),
            **(
                {"kmsDataKeyReusePeriodSeconds": int(encryption["KmsDataKeyReusePeriodSeconds"])}
                if "KmsDataKeyReusePeriodSeconds" in encryption
                else {}
            ),
        }
    arn = emulator.client("stepfunctions").create_state_machine(
        name=name,
        definition=definition,
        roleArn=props["RoleArn"],
        type=props.get("StateMachineType", "STANDARD"),
        **extra,
    )["stateMachineArn"]
    stack.values.refs[logical_id] = arn
    stack.values.attributes[f"{logical_id}.Arn"] = arn
    stack.values.attributes[f"{logical_id}.Name"] = name
    return str(arn)
