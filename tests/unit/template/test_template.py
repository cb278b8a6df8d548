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
    resources_of_type,
    rule_pattern,
    state_machine_definition,
)

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = load_template()
MACHINES = {"TrainStateMachine": "train", "DeployStateMachine": "deploy"}
ASL = {
    logical_id: json.loads((REPO / "statemachine" / f"{name}.asl.json").read_text())
    for logical_id, name in MACHINES.items()
}
VALUES = TemplateValues(
    parameters={"PrivateSubnetIds": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]},
    refs={
        "ArtifactsBucket": "bucket",
        "NotificationTopic": "arn:aws:sns:us-east-1:123456789012:t",
        "ModelPackageGroup": "abalone",
        "DeploymentEventsDeadLetterQueue": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        "SharedLayer": "arn:aws:lambda:us-east-1:123456789012:layer:shared:1",
        **{m: f"arn:aws:states:us-east-1:123456789012:stateMachine:abalone-mlops-{n}" for m, n in MACHINES.items()},
        **{f: f for f in function_ids(TEMPLATE)},
        **{f"{f.removesuffix('Function')}LogGroup": f"/aws/lambda/{f}" for f in function_ids(TEMPLATE)},
        **{alarm: f"abalone-mlops-{alarm}" for alarm in resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")},
    },
    attributes={
        "ProjectKey.Arn": "arn:aws:kms:us-east-1:123456789012:key/k",
        "SageMakerExecutionRole.Arn": "role",
        "DeploymentEventsDeadLetterQueue.Arn": "arn:aws:sqs:us-east-1:123456789012:dlq",
        **{f"{f}.Arn": f"arn:{f}" for f in function_ids(TEMPLATE)},
    },
)
LAMBDA_RETRIABLE = {
    # The errors the Lambda integration documents as transient (Step Functions developer guide, "Handling errors").
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
}


def tasks(machine: str) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in ASL[machine]["States"].items() if state["Type"] == "Task"}


@pytest.mark.parametrize("machine", MACHINES)
def test_asl_tokens_and_definition_substitutions_match_exactly(machine: str) -> None:
    substitutions = TEMPLATE["Resources"][machine]["Properties"]["DefinitionSubstitutions"]
    assert asl_tokens(TEMPLATE, machine) == set(substitutions)


@pytest.mark.parametrize("machine", MACHINES)
def test_the_substituted_definition_is_json_with_no_token_left(machine: str) -> None:
    definition = state_machine_definition(TEMPLATE, machine, VALUES)
    assert "${" not in definition
    json.loads(definition)


def test_the_deploy_machine_receives_the_subnets_as_a_list() -> None:
    parsed = json.loads(state_machine_definition(TEMPLATE, "DeployStateMachine", VALUES))
    assert parsed["States"]["CreateModel"]["Parameters"]["VpcConfig"]["Subnets.$"] == (
        "States.StringSplit('subnet-a,subnet-b', ',')"
    )


@pytest.mark.parametrize("machine", MACHINES)
def test_every_task_retries_with_jitter_and_every_failure_reaches_finish(machine: str) -> None:
    """Finish reports every outcome (and notifies); only a failure of Finish itself skips it."""
    for name, state in tasks(machine).items():
        assert state["Retry"], name
        assert all(r["JitterStrategy"] == "FULL" and r["BackoffRate"] > 1 for r in state["Retry"]), name
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
        expected = "NotificationFailed" if name == "Finish" else "Finish"
        assert state["Catch"][-1]["Next"] == expected, name


@pytest.mark.parametrize("machine", MACHINES)
def test_lambda_tasks_retry_exactly_the_documented_transient_errors(machine: str) -> None:
    for name, state in tasks(machine).items():
        if state["Resource"].startswith("${") and state["Resource"].endswith("FunctionArn}"):
            (retry,) = state["Retry"]
            assert set(retry["ErrorEquals"]) == LAMBDA_RETRIABLE, name


@pytest.mark.parametrize("machine", MACHINES)
def test_no_sync_integrations_and_jsonpath_only(machine: str) -> None:
    assert ASL[machine].get("QueryLanguage", "JSONPath") == "JSONPath"
    for name, state in tasks(machine).items():
        assert not state["Resource"].endswith(".sync"), name
        assert "Arguments" not in state and "Output" not in state, name


