"""One registry, many accounts, least privilege across them -- evaluated by the IAM policy simulator.

The same template plays three roles (StackRole): the registry account shares its group, the model artifacts and their
key with the staging and production accounts; each target account's roles reach only that. Cross-account access needs
both sides to allow it (the target's identity policy and the registry's resource policy), so each case is evaluated
with both, as AWS does. Who may promote is enforced by the two reviewer policies (UpdateModelPackage carries
sagemaker:ModelApprovalStatus and sagemaker:ModelLifeCycle:Stage).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from cfn import REPO_ROOT
from security.iam.controls import PROJECT_KMS_KEY_ARN, REGION, resource_policy, role_policies
from security.iam.simulator import Case, Request, simulate

REGISTRY, STAGING, PRODUCTION, STRANGER = "123456789012", "210987654321", "345678901234", "456789012345"
GROUP = "abalone"
PACKAGE = f"arn:aws:sagemaker:{REGION}:{REGISTRY}:model-package/{GROUP}/3"
GROUP_ARN = f"arn:aws:sagemaker:{REGION}:{REGISTRY}:model-package-group/{GROUP}"
ARTIFACT = "arn:aws:s3:::abalone-dev-artifactsbucket/pipeline-runs/training/pipelines-x7k2-Train/output/model.tar.gz"
TEST_SPLIT = "arn:aws:s3:::abalone-dev-artifactsbucket/pipeline-runs/x7k2/PreprocessAbaloneData/test/test.csv"
DATA = "arn:aws:s3:::abalone-dev-artifactsbucket/data/abalone.csv"

ROLES = {"single": False, "registry": False, "target": False}
REGISTRY_CONDITIONS = {
    "IsSingleAccount": False,
    "IsRegistry": True,
    "IsTarget": False,
    "TrainsModels": True,
    "DeploysModels": False,
    "SharesWithStaging": True,
    "SharesWithProduction": True,
    "VerifiesInStaging": False,
}
REGISTRY_PARAMETERS = {"StackRole": "registry", "StagingAccountId": STAGING, "ProductionAccountId": PRODUCTION}


def target_conditions(stage: str) -> dict[str, bool]:
    return {
        "IsSingleAccount": False,
        "IsRegistry": False,
        "IsTarget": True,
        "TrainsModels": False,
        "DeploysModels": True,
        "SharesWithStaging": False,
        "SharesWithProduction": False,
        "VerifiesInStaging": stage == "staging",
    }


def target_parameters(stage: str) -> dict[str, str]:
    return {"StackRole": "target", "RegistryAccountId": REGISTRY, "DeploymentStage": stage}


@pytest.fixture(scope="module")
def expanded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("expanded") / "template.expanded.json"
    command = [str(REPO_ROOT / ".venv-sam/bin/python"), "-m", "security.sam_expand", "template.yaml", str(target)]
    subprocess.run(command, check=True, capture_output=True, cwd=REPO_ROOT)
    document: dict[str, Any] = json.loads(target.read_text())
    return document


def _function_role(expanded: dict[str, Any], function: str) -> str:
    return str(expanded["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0])


def _target_role(expanded: dict[str, Any], logical_id: str, stage: str) -> dict[str, dict[str, Any]]:
    return role_policies(expanded, logical_id, conditions=target_conditions(stage), parameters=target_parameters(stage))


def _registry_policy(expanded: dict[str, Any], logical_id: str, name: str) -> dict[str, Any]:
    return resource_policy(expanded, logical_id, name, conditions=REGISTRY_CONDITIONS, parameters=REGISTRY_PARAMETERS)


def _decisions(cases: dict[str, Case]) -> dict[str, str]:
    results = simulate(
        [Case(name, c.policies, c.request, c.resource_policy, c.resource_account) for name, c in cases.items()]
    )
    return {name: result.decision for name, result in results.items()}


def test_target_accounts_read_and_deploy_only_this_groups_packages(expanded: dict[str, Any]) -> None:
    group_policy = _registry_policy(expanded, "ModelPackageGroup", "ModelPackageGroupPolicy")
    reconciler = _target_role(expanded, _function_role(expanded, "ReconcileDeploymentsFunction"), "production")
    deploy_steps = _target_role(expanded, _function_role(expanded, "DeployStepsFunction"), "staging")

    def case(policies: dict[str, Any], action: str, resource: str, account: str) -> Case:
        principal = f"arn:aws:iam::{account}:role/abalone-mlops-function"
        return Case("", policies, Request(action, resource, {}, principal=principal), group_policy, REGISTRY)

    cases = {
        "production-lists-the-group": case(reconciler, "sagemaker:ListModelPackages", PACKAGE, PRODUCTION),
        "staging-describes-a-package": case(deploy_steps, "sagemaker:DescribeModelPackage", PACKAGE, STAGING),
        "an-unlisted-account-lists-nothing": case(reconciler, "sagemaker:ListModelPackages", PACKAGE, STRANGER),
        "another-groups-packages-stay-closed": case(
            reconciler,
            "sagemaker:ListModelPackages",
            f"arn:aws:sagemaker:{REGION}:{REGISTRY}:model-package/someone-elses/1",
            PRODUCTION,
        ),
    }

    assert _decisions(cases) == {
        "production-lists-the-group": "Allowed",
        "staging-describes-a-package": "Allowed",
        "an-unlisted-account-lists-nothing": "ImplicitlyDenied",
        "another-groups-packages-stay-closed": "ImplicitlyDenied",
    }


def test_staging_records_its_smoke_test_but_never_approves_or_promotes(expanded: dict[str, Any]) -> None:
    group_policy = _registry_policy(expanded, "ModelPackageGroup", "ModelPackageGroupPolicy")
    staging = _target_role(expanded, _function_role(expanded, "DeployStepsFunction"), "staging")
    production = _target_role(expanded, _function_role(expanded, "DeployStepsFunction"), "production")

    def update(policies: dict[str, Any], account: str, context: dict[str, str]) -> Case:
        request = Request(
            "sagemaker:UpdateModelPackage", PACKAGE, context, principal=f"arn:aws:iam::{account}:role/deploy-steps"
        )
        return Case("", policies, request, group_policy, REGISTRY)

    metadata = {"sagemaker:CustomerMetadataProperties/staging-verification": "verified"}
    cases = {
        "staging-records-metadata": update(staging, STAGING, metadata),
        "staging-approves": update(staging, STAGING, {"sagemaker:ModelApprovalStatus": "Approved"}),
        "staging-promotes": update(staging, STAGING, {"sagemaker:ModelLifeCycle:Stage": "Production"}),
        "production-records-metadata": update(production, PRODUCTION, metadata),
    }

    assert _decisions(cases) == {
        "staging-records-metadata": "Allowed",
        "staging-approves": "ImplicitlyDenied",
        "staging-promotes": "ImplicitlyDenied",
        "production-records-metadata": "ImplicitlyDenied",
    }


def test_target_execution_roles_read_only_the_model_artifacts_and_decrypt_only_through_s3(
    expanded: dict[str, Any],
) -> None:
    bucket_policy = _registry_policy(expanded, "ArtifactsBucketPolicy", "PolicyDocument")
    key_policy = _registry_policy(expanded, "ProjectKey", "KeyPolicy")
    execution = _target_role(expanded, "SageMakerExecutionRole", "production")
    principal = f"arn:aws:iam::{PRODUCTION}:role/abalone-mlops-SageMakerExecutionRole"

    def read(resource: str, account: str = PRODUCTION) -> Case:
        context = {"s3:ResourceAccount": REGISTRY}
        who = principal.replace(PRODUCTION, account)
        return Case("", execution, Request("s3:GetObject", resource, context, principal=who), bucket_policy, REGISTRY)

    def decrypt(via: str | None) -> Case:
        context = {"kms:ViaService": via} if via else {}
        key = PROJECT_KMS_KEY_ARN.replace(":123456789012:", f":{REGISTRY}:")
        return Case("", execution, Request("kms:Decrypt", key, context, principal=principal), key_policy, REGISTRY)

    cases = {
        "the-model-artifact": read(ARTIFACT),
        "the-raw-data": read(DATA),
        "the-test-split": read(TEST_SPLIT),  # staging's smoke test only, not production's execution role
        "an-unlisted-account": read(ARTIFACT, STRANGER),
        "decrypt-through-s3": decrypt(f"s3.{REGION}.amazonaws.com"),
        "decrypt-directly": decrypt(None),
    }

    assert _decisions(cases) == {
        "the-model-artifact": "Allowed",
        "the-raw-data": "ImplicitlyDenied",
        "the-test-split": "ImplicitlyDenied",
        "an-unlisted-account": "ImplicitlyDenied",
        "decrypt-through-s3": "Allowed",
        "decrypt-directly": "ImplicitlyDenied",
    }


def test_the_registry_account_can_create_nothing_in_a_target_account(expanded: dict[str, Any]) -> None:
    pipeline_role = role_policies(
        expanded, "SageMakerExecutionRole", conditions=REGISTRY_CONDITIONS, parameters=REGISTRY_PARAMETERS
    )
    principal = f"arn:aws:iam::{REGISTRY}:role/abalone-mlops-SageMakerExecutionRole"
    cases = {
        action: Case(
            "",
            pipeline_role,
            Request(f"sagemaker:{action}", f"arn:aws:sagemaker:{REGION}:{PRODUCTION}:{kind}", {}, principal=principal),
            None,
            PRODUCTION,
        )
        for action, kind in (
            ("CreateModel", "model/pipelines-x"),
            ("CreateEndpoint", "endpoint/abalone-mlops-endpoint"),
            ("CreateTransformJob", "transform-job/pipelines-x"),
        )
    }

    assert "Allowed" not in set(_decisions(cases).values())


def test_only_the_production_approver_promotes_and_only_the_approver_approves(expanded: dict[str, Any]) -> None:
    def reviewer(logical_id: str) -> dict[str, dict[str, Any]]:
        document = resource_policy(
            expanded, logical_id, "PolicyDocument", conditions=REGISTRY_CONDITIONS, parameters=REGISTRY_PARAMETERS
        )
        return {logical_id: document}

    def update(policy: str, context: dict[str, str]) -> Case:
        request = Request("sagemaker:UpdateModelPackage", PACKAGE, context, principal=f"arn:aws:iam::{REGISTRY}:role/r")
        return Case("", reviewer(policy), request)

    approve = {"sagemaker:ModelApprovalStatus": "Approved"}
    promote = {"sagemaker:ModelLifeCycle:Stage": "Production", "sagemaker:ModelLifeCycle:StageStatus": "Approved"}
    cases = {
        "approver-approves": update("ModelApproverPolicy", approve),
        "approver-promotes": update("ModelApproverPolicy", promote),
        "approver-promotes-in-other-case": update(
            "ModelApproverPolicy", {"sagemaker:ModelLifeCycle:Stage": "production"}
        ),
        "approver-sets-another-stage": update("ModelApproverPolicy", {"sagemaker:ModelLifeCycle:Stage": "Staging"}),
        "production-approver-promotes": update("ProductionApproverPolicy", promote),
        "production-approver-approves": update("ProductionApproverPolicy", approve),
        "production-approver-promotes-and-approves": update("ProductionApproverPolicy", {**promote, **approve}),
        "production-approver-edits-metadata": update("ProductionApproverPolicy", {}),
    }

    assert _decisions(cases) == {
        "approver-approves": "Allowed",
        "approver-promotes": "ExplicitlyDenied",
        "approver-promotes-in-other-case": "ExplicitlyDenied",
        "approver-sets-another-stage": "Allowed",
        "production-approver-promotes": "Allowed",
        "production-approver-approves": "ExplicitlyDenied",
        "production-approver-promotes-and-approves": "ExplicitlyDenied",
        "production-approver-edits-metadata": "ImplicitlyDenied",
    }
