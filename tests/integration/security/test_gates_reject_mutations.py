"""Bad input: a change that drops a VPC, a KMS key or isolation from a SageMaker resource, or widens a role to '*',
fails the gates with a message naming the resource and the rule.

Each test mutates a COPY of the real files (template.yaml, the ASL, the rendered pipeline definition), shows the gate
passes on the unmutated copy, then fails on the mutation. The gates are called as `make security` calls them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cfn import REPO_ROOT, load_template
from security.guard.run import evaluate, scenarios
from security.project_checks import run

SAM_PYTHON = REPO_ROOT / ".venv-sam" / "bin" / "python"
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
DEFINITION = REPO_ROOT / "build" / "pipeline-definition.json"


class Workspace:
    """A copy of the files the gates read, laid out as in the repository."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copy(REPO_ROOT / "template.yaml", root / "template.yaml")
        shutil.copy(REPO_ROOT / "network.yaml", root / "network.yaml")
        shutil.copytree(REPO_ROOT / "statemachine", root / "statemachine")
        if not DEFINITION.exists():
            raise FileNotFoundError(f"{DEFINITION} is missing: run `make definition`")
        (root / "build").mkdir()
        shutil.copy(DEFINITION, root / "build" / "pipeline-definition.json")

    @property
    def template(self) -> Path:
        return self.root / "template.yaml"

    @property
    def definition(self) -> Path:
        return self.root / "build" / "pipeline-definition.json"

    @property
    def asl(self) -> Path:
        """The deploy machine's ASL: the one that creates models, endpoints and transform jobs."""
        return self.root / "statemachine" / "deploy.asl.json"

    def replace(self, path: Path, old: str, new: str) -> None:
        text = path.read_text()
        assert text.count(old) == 1, f"the mutation's anchor is not unique in {path.name}: {old!r}"
        path.write_text(text.replace(old, new))

    def edit_json(self, path: Path, change: Callable[[dict], object]) -> None:  # type: ignore[type-arg]
        document = json.loads(path.read_text())
        change(document)
        path.write_text(json.dumps(document, indent=1))

    def expand(self) -> Path:
        expanded = self.root / "build" / "template.expanded.json"
        subprocess.run(
            [str(SAM_PYTHON), "-m", "security.sam_expand", str(self.template), str(expanded)],
            check=True,
            capture_output=True,
            cwd=REPO_ROOT,
        )
        return expanded

    def project_checks_cli(self) -> subprocess.CompletedProcess[str]:
        """The gate exactly as `make security-project` runs it."""
        command = [
            sys.executable,
            "-m",
            "security.project_checks",
            "--template",
            str(self.template),
            "--expanded",
            str(self.expand()),
            "--definition",
            str(self.definition),
        ]
        return subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False)

    def project_check_failures(self, expanded: Path | None = None) -> list[str]:
        """The same checks in-process (faster); ``expanded`` skips re-expanding an unchanged template."""
        return [str(finding) for finding in run(self.template, expanded or self.expand(), self.definition).findings]


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture(scope="module")
def expanded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The unmutated template, expanded once for the tests that mutate only the ASL or the definition."""
    return Workspace(tmp_path_factory.mktemp("unmutated")).expand()


def test_the_unmutated_copy_passes_the_project_checks(workspace: Workspace) -> None:
    completed = workspace.project_checks_cli()
    assert completed.returncode == 0, completed.stdout
    assert "0 failed" in completed.stdout


@pytest.mark.parametrize(
    ("mutation", "rule", "resource"),
    [
        (lambda s: s["CreateModel"]["Parameters"].pop("VpcConfig"), "PROJECT.ASL.1", "state CreateModel"),
        (
            lambda s: s["CreateModel"]["Parameters"].update(EnableNetworkIsolation=False),
            "PROJECT.ASL.1",
            "state CreateModel",
        ),
        (
            lambda s: s["CreateEndpointConfig"]["Parameters"].pop("KmsKeyId"),
            "PROJECT.ASL.2",
            "state CreateEndpointConfig",
        ),
        (
            lambda s: s["CreateTransformJob"]["Parameters"]["TransformResources"].pop("VolumeKmsKeyId"),
            "PROJECT.ASL.3",
            "state CreateTransformJob",
        ),
        (
            # a key chosen by the execution input instead of the template's substitution
            lambda s: (
                s["CreateTransformJob"]["Parameters"]["TransformOutput"].update({"KmsKeyId.$": "$.KmsKeyId"})
                or s["CreateTransformJob"]["Parameters"]["TransformOutput"].pop("KmsKeyId")
            ),
            "PROJECT.ASL.3",
            "state CreateTransformJob",
        ),
        (
            # the aws-sdk integration's name on an optimised task: that Catch would never match
            lambda s: s["CreateEndpoint"]["Catch"][0].update(ErrorEquals=["SageMaker.SageMakerException"]),
            "PROJECT.ASL.6",
            "state CreateEndpoint",
        ),
        (
            lambda s: s["Plan"]["Retry"][0].update(ErrorEquals=["Lambda.ThrottledException"]),
            "PROJECT.ASL.6",
            "state Plan",
        ),
        (lambda s: s["UpdateEndpoint"].update(Retry=[]), "PROJECT.ASL.7", "state UpdateEndpoint"),
    ],
    ids=[
        "model-without-vpc",
        "model-not-isolated",
        "endpoint-config-without-kms",
        "transform-without-volume-kms",
        "transform-kms-from-input",
        "catch-on-a-name-never-reported",
        "retry-on-an-invented-lambda-error",
        "sdk-task-without-retry",
    ],
)
def test_asl_mutations_fail_naming_the_state_and_rule(
    workspace: Workspace,
    expanded_template: Path,
    mutation: Callable[[dict], object],  # type: ignore[type-arg]
    rule: str,
    resource: str,
) -> None:
    workspace.edit_json(workspace.asl, lambda document: mutation(document["States"]))

    failures = workspace.project_check_failures(expanded_template)

    assert any(rule in line and resource in line for line in failures), failures


@pytest.mark.parametrize(
    ("step_type", "mutation", "rule"),
    [
        ("Training", lambda a: a["ResourceConfig"].pop("VolumeKmsKeyId"), "PROJECT.PIPELINE.2"),
        ("Training", lambda a: a.pop("VpcConfig"), "PROJECT.PIPELINE.2"),
        ("Processing", lambda a: a["NetworkConfig"].update(EnableNetworkIsolation=False), "PROJECT.PIPELINE.1"),
        ("Processing", lambda a: a["ProcessingOutputConfig"].pop("KmsKeyId"), "PROJECT.PIPELINE.1"),
        ("Model", lambda a: a.pop("VpcConfig"), "PROJECT.PIPELINE.3"),
        ("Model", lambda a: a.update(EnableNetworkIsolation=False), "PROJECT.PIPELINE.3"),
        ("Transform", lambda a: a["TransformOutput"].pop("KmsKeyId"), "PROJECT.PIPELINE.3"),
    ],
    ids=[
        "training-without-volume-kms",
        "training-without-vpc",
        "processing-not-isolated",
        "processing-without-output-kms",
        "serving-model-without-vpc",
        "serving-model-not-isolated",
        "transform-without-output-kms",
    ],
)
def test_pipeline_definition_mutations_fail_naming_the_step_and_rule(
    workspace: Workspace,
    expanded_template: Path,
    step_type: str,
    mutation: Callable[[dict], object],  # type: ignore[type-arg]
    rule: str,
) -> None:
    document = json.loads(workspace.definition.read_text())
    step = next(s for s in document["Steps"] if s["Type"] == step_type)
    mutation(step["Arguments"])
    workspace.definition.write_text(json.dumps(document))

    failures = workspace.project_check_failures(expanded_template)

    assert any(rule in line and f"step {step['Name']}" in line for line in failures), failures


def test_widening_a_role_to_star_fails_naming_the_role_and_rule(workspace: Workspace) -> None:
    workspace.replace(
        workspace.template,
        "              - Sid: DeployWithThisStacksNames\n",
        "              - Sid: Everything\n                Effect: Allow\n                Action: sagemaker:*\n"
        '                Resource: "*"\n              - Sid: DeployWithThisStacksNames\n',
    )

    completed = workspace.project_checks_cli()

    assert completed.returncode == 1
    assert any(
        line.startswith("FAIL [PROJECT.IAM.1]") and "DeployStateMachineRole" in line and "sagemaker:*" in line
        for line in completed.stdout.splitlines()
    ), completed.stdout


def test_unscoped_resource_fails_where_a_scoped_one_exists(workspace: Workspace) -> None:
    workspace.replace(
        workspace.template,
        '              Resource: !Sub "${ArtifactsBucket.Arn}/pipeline-code/*"\n',
        '              Resource: "*"\n',
    )

    failures = [line for line in workspace.project_check_failures() if "PROJECT.IAM.2" in line]

    assert failures and "UpsertPipelineFunctionRole" in failures[0] and "s3:PutObject" in failures[0], failures


def test_a_sagemaker_role_without_the_preventive_controls_fails(workspace: Workspace) -> None:
    workspace.replace(
        workspace.template,
        "        - !If [DeploysModels, !Ref DeployStateMachineRole, !Ref AWS::NoValue]\n"
        "        - !If [DeploysModels, !Ref DeployStepsFunctionRole, !Ref AWS::NoValue]\n",
        "        - !If [DeploysModels, !Ref DeployStepsFunctionRole, !Ref AWS::NoValue]\n",
    )

    failures = workspace.project_check_failures()

    assert any("FAIL [PROJECT.IAM.4]" in line and "DeployStateMachineRole" in line for line in failures), failures


def test_cfn_guard_fails_naming_the_resource_when_encryption_is_dropped(workspace: Workspace) -> None:
    network = load_template(workspace.root / "network.yaml")
    baseline = evaluate(scenarios(json.loads(workspace.expand().read_text()), network), workspace.root / "guard-ok")
    assert baseline.ok, [str(f) for f in baseline.findings]
    project_key = "      KmsMasterKeyId: !If [CreateKmsKey, !GetAtt ProjectKey.Arn, !Ref KmsKeyArn]\n"
    workspace.replace(
        workspace.template, f"    Properties:\n{project_key}      Message", "    Properties:\n      Message"
    )
    workspace.replace(
        workspace.template, f"      DisplayName: Abalone MLOps\n{project_key}", "      DisplayName: Abalone MLOps\n"
    )

    report = evaluate(scenarios(json.loads(workspace.expand().read_text()), network), workspace.root / "guard")

    failures = {(f.control, f.resource) for f in report.findings}
    assert ("CT.SQS.PR.2", "DeploymentEventsDeadLetterQueue") in failures
    assert ("PROJECT.SNS.1", "NotificationTopic") in failures
    assert not report.ok


STATE_MACHINE_ENCRYPTION = (
    "        TargetInvocationsPerInstance: !Ref TargetInvocationsPerInstance\n"
    "      EncryptionConfiguration:\n"
    "        Type: CUSTOMER_MANAGED_KMS_KEY\n"
    "        KmsKeyId: !If [CreateKmsKey, !GetAtt ProjectKey.Arn, !Ref KmsKeyArn]\n"
    "        KmsDataKeyReusePeriodSeconds: 300\n"
)


def test_dropping_the_state_machine_encryption_fails_the_project_checks_and_guard(workspace: Workspace) -> None:
    """Without EncryptionConfiguration Step Functions keeps execution history under an AWS-owned key (rule 6)."""
    workspace.replace(
        workspace.template, STATE_MACHINE_ENCRYPTION, STATE_MACHINE_ENCRYPTION.splitlines(keepends=True)[0]
    )
    expanded = workspace.expand()

    failures = workspace.project_check_failures(expanded)
    report = evaluate(
        scenarios(json.loads(expanded.read_text()), load_template(workspace.root / "network.yaml")),
        workspace.root / "guard",
    )

    assert any(
        line.startswith("FAIL [PROJECT.ASL.5]") and "DeployStateMachine" in line and "CUSTOMER_MANAGED" in line
        for line in failures
    ), failures
    assert ("PROJECT.STATES.2", "DeployStateMachine") in {(f.control, f.resource) for f in report.findings}


def test_encrypting_the_state_machine_with_another_key_fails_naming_the_rule(workspace: Workspace) -> None:
    workspace.replace(
        workspace.template,
        STATE_MACHINE_ENCRYPTION,
        STATE_MACHINE_ENCRYPTION.replace(
            "!If [CreateKmsKey, !GetAtt ProjectKey.Arn, !Ref KmsKeyArn]", "alias/aws/states"
        ),
    )

    failures = [line for line in workspace.project_check_failures() if "PROJECT.ASL.5" in line]

    assert len(failures) == 1 and "DeployStateMachine" in failures[0] and "project key" in failures[0], failures


def test_checkov_fails_naming_the_state_machine_when_tracing_is_dropped(workspace: Workspace) -> None:
    workspace.replace(
        workspace.template,
        "              LogGroupArn: !GetAtt DeployStateMachineLogGroup.Arn\n"
        "      TracingConfiguration:\n        Enabled: true\n",
        "              LogGroupArn: !GetAtt DeployStateMachineLogGroup.Arn\n",
    )
    command = [
        str(CHECKOV),
        "--config-file",
        str(REPO_ROOT / "security/checkov/config.yaml"),
        "-f",
        str(workspace.template),
        "--quiet",
    ]

    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False)

    assert completed.returncode == 1
    assert "CKV_ABALONE_3" in completed.stdout and "DeployStateMachine" in completed.stdout, completed.stdout


def test_a_waiver_that_no_longer_matches_a_failure_fails_the_gate(
    workspace: Workspace, expanded_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import security.guard.run as guard

    real = guard.waivers()
    monkeypatch.setattr(
        guard, "waivers", lambda: {**real, ("sqs_queue_encrypted_check", "DeploymentEventsDeadLetterQueue"): "x"}
    )
    network = load_template(workspace.root / "network.yaml")

    report = evaluate(scenarios(json.loads(expanded_template.read_text()), network), workspace.root / "guard")

    assert not report.ok
    assert report.stale_waivers == (
        "waiver for sqs_queue_encrypted_check on DeploymentEventsDeadLetterQueue matches no failure: remove it",
    )


def test_cfn_guard_fails_naming_the_resource_when_the_network_opens_to_the_internet(
    workspace: Workspace, expanded_template: Path
) -> None:
    network_path = workspace.root / "network.yaml"
    subnet_a_tags = '      Tags:\n        - { Key: Name, Value: !Sub "${AWS::StackName}-private-a" }\n'
    workspace.replace(
        network_path,
        f"      MapPublicIpOnLaunch: false\n{subnet_a_tags}",
        f"      MapPublicIpOnLaunch: true\n{subnet_a_tags}",
    )
    workspace.replace(
        network_path,
        "  PrivateRouteTable:\n",
        "  InternetGateway:\n    Type: AWS::EC2::InternetGateway\n\n  PrivateRouteTable:\n",
    )

    report = evaluate(
        scenarios(json.loads(expanded_template.read_text()), load_template(network_path)), workspace.root / "guard"
    )

    failures = {(f.control, f.resource) for f in report.findings}
    assert ("PROJECT.NETWORK.1", "PrivateSubnetA") in failures
    assert ("CT.EC2.PR.11", "PrivateSubnetA") in failures
    assert ("PROJECT.NETWORK.2", "InternetGateway") in failures


CUSTOM_CHECK_FIXTURE = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  OpenModel:
    Type: AWS::SageMaker::Model
    Properties:
      ExecutionRoleArn: arn:aws:iam::123456789012:role/r
      EnableNetworkIsolation: false
  UnencryptedConfig:
    Type: AWS::SageMaker::EndpointConfig
    Properties:
      ProductionVariants: [{ModelName: m, VariantName: v, InitialInstanceCount: 1, InstanceType: ml.m5.large}]
  LossyRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [aws.sagemaker]}
      Targets: [{Id: t, Arn: arn:aws:lambda:eu-west-1:123456789012:function:f}]
  PassAnything:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Action: iam:PassRole, Resource: "*"}]
"""