@pytest.mark.parametrize("machine", MACHINES)
def test_every_wait_reads_its_interval_from_the_state(machine: str) -> None:
    waits = [s for s in ASL[machine]["States"].values() if s["Type"] == "Wait"]
    assert waits and all(set(w) == {"Type", "SecondsPath", "Next"} for w in waits)
    assert all(w["SecondsPath"].endswith(".PollSeconds") for w in waits)


@pytest.mark.parametrize("machine", MACHINES)
def test_every_state_is_reachable_and_every_next_exists(machine: str) -> None:
    states = ASL[machine]["States"]
    text = json.dumps(states)
    for target in re.findall(r'"(?:Next|Default)": "([^"]+)"', text):
        assert target in states, target
    reachable = {ASL[machine]["StartAt"], *re.findall(r'"(?:Next|Default)": "([^"]+)"', text)}
    assert set(states) == reachable


def test_the_model_is_vpc_bound_network_isolated_and_encrypted() -> None:
    states = ASL["DeployStateMachine"]["States"]
    create_model = states["CreateModel"]["Parameters"]
    assert create_model["EnableNetworkIsolation"] is True
    assert set(create_model["VpcConfig"]) == {"Subnets.$", "SecurityGroupIds.$"}
    assert states["CreateEndpointConfig"]["Parameters"]["KmsKeyId"] == "${KmsKeyArn}"
    transform = states["CreateTransformJob"]["Parameters"]
    assert transform["TransformOutput"]["KmsKeyId"] == transform["TransformResources"]["VolumeKmsKeyId"]


def test_the_train_machine_never_deploys() -> None:
    text = json.dumps(ASL["TrainStateMachine"])
    for action in ("createModel", "createEndpoint", "updateEndpoint", "createTransformJob", "deleteEndpoint"):
        assert action not in text, action


def _registry_event(load_event: Callable[[str], dict[str, Any]], **detail: Any) -> dict[str, Any]:
    event = load_event("deployments/registry-approved.json")
    event["detail"] = {**event["detail"], **detail}
    return event


@pytest.mark.parametrize(
    ("change", "matches"),
    [
        ({}, True),
        ({"ModelApprovalStatus": "Rejected"}, True),  # a rejection may take the live model away: reconcile
        ({"ModelApprovalStatus": "PendingManualApproval"}, True),  # the reconciler reads the registry: a no-op
        ({"ModelPackageGroupName": "another-group"}, False),
    ],
    ids=["approved", "rejected", "pending", "another-group"],
)
def test_the_registry_rule_matches_every_change_of_this_group_only(
    change: dict[str, Any], matches: bool, load_event: Callable[[str], dict[str, Any]]
) -> None:
    pattern = rule_pattern(TEMPLATE, "ModelRegistryRule", VALUES)
    event = _registry_event(load_event, **change)
    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is matches  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "matches"),
    [
        ({}, True),
        ({"status": "FAILED"}, False),  # a failed transition waits for the next registry change: no retry loop
        ({"status": "RUNNING"}, False),
        ({"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:abalone-mlops-train"}, False),
    ],
    ids=["deploy-succeeded", "deploy-failed", "deploy-started", "train-succeeded"],
)
def test_the_deployment_ended_rule_matches_only_succeeded_deploy_executions(
    change: dict[str, Any], matches: bool, load_event: Callable[[str], dict[str, Any]]
) -> None:
    pattern = rule_pattern(TEMPLATE, "DeploymentEndedRule", VALUES)
    event = load_event("deployments/deploy-execution-succeeded.json")
    event["detail"] = {**event["detail"], **change}
    assert EventPattern.load(json.dumps(pattern)).matches_event(event) is matches  # type: ignore[arg-type]


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
    config = function_config(TEMPLATE, "ReconcileDeploymentsFunction", VALUES)
    assert config.environment["DEPLOY_STATE_MACHINE_ARN"] == VALUES.refs["DeployStateMachine"]
    assert config.environment["MODEL_PACKAGE_GROUP_NAME"] == "abalone"
    assert config.environment["ENDPOINT_NAME"] == "abalone-mlops-endpoint"
    assert config.environment["WHEN_NO_APPROVED_MODEL"] == "KeepLastModel"
    assert config.environment["POWERTOOLS_SERVICE_NAME"] == "reconcile-deployments"
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in config.environment  # OpenTelemetry is opt-in
    upsert = function_config(TEMPLATE, "UpsertPipelineFunction", VALUES)
    assert upsert.environment["SUBNET_IDS"] == "subnet-a,subnet-b"
    assert upsert.environment["KMS_KEY_ARN"] == "arn:aws:kms:us-east-1:123456789012:key/k"


