"""The preventive controls, evaluated by a real IAM policy simulator (@cloud-copilot/iam-simulate).

Each deny statement of SageMakerPreventiveControlsPolicy, read from template.yaml, gets a realistic request it must
allow and, for every action it lists, one it must deny. The known traps of the published deny pattern are regression
cases: they show the naive pattern fails where the project's policy does not.
"""

from __future__ import annotations

from typing import Any

import pytest

from security.iam.controls import policy_document
from security.iam.simulator import Case, Request, Result, simulate
from tests.integration.security.requests import COMPLIANT, statement_conditions, violations

# Stands for every grant the roles have now or may get later: the preventive controls must hold regardless.
ALLOW_ALL_SAGEMAKER = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "AnyGrant", "Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}],
}


@pytest.fixture(scope="module")
def preventive() -> dict[str, Any]:
    return policy_document()


def _deny_statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if s["Effect"] == "Deny"]


def _run(policy: dict[str, Any], requests: dict[str, Request]) -> dict[str, Result]:
    cases = [
        Case(case_id, {"Preventive": policy, "Grants": ALLOW_ALL_SAGEMAKER}, req) for case_id, req in requests.items()
    ]
    results = simulate(cases)
    errors = {case_id: r.errors for case_id, r in results.items() if r.decision == "Error"}
    assert not errors, f"the simulator rejected requests: {errors}"
    return results


def test_every_deny_statement_allows_the_compliant_request_and_denies_each_violation(
    preventive: dict[str, Any],
) -> None:
    requests: dict[str, Request] = {}
    for statement in _deny_statements(preventive):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert action in COMPLIANT, f"{statement['Sid']}: no realistic request for {action} in requests.py"
            requests[f"allow|{action}"] = COMPLIANT[action]
            for operator, key in statement_conditions(statement):
                for index, violation in enumerate(violations(COMPLIANT[action], operator, key)):
                    requests[f"deny|{statement['Sid']}|{action}|{index}"] = violation

    results = _run(preventive, requests)

    wrong: dict[str, tuple[str, tuple[str, ...]]] = {}
    for case_id, result in results.items():
        kind, *rest = case_id.split("|")
        if kind == "allow" and result.decision != "Allowed":
            wrong[case_id] = (result.decision, result.deny_statements)
        if kind == "deny" and (result.decision != "ExplicitlyDenied" or rest[0] not in result.deny_statements):
            wrong[case_id] = (result.decision, result.deny_statements)
    assert not wrong, f"decisions that differ from the intent: {wrong}"
    assert sum(1 for c in results if c.startswith("deny|")) >= len(_deny_statements(preventive))


def test_compliant_requests_are_realistic(preventive: dict[str, Any]) -> None:
    """Every context key in the sample requests is one AWS sends for that action (none ignored by the simulator)."""
    results = _run(preventive, {f"allow|{action}": request for action, request in COMPLIANT.items()})

    ignored = {case_id: r.ignored_context_keys for case_id, r in results.items() if r.ignored_context_keys}
    assert not ignored, f"context keys the action does not carry: {ignored}"
    assert {r.decision for r in results.values()} == {"Allowed"}


NAIVE_PATTERN = {
    # The published pattern: one IfExists condition on every Create action.
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "NaiveRequireVpc",
            "Effect": "Deny",
            "Action": "sagemaker:Create*",
            "Resource": "*",
            "Condition": {"StringNotEqualsIfExists": {"sagemaker:VpcSubnets": ["subnet-0a1b2c3d4e5f60001"]}},
        }
    ],
}


@pytest.mark.parametrize(
    "action",
    [
        "sagemaker:CreateEndpoint",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateTransformJob",
        "sagemaker:CreatePipeline",
    ],
)
def test_naive_ifexists_pattern_denies_creates_without_the_key_and_the_project_policy_does_not(
    preventive: dict[str, Any], action: str
) -> None:
    request = COMPLIANT[action]

    naive = _run(NAIVE_PATTERN, {"naive": request})["naive"]
    project = _run(preventive, {"project": request})["project"]

    assert naive.decision == "ExplicitlyDenied" and naive.deny_statements == ("NaiveRequireVpc",)
    assert project.decision == "Allowed", project.deny_statements


def test_keys_in_one_condition_block_are_anded_so_the_project_uses_one_statement_per_key(
    preventive: dict[str, Any],
) -> None:
    combined = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CombinedNullKeys",
                "Effect": "Deny",
                "Action": "sagemaker:CreateTrainingJob",
                "Resource": "*",
                "Condition": {"Null": {"sagemaker:VpcSubnets": "true", "sagemaker:NetworkIsolation": "true"}},
            }
        ],
    }
    (not_isolated,) = violations(COMPLIANT["sagemaker:CreateTrainingJob"], "Null", "sagemaker:NetworkIsolation")

    combined_result = _run(combined, {"c": not_isolated})["c"]
    project_result = _run(preventive, {"p": not_isolated})["p"]

    assert combined_result.decision == "Allowed"  # the trap: the VPC is there, so the AND is false
    assert project_result.decision == "ExplicitlyDenied"
    assert project_result.deny_statements == ("DenyMissingNetworkIsolation",)


def test_bool_keys_need_bool_operators(preventive: dict[str, Any]) -> None:
    """A StringEquals "false" test misses the value "False"; the Bool operator in the project's policy does not."""
    string_compare = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StringCompare",
                "Effect": "Deny",
                "Action": "sagemaker:CreateModel",
                "Resource": "*",
                "Condition": {"StringEquals": {"sagemaker:NetworkIsolation": "false"}},
            }
        ],
    }
    request = COMPLIANT["sagemaker:CreateModel"]
    capitalised = Request(request.action, request.resource, {**request.context, "sagemaker:NetworkIsolation": "False"})

    naive = _run(string_compare, {"n": capitalised})["n"]
    project = _run(preventive, {"p": capitalised})["p"]

    assert naive.decision == "Allowed"
    assert project.decision == "ExplicitlyDenied" and "DenyNetworkIsolationDisabled" in project.deny_statements


def test_transform_job_without_vpc_keys_is_allowed_because_it_inherits_the_models_vpc(
    preventive: dict[str, Any],
) -> None:
    request = COMPLIANT["sagemaker:CreateTransformJob"]
    assert "sagemaker:VpcSubnets" not in request.context

    assert _run(preventive, {"t": request})["t"].decision == "Allowed"


def test_update_notebook_without_root_access_key_is_allowed_but_enabling_root_is_denied(
    preventive: dict[str, Any],
) -> None:
    """RootAccess is optional on UpdateNotebookInstance: a Null deny there would block every update."""
    update = COMPLIANT["sagemaker:UpdateNotebookInstance"]
    (enable_root,) = violations(update, "StringEquals", "sagemaker:RootAccess")

    results = _run(preventive, {"update": update, "root": enable_root})

    assert results["update"].decision == "Allowed"
    assert results["root"].deny_statements == ("DenyEnablingNotebookRootAccess",)