def test_each_custom_checkov_check_fails_naming_its_resource(tmp_path: Path) -> None:
    template = tmp_path / "bad.yaml"
    template.write_text(CUSTOM_CHECK_FIXTURE)
    command = [str(CHECKOV), "--config-file", str(REPO_ROOT / "security/checkov/config.yaml"), "-f", str(template)]
    command += ["-o", "json", "--check", "CKV_ABALONE_1,CKV_ABALONE_2,CKV_ABALONE_4,CKV_ABALONE_5"]

    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False)

    failed = {(c["check_id"], c["resource"]) for c in json.loads(completed.stdout)["results"]["failed_checks"]}
    assert failed == {
        ("CKV_ABALONE_1", "AWS::SageMaker::EndpointConfig.UnencryptedConfig"),
        ("CKV_ABALONE_2", "AWS::SageMaker::Model.OpenModel"),
        ("CKV_ABALONE_4", "AWS::Events::Rule.LossyRule"),
        ("CKV_ABALONE_5", "AWS::IAM::ManagedPolicy.PassAnything"),
    }


def test_a_null_deny_on_an_action_without_the_key_fails_naming_the_statement(workspace: Workspace) -> None:
    """The published pattern's trap, re-introduced: CreateEndpoint never carries sagemaker:VpcSubnets."""
    workspace.replace(
        workspace.template,
        "- Sid: DenyMissingVpcSubnets\n            Effect: Deny\n            Action: [",
        "- Sid: DenyMissingVpcSubnets\n            Effect: Deny\n            Action: [sagemaker:CreateEndpoint, ",
    )

    failures = [line for line in workspace.project_check_failures() if "PROJECT.IAM.5" in line]

    assert failures == [
        "FAIL [PROJECT.IAM.5] template.expanded.json: SageMakerPreventiveControlsPolicy: statement "
        "DenyMissingVpcSubnets: sagemaker:CreateEndpoint does not carry sagemaker:VpcSubnets"
    ]