def test_an_existing_key_replaces_the_created_one() -> None:
    values = TemplateValues(**{**VALUES.__dict__, "parameters": {**VALUES.parameters, "KmsKeyArn": "arn:mine"}})
    assert function_config(TEMPLATE, "UpsertPipelineFunction", values).environment["KMS_KEY_ARN"] == "arn:mine"


def test_the_resolver_names_what_it_cannot_resolve() -> None:
    with pytest.raises(TemplateError, match=r"no value for !GetAtt SageMakerExecutionRole.Arn"):
        function_config(
            TEMPLATE,
            "UpsertPipelineFunction",
            TemplateValues(parameters=VALUES.parameters, refs=VALUES.refs, attributes={}),
        )
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
    for logical_id in ("NotificationTopic", "DeploymentEventsDeadLetterQueue"):
        assert "KmsMasterKeyId" in resources[logical_id]["Properties"], logical_id
    for logical_id in MACHINES:
        machine = resources[logical_id]["Properties"]
        assert resources[logical_id]["Type"] == "AWS::StepFunctions::StateMachine"
        assert machine["LoggingConfiguration"]["Level"] == "ALL", logical_id
        assert machine["LoggingConfiguration"]["IncludeExecutionData"], logical_id
        assert machine["TracingConfiguration"]["Enabled"] is True, logical_id
        assert "KmsKeyId" in resources[f"{logical_id}LogGroup"]["Properties"], logical_id


