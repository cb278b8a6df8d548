"""Deleting the stack: CloudFormation's Delete request to the DeploymentCleanup custom resource (the built clean-up
function, as Lambda runs it) removes what the deploy path created outside the template -- the endpoint, its
monitoring schedule and job definitions."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.account import TestStack

# CloudFormation's pre-signed S3 URL cannot be served here (the function answers only https URLs, and this machine has
# no certificate its python3.13 worker would trust), so the answer is the one step that fails: everything before it
# -- the clean-up -- is what this test checks. The answer itself is unit-tested (tests/unit/functions).
UNREACHABLE_RESPONSE_URL = "http://127.0.0.1:9/cloudformation-response"


def test_stack_deletion_removes_the_endpoint_and_its_monitoring(stack: TestStack, load_event: Any) -> None:
    stack.register("Approved", baseline=True)
    (execution,) = stack.settle()
    assert execution["status"] == "SUCCEEDED"
    sagemaker = stack.client("sagemaker")
    assert sagemaker.list_monitoring_schedules()["MonitoringScheduleSummaries"]
    assert sagemaker.list_data_quality_job_definitions()["JobDefinitionSummaries"]
    function = stack.function("CleanupDeploymentsFunction")
    event = {
        **load_event("deployment_janitor/cfn-delete.json"),
        "ResponseURL": UNREACHABLE_RESPONSE_URL,
        "ResourceProperties": {"ServiceToken": function, "StackName": stack.stack.name},
        "PhysicalResourceId": f"deployment-cleanup/{stack.stack.name}",
    }

    response = stack.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())

    error = json.loads(response["Payload"].read())
    assert "ResponseURL must be an https URL" in error["errorMessage"]
    assert sagemaker.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
    assert sagemaker.list_data_quality_job_definitions()["JobDefinitionSummaries"] == []
    assert stack.live_config() is None
