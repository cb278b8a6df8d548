"""``make local ARGS="--accounts 3"``: the flow across a registry, a staging and a production account.

The same template is deployed three times, each stack in its own emulated account (local_twin.emulator.account):

``provision``   the registry stack (``StackRole=registry``: the pipeline, the group -- shared by its resource policy
                with both targets --, the bucket policy letting them read the artefacts, the rule forwarding the
                group's events to their default buses) and two target stacks (``StackRole=target``,
                ``DeploymentStage`` staging / production: the reconciler, the deploy machine, the endpoint; their
                bus accepts events from the registry account only)
``upsert``, ``train``, ``approve``   in the registry account, as in the single-account flow
``staging``     SageMaker's event for the approval, forwarded to the staging account, starts its reconciler; its deploy
                execution deploys the registry's package and verifies it (the smoke test recorded on the package)
``promote``     the production approver's UpdateModelPackage: ModelLifeCycle Stage Production, StageStatus Approved
``production``  the forwarded event starts the production reconciler, which deploys the promoted, verified version
``serve``       the test split scored through the production endpoint (its MSE must be the evaluation's)

:func:`promote` is also what a test uses to show a refusal: promoting a version staging has not verified makes the
production deploy execution end ``Refused``, its notification naming why.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from local_twin.flow import LOCAL_TEMPLATE_PARAMETERS, LocalRun
from local_twin.report import ExecutionSummary, StageError, StageRecord

REGISTRY, STAGING, PRODUCTION = "registry", "staging", "production"
PRODUCTION_STAGE = {"Stage": "Production", "StageStatus": "Approved"}
SETTLE_POLLS = 2400  # bound on waiting for events and executions to finish (0.25 s apart)


def stack_parameters(role: str, registry: str, staging: str, production: str) -> dict[str, str]:
    """The template parameters that make a stack the registry, the staging or the production stack."""
    if role == REGISTRY:
        return {"StackRole": "registry", "StagingAccountId": staging, "ProductionAccountId": production}
    return {"StackRole": "target", "RegistryAccountId": registry, "DeploymentStage": role}


def promote(sagemaker: Any, package_arn: str, description: str) -> None:
    """As the production approver does: the version's ModelLifeCycle set to Stage Production, StageStatus Approved,
    and nothing else -- ProductionApproverPolicy denies any request that carries ModelApprovalStatus."""
    sagemaker.update_model_package(
        ModelPackageArn=package_arn, ModelLifeCycle={**PRODUCTION_STAGE, "StageDescription": description}
    )


class ThreeAccountRun(LocalRun):
    """The three-account flow: the registry stack is the run's own (``self.stack``, the default account); the target
    stacks are in :attr:`stacks`, their accounts in :attr:`accounts`."""

    def _stages(self) -> None:
        from local_twin.emulator import PRODUCTION_ACCOUNT_ID, STAGING_ACCOUNT_ID

        self.accounts = {REGISTRY: self.aws.account_id, STAGING: STAGING_ACCOUNT_ID, PRODUCTION: PRODUCTION_ACCOUNT_ID}
        with self.reporter.stage("provision", "the registry, staging and production stacks, each in its account") as r:
            self.provision(r)
        with self.reporter.stage("upsert", "the upsert function creates the SageMaker pipeline (registry)") as r:
            self.upsert(r)
        with self.reporter.stage("train", "training execution in the registry account; the pipeline runs") as r:
            self.train(r)
        if not self.options.approve:
            for name in ("approve", STAGING, "promote", PRODUCTION, "serve"):
                self.reporter.skip(name, "--no-approve: the model waits for a reviewer")
            return
        with self.reporter.stage("approve", "approving the model package in the registry as a reviewer would") as r:
            self.approve(r)
        with self.reporter.stage(STAGING, "the forwarded event deploys to staging, which verifies the version") as r:
            self.staging(r)
        with self.reporter.stage("promote", "promoting the version to production as the production approver") as r:
            self.promote(r)
        with self.reporter.stage(PRODUCTION, "the forwarded event deploys the promoted version to production") as r:
            self.production(r)
        with self.reporter.stage("serve", "scoring the test split through the production endpoint") as r:
            self.serve(r)

    # --- provision ------------------------------------------------------------------------------------------------
    def provision(self, record: StageRecord) -> None:
        from local_twin.emulator import SECURITY_GROUPS, STACK_NAME, SUBNETS, provision
        from mlops_shared.pipeline_names import DATA_KEY

        base = {
            **LOCAL_TEMPLATE_PARAMETERS,
            "PrivateSubnetIds": ",".join(SUBNETS),
            "SecurityGroupIds": ",".join(SECURITY_GROUPS),
            "DefaultDeploymentTarget": "endpoint",
        }
        self.stacks = {}
        for role in (REGISTRY, STAGING, PRODUCTION):
            parameters = {**base, **stack_parameters(role, *self.accounts.values())}
            account = self.accounts[role]
            self.stacks[role] = provision(
                self.aws, parameters=parameters, stack_name=f"{STACK_NAME}-{role}", account_id=account
            )
            self.reporter.note(f"{role} stack {STACK_NAME}-{role} in account {account}")
        self.stack = self.stacks[REGISTRY]
        self.bucket = self.stack.ref(self.stack.only("AWS::S3::Bucket"))
        self.kms_key_arn = self.stack.attribute(self.stack.only("AWS::KMS::Key"), "Arn")
        self.train_machine_arn = self.stack.ref("TrainStateMachine")
        self.deploy_machine_arn = self.stacks[STAGING].ref("DeployStateMachine")
        self.summary.resources = {
            f"{role}/{logical_id}": physical
            for role, stack in self.stacks.items()
            for logical_id, physical in stack.created.items()
        }
        self.summary.resources_not_created = {
            f"{role}/{logical_id}": why
            for role, stack in self.stacks.items()
            for logical_id, why in stack.not_created.items()
        }
        self.summary.provision_adjustments = [
            f"{role}: {adjustment}" for role, stack in self.stacks.items() for adjustment in stack.adjustments
        ]
        for role, stack in self.stacks.items():
            self.summary.accounts[role] = {
                "role": role,
                "account_id": self.accounts[role],
                "stack": stack.name,
                "endpoint_name": self.endpoint_name(role) if role != REGISTRY else None,
                "served_version": None,
                "deploy_execution_status": None,
            }
        with self.options.data.open("rb") as data:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=DATA_KEY,
                Body=data,
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=self.kms_key_arn,
            )
        counts = ", ".join(f"{role} {len(stack.created)}" for role, stack in self.stacks.items())
        record.detail = f"resources: {counts}; data at s3://{self.bucket}/{DATA_KEY}"

    def endpoint_name(self, role: str) -> str:
        from cfn import Resolver

        stack = self.stacks[role]
        output = stack.template["Outputs"]["EndpointName"]
        return str(Resolver(stack.template, stack.values).resolve(output["Value"]))

    # --- events and executions in the target accounts -------------------------------------------------------------
    def deploy_executions_in(self, role: str, since: datetime) -> list[str]:
        """The deploy executions of a target account started since ``since``, once every event was handled."""
        self.aws.lambdas.wait_for_async()
        sfn = self.aws.client("stepfunctions", self.accounts[role])
        listed = sfn.list_executions(stateMachineArn=self.stacks[role].ref("DeployStateMachine"))["executions"]
        return [e["executionArn"] for e in sorted(listed, key=lambda e: e["startDate"]) if e["startDate"] >= since]

    def executions_started_by_events(self, since: datetime) -> list[str]:
        """What the approval started: the staging account's deploy executions (the registry deploys nothing)."""
        return self.deploy_executions_in(STAGING, since)

    def settle(self) -> None:
        """Until every event is handled and no execution runs (each registry change -- the staging smoke test's
        metadata too -- reaches both reconcilers, and each deploy execution's end reconciles once more): twice in a
        row, as an ending execution hands its end event on before it counts as ended."""
        for _ in range(SETTLE_POLLS):
            self.aws.lambdas.wait_for_async()
            if not self.aws.executions.running():
                self.aws.lambdas.wait_for_async()
                if not self.aws.executions.running():
                    return
            time.sleep(0.25)
        raise StageError("the target accounts' deploy executions did not settle")

    def wait_deploys(self, role: str, arns: list[str]) -> ExecutionSummary:
        if not arns:
            raise StageError(f"no deploy execution started in the {role} account")
        execution: ExecutionSummary | None = None
        for arn in arns:
            execution = self.wait_for(arn, f"{role} deploy", self.accounts[role])
        assert execution is not None
        self.summary.accounts[role]["deploy_execution_status"] = execution.status
        self.summary.accounts[role]["deploy_outcome"] = _outcome(execution)
        if execution.status != "SUCCEEDED":
            last = execution.states[-1] if execution.states else "?"
            raise StageError(f"{role} deploy execution {execution.status} in state {last}: {execution.output}")
        return execution

    def served_version(self, role: str) -> int | None:
        """The registry version a target's endpoint serves (endpoint → config → model → the registry's package)."""
        sagemaker = self.aws.client("sagemaker", self.accounts[role])
        name = self.endpoint_name(role)
        try:
            config_name = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]
        except sagemaker.exceptions.ClientError:
            return None
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        package = str(model["PrimaryContainer"]["ModelPackageName"])
        version = int(package.rsplit("/", 1)[1])
        self.summary.accounts[role]["served_version"] = version
        self.summary.accounts[role]["served_package"] = package
        return version

    # --- stages ---------------------------------------------------------------------------------------------------
    def staging(self, record: StageRecord) -> None:
        execution = self.wait_deploys(STAGING, self.deploy_executions)
        self.settle()
        package = self.sagemaker.describe_model_package(ModelPackageName=self.summary.model_package_arn)
        metadata = {k: v for k, v in (package.get("CustomerMetadataProperties") or {}).items() if "staging" in k}
        self.summary.accounts[STAGING]["verification"] = metadata
        version = self.served_version(STAGING)
        if version != self.summary.model_package_version:
            raise StageError(f"staging serves version {version}, not {self.summary.model_package_version}")
        if metadata.get("staging-verification") != "verified":
            raise StageError(f"staging did not verify version {version}: {metadata or 'nothing recorded'}")
        record.detail = (
            f"{execution.name}: {_outcome(execution)}; version {version} verified "
            f"(error rate {metadata.get('staging-error-rate')}, p99 {metadata.get('staging-p99-latency-ms')} ms)"
        )

    def promote(self, record: StageRecord) -> None:
        started = datetime.now(UTC)
        promote(
            self.sagemaker,
            str(self.summary.model_package_arn),
            "promoted by make local, as the production approver would after staging verified it",
        )
        self.production_executions = self.deploy_executions_in(PRODUCTION, started)
        if not self.production_executions:
            raise StageError("the promotion started no deploy execution in the production account")
        life_cycle = self.sagemaker.describe_model_package(ModelPackageName=self.summary.model_package_arn).get(
            "ModelLifeCycle", {}
        )
        record.detail = f"version {self.summary.model_package_version}: {life_cycle.get('Stage')} / " + str(
            life_cycle.get("StageStatus")
        )

    def production(self, record: StageRecord) -> None:
        execution = self.wait_deploys(PRODUCTION, self.production_executions)
        self.settle()
        if _outcome(execution) != "Deployed":
            raise StageError(f"the production deploy execution ended {_outcome(execution)}: {execution.output}")
        version = self.served_version(PRODUCTION)
        if version != self.summary.model_package_version:
            raise StageError(f"production serves version {version}, not {self.summary.model_package_version}")
        record.detail = f"{execution.name}: {' → '.join(execution.states[-3:])}; version {version}"

    def serve(self, record: StageRecord) -> None:
        self.serve_endpoint(record, self.endpoint_name(PRODUCTION), self.accounts[PRODUCTION])


def _outcome(execution: ExecutionSummary) -> str | None:
    output = execution.output if isinstance(execution.output, dict) else {}
    finish = output.get("Finish")
    return str(finish.get("Outcome")) if isinstance(finish, dict) and finish.get("Outcome") else None