@pytest.mark.parametrize("logical_id", MACHINES)
def test_state_machine_history_is_encrypted_with_the_project_key(logical_id: str) -> None:
    """Rule 6: execution history (every state's input and output) under the project key, not an AWS-owned key."""
    resources = TEMPLATE["Resources"]
    machine = resources[logical_id]["Properties"]
    project_key = resources[f"{logical_id}LogGroup"]["Properties"]["KmsKeyId"]  # the key expression
    encryption = machine["EncryptionConfiguration"]
    assert encryption["Type"] == "CUSTOMER_MANAGED_KMS_KEY"
    assert encryption["KmsKeyId"] == project_key
    assert 60 <= encryption["KmsDataKeyReusePeriodSeconds"] <= 900
    assert machine["DefinitionS3Location"] == f"statemachine/{MACHINES[logical_id]}.asl.json"
    role = f"{logical_id}Role"
    assert machine["RoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
    base = resources["StateMachineBasePolicy"]["Properties"]
    side = "TrainsModels" if logical_id == "TrainStateMachine" else "DeploysModels"
    assert {"Fn::If": [side, {"Ref": role}, {"Ref": "AWS::NoValue"}]} in base["Roles"]
    (history,) = [
        s for s in base["PolicyDocument"]["Statement"] if s.get("Sid") == "ExecutionHistoryEncryptedWithTheProjectKey"
    ]
    assert set(history["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"} and history["Resource"] == project_key
    names = json.dumps(history["Condition"]["StringEquals"]["kms:EncryptionContext:aws:states:stateMachineArn"])
    assert f"stateMachine:${{AWS::StackName}}-{MACHINES[logical_id]}" in names


def test_no_wildcard_actions_and_pass_role_only_to_sagemaker() -> None:
    text = json.dumps(TEMPLATE)
    statements = re.findall(r'"Action": "iam:PassRole"[^}]*}[^}]*}', text)
    assert statements and all("sagemaker.amazonaws.com" in statement for statement in statements)
    assert '"Action": "*"' not in text and '"sagemaker:*"' not in text


def test_registry_events_are_retried_then_kept_in_the_dead_letter_queue() -> None:
    """Rule 7, no lost event: EventBridge retries delivery, then keeps the event; so does async Lambda."""
    resources = TEMPLATE["Resources"]
    for rule in ("ModelRegistryRule", "DeploymentEndedRule"):
        (target,) = resources[rule]["Properties"]["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0, rule
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeploymentEventsDeadLetterQueue", "Arn"]}}, rule
    config = function_config(TEMPLATE, "ReconcileDeploymentsFunction", VALUES)
    assert config.dead_letter_arn == VALUES.attributes["DeploymentEventsDeadLetterQueue.Arn"]


def test_the_group_is_referenced_by_name_not_by_its_arn() -> None:
    # Ref on AWS::SageMaker::ModelPackageGroup returns the group's ARN; every consumer here needs the name.
    assert '{"Ref": "ModelPackageGroup"}' not in json.dumps(TEMPLATE)


# --- monitoring -----------------------------------------------------------------------------------------------------
def test_the_drift_alarm_watches_every_feature_of_the_schedule_the_deploy_steps_create() -> None:
    resources = TEMPLATE["Resources"]
    schedule = resources["DeployStepsFunction"]["Properties"]["Environment"]["Variables"]["MONITORING_SCHEDULE_NAME"]
    alarm = resources["DataDriftAlarm"]["Properties"]
    stats = [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]

    assert [m["MetricName"] for m in stats] == [f"feature_baseline_drift__c{i}" for i in range(8)]
    assert all(m["Namespace"] == "aws/sagemaker/Endpoints/data-metrics" for m in stats)
    assert all({"Name": "MonitoringSchedule", "Value": schedule} in m["Dimensions"] for m in stats)
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "MAX([m0, m1, m2, m3, m4, m5, m6, m7])" and expression["ReturnData"] is True


def test_the_loop_back_exists_only_when_switched_on() -> None:
    resources = TEMPLATE["Resources"]
    loop = [logical_id for logical_id, r in resources.items() if r.get("Condition") == "RetrainsOnDrift"]
    assert set(loop) == {
        "PersistentDataDriftAlarm",
        "RetrainOnDriftRule",
        "RetrainOnDriftRulePermission",
        "RetrainOnDriftFunction",
        "RetrainOnDriftLogGroup",
    }
    rule = resources["RetrainOnDriftRule"]["Properties"]
    assert rule["EventPattern"]["resources"] == [{"Fn::GetAtt": ["PersistentDataDriftAlarm", "Arn"]}]
    assert rule["EventPattern"]["detail"] == {"state": {"value": ["ALARM"]}}
    assert rule["Targets"][0]["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeploymentEventsDeadLetterQueue", "Arn"]}}
    persistent = resources["PersistentDataDriftAlarm"]["Properties"]
    assert persistent["EvaluationPeriods"] == persistent["DatapointsToAlarm"] == {"Ref": "DriftRunsBeforeRetraining"}


def test_the_dashboard_is_one_page_of_valid_widgets_naming_the_stacks_alarms() -> None:
    body = TEMPLATE["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    alarm_ids = set(resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")) - {"PersistentDataDriftAlarm"}
    text = re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lambda m: "0.1" if m.group(1) == "DriftAlarmThreshold" else "X", body)

    dashboard = json.loads(text)

    titles = [w["properties"]["title"] for w in dashboard["widgets"]]
    assert titles == [
        "Training runs and their test MSE",
        "Deployments and the live model version",
        "Failures and alarms",
        "Endpoint traffic, latency and errors",
        "Baseline drift per feature (Model Monitor)",
    ]
    names = {
        TEMPLATE["Resources"][alarm]["Properties"]["AlarmName"]["Fn::Sub"].removeprefix("${ResourceNamePrefix}-")
        for alarm in alarm_ids
    }
    named = set(re.findall(r":alarm:\$\{ResourceNamePrefix\}-([a-z0-9-]+)", body))
    assert named == names  # every alarm (the conditional loop-back one excepted) is on the page, by name
