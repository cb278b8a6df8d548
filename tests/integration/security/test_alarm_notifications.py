"""Alarms that arrive: every alarm of the stack notifies the team's topic, and the topic's key lets CloudWatch publish.

An SNS topic encrypted with a customer-managed key accepts CloudWatch's alarm notifications only if the key policy
lets cloudwatch.amazonaws.com use the key (SNS developer guide, "Enable compatibility between event sources from AWS
services and encrypted topics"); without it the alarm fires and nothing arrives. The key policy is evaluated here by
the IAM policy simulator, for each alarm as CloudWatch would present it (aws:SourceArn = the alarm, aws:SourceAccount).
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from cfn import REPO_ROOT
from security.iam.controls import ACCOUNT_ID, PROJECT_KMS_KEY_ARN, REGION, resolved_resources, resource_policy
from security.iam.simulator import Case, Request, simulate

CLOUDWATCH = "cloudwatch.amazonaws.com"


@pytest.fixture(scope="module")
def expanded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("expanded") / "template.expanded.json"
    command = [str(REPO_ROOT / ".venv-sam/bin/python"), "-m", "security.sam_expand", "template.yaml", str(target)]
    subprocess.run(command, check=True, capture_output=True, cwd=REPO_ROOT)
    document: dict[str, Any] = json.loads(target.read_text())
    return document


def _publish(alarm_arn: str, action: str, account: str = ACCOUNT_ID) -> Request:
    return Request(
        action, PROJECT_KMS_KEY_ARN, {"aws:SourceArn": alarm_arn, "aws:SourceAccount": account}, principal=CLOUDWATCH
    )


def test_every_alarm_notifies_the_topic(expanded: dict[str, Any]) -> None:
    alarms = resolved_resources(expanded, "AWS::CloudWatch::Alarm")
    topic = {"Ref": "NotificationTopic"}
    raw = {logical_id: expanded["Resources"][logical_id]["Properties"] for logical_id in alarms}

    assert len(alarms) >= 9
    for logical_id, properties in raw.items():
        assert topic in properties.get("AlarmActions", []), f"{logical_id} notifies no one"


def test_the_key_lets_cloudwatch_publish_every_alarm_and_nothing_else(expanded: dict[str, Any]) -> None:
    key_policy = resource_policy(expanded, "ProjectKey", "KeyPolicy")
    alarms = resolved_resources(expanded, "AWS::CloudWatch::Alarm")
    cases = [
        Case(
            f"{logical_id}/{action}",
            {},
            _publish(f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{p['AlarmName']}", action),
            key_policy,
        )
        for logical_id, p in alarms.items()
        for action in ("kms:GenerateDataKey", "kms:Decrypt")
    ]
    foreign = {
        "another-stacks-alarm": _publish(f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:someone-else", "kms:Decrypt"),
        "another-accounts-alarm": _publish(
            f"arn:aws:cloudwatch:{REGION}:210987654321:alarm:abalone-mlops-data-drift", "kms:Decrypt", "210987654321"
        ),
        "a-use-beyond-publishing": Request(
            "kms:Encrypt",
            PROJECT_KMS_KEY_ARN,
            {
                "aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:abalone-mlops-data-drift",
                "aws:SourceAccount": ACCOUNT_ID,
            },
            principal=CLOUDWATCH,
        ),
    }
    cases += [Case(name, {}, request, key_policy) for name, request in foreign.items()]

    results = simulate(cases)

    allowed = {case.id for case in cases[: -len(foreign)]}
    assert {name for name, r in results.items() if r.decision == "Allowed"} == allowed
    assert all(results[name].decision == "ImplicitlyDenied" for name in foreign)
