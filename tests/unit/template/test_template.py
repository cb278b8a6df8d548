"""template.yaml and the ASL file: what deploys is consistent with itself (no emulator, no network)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from cfn import (
    TemplateError,
    TemplateValues,
    asl_tokens,
    function_config,
    function_ids,
    load_template,
    rule_pattern,
    state_machine_definition,
)

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = load_template()
ASL = json.loads((REPO / "statemachine" / "train_deploy.asl.json").read_text())
VALUES = TemplateValues(
    parameters={"PrivateSubnetIds": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]},
    refs={
        "ArtifactsBucket": "bucket",
        "NotificationTopic": "arn:aws:sns:us-east-1:123456789012:t",
        "ModelPackageGroup": "abalone",
        **{f: f for f in function_ids(TEMPLATE)},
    },
    attributes={
        "ProjectKey.Arn": "arn:aws:kms:us-east-1:123456789012:key/k",
        "SageMakerExecutionRole.Arn": "role",
        **{f"{f}.Arn": f"arn:{f}" for f in function_ids(TEMPLATE)},
    },
)


def tasks() -> dict[str, dict[str, Any]]:
    return {name: state for name, state in ASL["States"].items() if state["Type"] == "Task"}


def test_asl_tokens_and_definition_substitutions_match_exactly() -> None:
    substitutions = TEMPLATE["Resources"]["TrainDeployStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert asl_tokens(TEMPLATE, "TrainDeployStateMachine") == set(substitutions)


def test_the_substituted_definition_is_json_with_no_token_left() -> None:
    definition = state_machine_definition(TEMPLATE, "TrainDeployStateMachine", VALUES)
    assert "${" not in definition
    parsed = json.loads(definition)
    assert parsed["States"]["CreateModel"]["Parameters"]["VpcConfig"]["Subnets.$"] == (
        "States.StringSplit('subnet-a,subnet-b', ',')"
    )


def test_every_task_retries_with_jitter_and_catches_into_the_one_failure_state() -> None:
    for name, state in tasks().items():
        assert state["Retry"], name
        assert all(r["JitterStrategy"] == "FULL" and r["BackoffRate"] > 1 for r in state["Retry"]), name
        # Every error not handled by name ends in the one failure state (a named error may route back into a
        # bounded wait loop first, e.g. UpdateEndpoint refused while another deployment updates: issue 7).
        catch_all_targets = {c["Next"] for c in state["Catch"] if "States.ALL" in c["ErrorEquals"]}
        expected = {"ExecutionFailed"} if name == "NotifyFailure" else {"NotifyFailure"}
        assert catch_all_targets == expected, name
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name


def test_no_sync_integrations_and_jsonpath_only() -> None:
    assert ASL.get("QueryLanguage", "JSONPath") == "JSONPath"
    for name, state in tasks().items():
        assert not state["Resource"].endswith(".sync"), name
        assert "Arguments" not in state and "Output" not in state, name


def test_every_wait_reads_its_interval_from_the_state() -> None:
    waits = [s for s in ASL["States"].values() if s["Type"] == "Wait"]
    assert waits and all(w == {"Type": "Wait", "SecondsPath": "$.PollSeconds", "Next": w["Next"]} for w in waits)


def test_every_state_is_reachable_and_every_next_exists() -> None:
    states = ASL["States"]
    text = json.dumps(states)
    for target in re.findall(r'"(?:Next|Default)": "([^"]+)"', text):
        assert target in states, target
    reachable = {ASL["StartAt"], *re.findall(r'"(?:Next|Default)": "([^"]+)"', text)}
    assert set(states) == reachable


def test_the_model_is_vpc_bound_network_isolated_and_encrypted() -> None:
    create_model = ASL["States"]["CreateModel"]["Parameters"]
    assert create_model["EnableNetworkIsolation"] is True
    assert set(create_model["VpcConfig"]) == {"Subnets.$", "SecurityGroupIds.$"}
    assert ASL["States"]["CreateEndpointConfig"]["Parameters"]["KmsKeyId"] == "${KmsKeyArn}"
    transform = ASL["States"]["CreateTransformJob"]["Parameters"]
    assert transform["TransformOutput"]["KmsKeyId"] == transform["TransformResources"]["VolumeKmsKeyId"]


@pytest.mark.parametrize(
    ("fixture", "matches"),
    [
        ("approved.json", True),
        ("approved-duplicate.json", True),
        ("rejected.json", False),
        ("pending.json", False),
        ("another-group.json", False),
        ("malformed.json", True),  # the pattern does not see the broken fields: the handler's parser refuses it
    ],
)
def test_the_approval_rule_pattern_from_the_template(
    fixture: str, matches: bool, load_event: Callable[[str], dict[str, Any]]
) -> None:
    pattern = rule_pattern(TEMPLATE, "ModelApprovedRule", VALUES)
    assert EventPattern.load(json.dumps(pattern)).matches_event(load_event(f"on_model_approved/{fixture}")) is matches  # type: ignore[arg-type]


def test_functions_are_python313_makefile_builds_with_importable_handlers() -> None:
    makefile = (REPO / "Makefile").read_text()
    for logical_id in function_ids(TEMPLATE):
        resource = TEMPLATE["Resources"][logical_id]
        config = function_config(TEMPLATE, logical_id, VALUES)
        assert config.runtime == "python3.13"
        assert resource["Metadata"]["BuildMethod"] == "makefile"
        assert re.search(rf"^build-[\w\- ]*\b{logical_id}\b", makefile, re.M), logical_id
        module, _, attribute = config.handler.rpartition(".")
        package = module.split(".")[0]
        assert resource["Properties"]["CodeUri"] == f"functions/{package}"
        assert (REPO / "functions" / Path(*module.split("."))).with_suffix(".py").exists(), config.handler
        assert f"def {attribute}(" in (REPO / "functions" / Path(*module.split("."))).with_suffix(".py").read_text()


def test_function_environment_is_resolved_from_the_template() -> None:
    config = function_config(TEMPLATE, "OnModelApprovedFunction", VALUES)
    assert config.environment["STATE_MACHINE_ARN"] == (
        "arn:aws:states:us-east-1:123456789012:stateMachine:abalone-mlops-train-deploy"
    )
    assert config.environment["MODEL_PACKAGE_GROUP_NAME"] == "abalone"
    assert config.environment["POWERTOOLS_SERVICE_NAME"] == "on-model-approved"
    upsert = function_config(TEMPLATE, "UpsertPipelineFunction", VALUES)
    assert upsert.environment["SUBNET_IDS"] == "subnet-a,subnet-b"
    assert upsert.environment["KMS_KEY_ARN"] == "arn:aws:kms:us-east-1:123456789012:key/k"


def test_an_existing_key_replaces_the_created_one() -> None:
    values = TemplateValues(**{**VALUES.__dict__, "parameters": {**VALUES.parameters, "KmsKeyArn": "arn:mine"}})
    assert function_config(TEMPLATE, "UpsertPipelineFunction", values).environment["KMS_KEY_ARN"] == "arn:mine"


def test_the_resolver_names_what_it_cannot_resolve() -> None:
    with pytest.raises(TemplateError, match=r"no value for !GetAtt SageMakerExecutionRole.Arn"):
        function_config(TEMPLATE, "UpsertPipelineFunction", TemplateValues(parameters=VALUES.parameters))
    with pytest.raises(TemplateError, match="does not declare"):
        function_config(TEMPLATE, "UpsertPipelineFunction", TemplateValues(parameters={"Nope": 1}))


def test_security_defaults_of_the_template() -> None:
    resources = TEMPLATE["Resources"]
    assert resources["ProjectKey"]["Properties"]["EnableKeyRotation"] is True
    bucket = resources["ArtifactsBucket"]["Properties"]
    assert (
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "SSEAlgorithm"
        ]
        == "aws:kms"
    )
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    for logical_id in ("NotificationTopic", "ApprovalDeadLetterQueue"):
        assert "KmsMasterKeyId" in resources[logical_id]["Properties"], logical_id
    machine = resources["TrainDeployStateMachine"]["Properties"]
    assert resources["TrainDeployStateMachine"]["Type"] == "AWS::StepFunctions::StateMachine"
    assert machine["LoggingConfiguration"]["Level"] == "ALL" and machine["LoggingConfiguration"]["IncludeExecutionData"]
    assert machine["TracingConfiguration"]["Enabled"] is True
    assert "KmsKeyId" in resources["StateMachineLogGroup"]["Properties"]


def test_state_machine_history_is_encrypted_with_the_project_key() -> None:
    """Rule 6: execution history (every state's input and output) under the project key, not an AWS-owned key."""
    resources = TEMPLATE["Resources"]
    machine = resources["TrainDeployStateMachine"]["Properties"]
    project_key = resources["StateMachineLogGroup"]["Properties"]["KmsKeyId"]  # the template's key expression
    encryption = machine["EncryptionConfiguration"]
    assert encryption["Type"] == "CUSTOMER_MANAGED_KMS_KEY"
    assert encryption["KmsKeyId"] == project_key == machine["DefinitionSubstitutions"]["KmsKeyArn"]
    assert 60 <= encryption["KmsDataKeyReusePeriodSeconds"] <= 900
    assert machine["DefinitionS3Location"] == "statemachine/train_deploy.asl.json"
    role = resources["TrainDeployStateMachineRole"]
    assert machine["RoleArn"] == {"Fn::GetAtt": ["TrainDeployStateMachineRole", "Arn"]}
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (history,) = [s for s in statements if s.get("Sid") == "ExecutionHistoryEncryptedWithTheProjectKey"]
    assert set(history["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"} and history["Resource"] == project_key
    assert "kms:EncryptionContext:aws:states:stateMachineArn" in history["Condition"]["StringEquals"]
    text = json.dumps(TEMPLATE)
    for statement in re.findall(r'"Action": "iam:PassRole"[^}]*}[^}]*}', text):
        assert "sagemaker.amazonaws.com" in statement
    assert '"Action": "*"' not in text and '"sagemaker:*"' not in text
    target = resources["ModelApprovedRule"]["Properties"]["Targets"][0]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0 and "DeadLetterConfig" in target


def test_the_group_is_referenced_by_name_not_by_its_arn() -> None:
    # Ref on AWS::SageMaker::ModelPackageGroup returns the group's ARN; every consumer here needs the name.
    assert '{"Ref": "ModelPackageGroup"}' not in json.dumps(TEMPLATE)
