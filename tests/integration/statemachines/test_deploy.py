"""The deploy state machine (deploy.asl.json) executed in the emulated account with the built functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local_twin.emulator import SECURITY_GROUPS, SUBNETS
from tests.integration.account import Stacks, TestStack

TAG = "sagemaker-secure-mlops:stack"


def tags(stack: TestStack, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in stack.client("sagemaker").list_tags(ResourceArn=arn)["Tags"]}


def test_a_first_deployment_creates_a_vpc_bound_isolated_encrypted_endpoint(stack: TestStack) -> None:
    package = stack.register("Approved")
    (execution,) = stack.settle()
    assert execution["status"] == "SUCCEEDED"
    assert stack.states(execution["executionArn"]) == [
        "Plan", "RouteAction", "CreateModel", "RouteTarget", "CreateEndpointConfig", "Gate", "RouteGate",
        "CreateEndpoint", "WaitForResource", "CheckResource", "ResourceDone", "RegisterScalableTarget",
        "PutScalingPolicy", "EndpointOutcome", "Monitor", "Verify", "Prune", "Finish", "Finished", "Succeeded",
    ]  # fmt: skip
    sagemaker = stack.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=stack.endpoint)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == package
    assert model["VpcConfig"] == {"Subnets": list(SUBNETS), "SecurityGroupIds": list(SECURITY_GROUPS)}
    assert model["EnableNetworkIsolation"] is True
    assert model["ExecutionRoleArn"] == stack.stack.attribute("SageMakerExecutionRole", "Arn")
    assert config["KmsKeyId"] == stack.stack.attribute("ProjectKey", "Arn")
    capture = config["DataCaptureConfig"]  # sampled, KMS-encrypted
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 20
    assert capture["KmsKeyId"] == config["KmsKeyId"]
    assert capture["DestinationS3Uri"] == f"s3://{stack.bucket}/data-capture"
    for arn in (model["ModelArn"], config["EndpointConfigArn"], endpoint["EndpointArn"]):
        assert tags(stack, arn)[TAG] == "abalone-mlops"  # what the stack's clean-up finds
    assert len(model["ModelName"]) <= 63


def test_an_update_is_blue_green_with_the_templates_shifting_alarms_and_autoscaling(stack: TestStack) -> None:
    stack.register("Approved")
    stack.settle()
    stack.register("Approved")
    executions = stack.settle()
    assert [e["status"] for e in executions] == ["SUCCEEDED", "SUCCEEDED"]
    (request,) = stack.aws.deployments.update_requests
    policy = request["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 300,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
    }
    assert policy["TerminationWaitInSeconds"] == 600
    alarms = [a["AlarmName"] for a in request["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    assert alarms == [stack.stack.ref("EndpointInvocation5xxAlarm"), stack.stack.ref("EndpointModelLatencyAlarm")]
    assert "DeregisterScaling" in stack.states(executions[1]["executionArn"])
    autoscaling = stack.client("application-autoscaling")
    (target,) = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert target["ResourceId"] == f"endpoint/{stack.endpoint}/variant/AllTraffic"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    (scaling,) = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    tracking = scaling["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert tracking["TargetValue"] == 200


def test_a_linear_shift_comes_from_the_template(stacks: Stacks) -> None:
    stack = stacks.get(TrafficShiftingMode="LINEAR", TrafficStepPercent="25")
    for each in stacks:
        each.reset()
    stack.register("Approved")
    stack.settle()
    stack.register("Approved")
    stack.settle()
    (request,) = stack.aws.deployments.update_requests
    routing = request["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "LINEAR" and routing["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 25}


def test_the_batch_target_transforms_once_per_version_and_input(stacks: Stacks) -> None:
    stack = stacks.get(DefaultDeploymentTarget="batch")
    for each in stacks:
        each.reset()
    package = stack.register("Approved")
    (execution,) = stack.settle()
    assert execution["status"] == "SUCCEEDED"
    (job,) = stack.client("sagemaker").list_transform_jobs()["TransformJobSummaries"]
    described = stack.client("sagemaker").describe_transform_job(TransformJobName=job["TransformJobName"])
    kms = stack.stack.attribute("ProjectKey", "Arn")
    assert described["TransformOutput"]["KmsKeyId"] == kms
    assert described["TransformResources"]["VolumeKmsKeyId"] == kms
    assert described["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{stack.bucket}/batch/input/"
    assert described["DataProcessing"]["JoinSource"] == "Input"
    finish = stack.finish(execution["executionArn"])
    assert finish["Outcome"] == "Transformed" and finish["Subject"] == "Batch transform of version 1 completed"
    # a metadata edit of the same version: the input was transformed already, so nothing runs again
    stack.client("sagemaker").update_model_package(ModelPackageArn=package, ApprovalDescription="reviewed")
    assert len(stack.settle()) == 1
    assert len(stack.client("sagemaker").list_transform_jobs()["TransformJobSummaries"]) == 1


def test_a_manual_start_deploys_what_the_registry_says_and_an_outdated_package_stands_down(
    stack: TestStack, load_event: Callable[[str], dict[str, Any]]
) -> None:
    v1 = stack.register("PendingManualApproval")
    v2 = stack.register("Approved")
    stack.settle()
    assert stack.live_package() == v2
    stack.notifications()
    # deploying v1 by hand while v2 is the highest Approved version: the execution stands down, honestly
    stale = stack.run(stack.deploy_machine, "manual-v1", {"ModelPackageArn": v1})
    assert stale["status"] == "SUCCEEDED" and stack.finish(stale["executionArn"])["Outcome"] == "StoodDown"
    (notification,) = stack.notifications()
    assert "version 2 is now the highest Approved version" in notification["Message"]
    # {} ("deploy what the registry says") when it is live already: nothing changes
    again = stack.run(stack.deploy_machine, "manual-empty", load_event("statemachine/deploy.json"))
    assert stack.finish(again["executionArn"])["Outcome"] == "NoChange"
    assert stack.live_package() == v2


def test_a_malformed_input_fails_naming_the_fields(
    stack: TestStack, load_event: Callable[[str], dict[str, Any]]
) -> None:
    result = stack.run(stack.deploy_machine, "malformed", load_event("statemachine/deploy-malformed.json"))
    assert result["status"] == "FAILED"
    assert "ModelPackageArn" in result["cause"] and "Target" in result["cause"]
    assert stack.client("sagemaker").list_models()["Models"] == []
    assert "Deployment failed" in stack.subjects()


def test_a_deployment_monitors_the_live_version_against_its_baseline_and_a_deletion_stops_it(
    stacks: Stacks,
) -> None:
    stack = stacks.get(WhenNoApprovedModel="DeleteEndpoint")
    package = stack.register("Approved", baseline=True)
    (execution,) = stack.settle()
    assert execution["status"] == "SUCCEEDED"
    sagemaker = stack.client("sagemaker")
    schedule = sagemaker.describe_monitoring_schedule(MonitoringScheduleName=f"{stack.prefix}-data-quality")
    definition_name = schedule["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"]
    definition = sagemaker.describe_data_quality_job_definition(JobDefinitionName=definition_name)
    assert schedule["MonitoringScheduleStatus"] == "Scheduled"
    assert schedule["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    assert definition["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == stack.endpoint
    baseline = definition["DataQualityBaselineConfig"]
    assert baseline["StatisticsResource"]["S3Uri"].endswith("/baseline/statistics.json")
    network = definition["NetworkConfig"]
    assert network["EnableNetworkIsolation"] is True and network["EnableInterContainerTrafficEncryption"] is True
    assert network["VpcConfig"] == {"Subnets": list(SUBNETS), "SecurityGroupIds": list(SECURITY_GROUPS)}
    key = stack.stack.attribute("ProjectKey", "Arn")
    assert definition["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    assert definition["DataQualityJobOutputConfig"]["KmsKeyId"] == key

    stack.set_status(package, "Rejected")
    stack.settle()

    assert stack.live_config() is None
    assert sagemaker.list_monitoring_schedules()["MonitoringScheduleSummaries"] == []


def test_a_version_without_a_baseline_is_deployed_unmonitored_and_the_notification_says_so(stack: TestStack) -> None:
    stack.register("Approved")
    (execution,) = stack.settle()

    assert execution["status"] == "SUCCEEDED"
    assert stack.client("sagemaker").list_monitoring_schedules()["MonitoringScheduleSummaries"] == []
    [notification] = stack.notifications()
    assert "Monitoring: version 1 has no data-quality baseline: its requests are not monitored." in str(
        notification["Message"]
    )
