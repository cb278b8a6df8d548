"""The abalone SageMaker Pipeline: preprocess -> train -> serving model -> transform the test split -> evaluate ->
(MSE <= threshold ? register : fail).

The quality gate judges the model as it serves: the Transform step scores the raw test records through a model made
from the training output with the registered image and environment, in the serving container; evaluation computes
the metrics from that output, and the package registered is that same model definition.

The ONLY module that imports the SageMaker SDK (2.257.x, installed in .venv-render only). It is built from explicit
settings -- never from look-ups in AWS -- so it renders offline at build time. Every account-specific value is a
deploy token (mlops_shared/deploy_tokens.py) that the upsert Lambda or the local runner fills in; the code is referenced
at content-addressed S3 keys (mlops_shared/code_assets.py) so the SDK never uploads anything.

Step names come from ml_code/pipeline_names.py (SDK-free, so the state machine's helpers and the local runner can
import them) and are re-exported here.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
import sagemaker.config.config
import sagemaker.session
import sagemaker.utils
from botocore.credentials import CredentialResolver
from sagemaker import image_uris
from sagemaker.drift_check_baselines import DriftCheckBaselines
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.model_monitor.dataset_format import DatasetFormat
from sagemaker.network import NetworkConfig
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.transformer import Transformer
from sagemaker.workflow.check_job_config import CheckJobConfig
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.quality_check_step import DataQualityCheckConfig, QualityCheckStep
from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TransformStep

from ml_code import SCRIPTS_DIR
from mlops_shared import code_assets as assets
from mlops_shared.deploy_tokens import token
from mlops_shared.pipeline_names import (  # re-exported: the step names are part of this module's interface
    BASELINE_STEP,
    CONDITION_STEP,
    DATA_KEY,
    EVALUATE_STEP,
    EVALUATION_FILE,
    EVALUATION_OUTPUT,
    EVALUATION_REPORT,
    FAIL_STEP,
    MSE_JSON_PATH,
    PARAMETER_DEFAULTS,
    PIPELINE_NAME,
    PREPROCESS_STEP,
    REGISTER_STEP,
    REGISTER_STEP_BASE,
    RUNS_PREFIX,
    SERVING_CONTENT_TYPES,
    SERVING_ENVIRONMENT,
    SERVING_MODEL_STEP,
    SERVING_MODEL_STEP_BASE,
    STEP_NAMES,
    TRAIN_STEP,
    TRANSFORM_STEP,
)

__all__ = [
    "CONDITION_STEP",
    "EVALUATE_STEP",
    "FAIL_STEP",
    "PIPELINE_NAME",
    "PREPROCESS_STEP",
    "REGISTER_STEP",
    "SERVING_MODEL_STEP",
    "STEP_NAMES",
    "TRAIN_STEP",
    "TRANSFORM_STEP",
    "OfflinePipelineSession",
    "PipelineSettings",
    "get_pipeline",
    "model_monitor_image_uris",
    "xgboost_image_uris",
]

DEFAULT_INSTANCE_TYPE = str(PARAMETER_DEFAULTS["ProcessingInstanceType"])
DEFAULT_MSE_THRESHOLD = float(PARAMETER_DEFAULTS["MseThreshold"])
DEFAULT_APPROVAL_STATUS = str(PARAMETER_DEFAULTS["ModelApprovalStatus"])
PROCESSING_ROOT = "/opt/ml/processing"

CONTENT_TYPE = "text/csv"
PREPROCESS_OUTPUTS = ("train", "validation", "test", "baseline")  # ml_code/preprocess.py: SPLITS and BASELINE
# The transform reads label-first raw test records: the model sees the record without the label ($[1:]); the output
# keeps the label beside the prediction ($[0,-1] of input joined with output), which is what evaluation reads.
TRANSFORM_FILTERS = {"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-1]"}
INFERENCE_INSTANCE_TYPES = ("ml.t2.medium", "ml.m5.large", "ml.m5.xlarge")
TRANSFORM_INSTANCE_TYPES = ("ml.m5.large", "ml.m5.xlarge")
XGBOOST_FRAMEWORK_VERSION = "3.0-5"
MODEL_PACKAGE_METADATA = {"EnableNetworkIsolation": "true", "RequiresVpcConfig": "true", "ModelFile": "xgboost-model"}
# Any region works: it only names the SDK's boto clients, which make no calls; the image is a token.
RENDER_REGION = "us-east-1"


@dataclass(frozen=True)
class PipelineSettings:
    """Everything the pipeline is built from. Defaults are deploy tokens, filled at deploy time."""

    name: str = PIPELINE_NAME
    role_arn: str = field(default_factory=lambda: token("ExecutionRoleArn"))
    bucket: str = field(default_factory=lambda: token("ArtifactsBucket"))
    kms_key_arn: str = field(default_factory=lambda: token("KmsKeyArn"))
    model_package_group_name: str = field(default_factory=lambda: token("ModelPackageGroupName"))
    image_uri: str = field(default_factory=lambda: token("XGBoostImageUri"))
    monitor_image_uri: str = field(default_factory=lambda: token("ModelMonitorImageUri"))
    subnet_ids: tuple[str, ...] = field(default_factory=lambda: (token("SubnetIds"),))
    security_group_ids: tuple[str, ...] = field(default_factory=lambda: (token("SecurityGroupIds"),))
    code: tuple[assets.CodeAsset, ...] = field(default_factory=lambda: tuple(assets.code_assets(SCRIPTS_DIR)))

    def code_uri(self, file_name: str) -> str:
        return f"s3://{self.bucket}/{assets.asset_for(file_name, list(self.code)).key}"


class TokenImageCheckJobConfig(CheckJobConfig):  # type: ignore[misc]  # the SDK is untyped
    """A CheckJobConfig whose analyzer image is the given URI (a deploy token), not the one the SDK looks up for the
    session's region: the definition is rendered for no region in particular."""

    def __init__(self, image_uri: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.analyzer_image_uri = image_uri

    def _generate_model_monitor(self, mm_type: str) -> Any:
        monitor = super()._generate_model_monitor(mm_type)
        if monitor is not None:
            monitor.image_uri = self.analyzer_image_uri
        return monitor


def _run_uri(settings: PipelineSettings, *parts: str) -> Join:
    """An S3 URI unique to the execution, so executions never overwrite each other's outputs."""
    return Join(
        on="/", values=[f"s3://{settings.bucket}", RUNS_PREFIX, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts]
    )


class OfflinePipelineSession(PipelineSession):  # type: ignore[misc]  # the SDK is untyped
    """A PipelineSession that cannot reach AWS, and says so instead of trying.

    Two SDK look-ups are replaced: ``expand_role`` (calls IAM when the role has no "/", as a ``{{...}}`` token has
    not) returns the role as given, and ``default_bucket`` (calls S3 ListBuckets/CreateBucket) raises, because every
    S3 location in this pipeline is explicit.
    """

    def expand_role(self, role: str) -> str:
        return role

    def default_bucket(self) -> str:
        raise RuntimeError("the pipeline definition must not depend on the SDK's default bucket: pass explicit S3 URIs")


# The SDK modules that call validate_sagemaker_config by a name of their own (``from ... import``).
_CONFIG_VALIDATING_MODULES = (sagemaker.config.config, sagemaker.session, sagemaker.utils)


def _validate_sdk_config_once() -> None:
    """Make the SDK validate a given defaults config once instead of on every look-up.

    ``sagemaker.utils.get_sagemaker_config_value`` re-validates the whole config against the SDK's JSON schema on each
    of its ~60 look-ups while a pipeline is built (about 0.1 s each on a 2-core machine: most of the render time),
    and loading a session validates the same config twice more. The config cannot change during a render, so each
    distinct config is validated once: the check stays, the repeats go. Idempotent.
    """
    if getattr(sagemaker.utils.validate_sagemaker_config, "_validates_once", False):
        return
    original = sagemaker.config.config.validate_sagemaker_config
    validated: set[str] = set()

    def validate_once(sagemaker_config: dict[str, Any] | None = None) -> None:
        key = json.dumps(sagemaker_config, sort_keys=True, default=str)
        if key not in validated:
            original(sagemaker_config)
            validated.add(key)

    validate_once._validates_once = True  # type: ignore[attr-defined]
    for module in _CONFIG_VALIDATING_MODULES:
        module.validate_sagemaker_config = validate_once


def _offline_session() -> OfflinePipelineSession:
    """A session with a region and a credential chain with no providers.

    Creating the SDK's boto clients resolves credentials, which on a laptop probes the EC2 metadata service and in
    AWS finds real credentials. The definition needs neither, so the chain is emptied: rendering stays offline and
    can never act on an account by accident.
    """
    _validate_sdk_config_once()
    core = botocore.session.Session()
    core.register_component("credential_provider", CredentialResolver(providers=[]))
    return OfflinePipelineSession(boto_session=boto3.Session(botocore_session=core, region_name=RENDER_REGION))


def get_pipeline(settings: PipelineSettings | None = None) -> Pipeline:
    """Build the pipeline from explicit settings; rendering its definition makes no network call."""
    settings = settings or PipelineSettings()
    session = _offline_session()

    processing_instance_type = ParameterString("ProcessingInstanceType", default_value=DEFAULT_INSTANCE_TYPE)
    processing_instance_count = ParameterInteger(
        "ProcessingInstanceCount", default_value=int(PARAMETER_DEFAULTS["ProcessingInstanceCount"])
    )
    training_instance_type = ParameterString(
        "TrainingInstanceType", default_value=str(PARAMETER_DEFAULTS["TrainingInstanceType"])
    )
    transform_instance_type = ParameterString(
        "TransformInstanceType", default_value=str(PARAMETER_DEFAULTS["TransformInstanceType"])
    )
    model_approval_status = ParameterString("ModelApprovalStatus", default_value=DEFAULT_APPROVAL_STATUS)
    input_data_url = ParameterString("InputDataUrl", default_value=f"s3://{settings.bucket}/{DATA_KEY}")
    mse_threshold = ParameterFloat("MseThreshold", default_value=DEFAULT_MSE_THRESHOLD)

    network = NetworkConfig(
        enable_network_isolation=True,
        encrypt_inter_container_traffic=True,
        subnets=list(settings.subnet_ids),
        security_group_ids=list(settings.security_group_ids),
    )
    processor = ScriptProcessor(
        role=settings.role_arn,
        image_uri=settings.image_uri,
        command=["python3"],
        instance_type=processing_instance_type,
        instance_count=processing_instance_count,
        volume_kms_key=settings.kms_key_arn,
        output_kms_key=settings.kms_key_arn,
        network_config=network,
        sagemaker_session=session,
    )

    # --- preprocess ------------------------------------------------------------------------------------------------
    split_outputs = [
        ProcessingOutput(
            output_name=split,
            source=f"{PROCESSING_ROOT}/{split}",
            destination=_run_uri(settings, PREPROCESS_STEP, split),
        )
        for split in PREPROCESS_OUTPUTS
    ]
    step_preprocess = ProcessingStep(
        name=PREPROCESS_STEP,
        step_args=processor.run(
            code=settings.code_uri(assets.PREPROCESS_SCRIPT),
            inputs=[ProcessingInput(source=input_data_url, destination=f"{PROCESSING_ROOT}/input")],
            outputs=split_outputs,
            arguments=["--input-dir", f"{PROCESSING_ROOT}/input", "--output-dir", PROCESSING_ROOT],
        ),
    )
    split_uri = {
        split: step_preprocess.properties.ProcessingOutputConfig.Outputs[split].S3Output.S3Uri
        for split in PREPROCESS_OUTPUTS
    }

    # --- train (script mode on the XGBoost framework image) -------------------------------------------------------
    estimator = Estimator(
        image_uri=settings.image_uri,
        entry_point=assets.TRAIN_SCRIPT,
        source_dir=settings.code_uri(assets.TRAIN_SOURCE_ARCHIVE),
        role=settings.role_arn,
        instance_type=training_instance_type,
        instance_count=1,
        # A plain string: SageMaker appends the (per-execution) job name, so runs do not overwrite each other.
        output_path=f"s3://{settings.bucket}/{RUNS_PREFIX}/training",
        volume_kms_key=settings.kms_key_arn,
        output_kms_key=settings.kms_key_arn,
        subnets=list(settings.subnet_ids),
        security_group_ids=list(settings.security_group_ids),
        encrypt_inter_container_traffic=True,
        enable_network_isolation=True,
        disable_profiler=True,
        debugger_hook_config=False,
        sagemaker_session=session,
    )
    step_train = TrainingStep(
        name=TRAIN_STEP,
        step_args=estimator.fit(
            inputs={
                "train": TrainingInput(s3_data=split_uri["train"], content_type=CONTENT_TYPE),
                "validation": TrainingInput(s3_data=split_uri["validation"], content_type=CONTENT_TYPE),
            }
        ),
    )
    model_data = step_train.properties.ModelArtifacts.S3ModelArtifacts

    # --- the data-quality baseline of what the endpoint will receive (the train records without their label) -------
    # Model Monitor's analyzer, secured like every job; the package records the result as its drift-check baseline,
    # so each version carries the statistics and constraints its monitoring schedule judges captured requests by.
    step_baseline = QualityCheckStep(
        name=BASELINE_STEP,
        quality_check_config=DataQualityCheckConfig(
            baseline_dataset=split_uri["baseline"],
            dataset_format=DatasetFormat.csv(header=False),
            output_s3_uri=_run_uri(settings, BASELINE_STEP),
        ),
        check_job_config=TokenImageCheckJobConfig(
            settings.monitor_image_uri,
            role=settings.role_arn,
            instance_count=1,
            instance_type=processing_instance_type,
            volume_kms_key=settings.kms_key_arn,
            output_kms_key=settings.kms_key_arn,
            network_config=network,
            sagemaker_session=session,
        ),
        skip_check=True,  # the first baseline of each version: nothing to compare with yet
        register_new_baseline=True,
        model_package_group_name=settings.model_package_group_name,
    )
    baseline_statistics = step_baseline.properties.CalculatedBaselineStatistics
    baseline_constraints = step_baseline.properties.CalculatedBaselineConstraints

    # --- the model as it serves: script mode from inside the artifact (no code download: network isolation) -------
    # One Model for the transform and the registration, so the package registered is the definition that was scored.
    model = Model(
        image_uri=settings.image_uri,
        model_data=model_data,
        role=settings.role_arn,
        env=dict(SERVING_ENVIRONMENT),
        vpc_config={"Subnets": list(settings.subnet_ids), "SecurityGroupIds": list(settings.security_group_ids)},
        enable_network_isolation=True,
        model_kms_key=settings.kms_key_arn,
        sagemaker_session=session,
    )
    step_serving_model = ModelStep(
        name=SERVING_MODEL_STEP_BASE, step_args=model.create(instance_type=transform_instance_type)
    )

    # --- transform the test split through it ---------------------------------------------------------------------
    transformer = Transformer(
        model_name=step_serving_model.properties.ModelName,
        instance_count=1,
        instance_type=transform_instance_type,
        strategy="MultiRecord",
        assemble_with="Line",
        accept=CONTENT_TYPE,
        output_path=_run_uri(settings, TRANSFORM_STEP, "predictions"),
        volume_kms_key=settings.kms_key_arn,
        output_kms_key=settings.kms_key_arn,
        sagemaker_session=session,
    )
    step_transform = TransformStep(
        name=TRANSFORM_STEP,
        step_args=transformer.transform(
            data=split_uri["test"], content_type=CONTENT_TYPE, split_type="Line", **TRANSFORM_FILTERS
        ),
    )

    # --- evaluate ----------------------------------------------------------------------------------------------------
    evaluation_report = PropertyFile(name=EVALUATION_REPORT, output_name=EVALUATION_OUTPUT, path=EVALUATION_FILE)
    evaluation_uri = _run_uri(settings, EVALUATE_STEP, EVALUATION_OUTPUT)
    step_evaluate = ProcessingStep(
        name=EVALUATE_STEP,
        step_args=processor.run(
            code=settings.code_uri(assets.EVALUATE_SCRIPT),
            inputs=[
                ProcessingInput(
                    source=step_transform.properties.TransformOutput.S3OutputPath,
                    destination=f"{PROCESSING_ROOT}/predictions",
                ),
                ProcessingInput(source=split_uri["test"], destination=f"{PROCESSING_ROOT}/test"),
            ],
            outputs=[
                ProcessingOutput(
                    output_name=EVALUATION_OUTPUT,
                    source=f"{PROCESSING_ROOT}/{EVALUATION_OUTPUT}",
                    destination=evaluation_uri,
                )
            ],
            arguments=[
                "--predictions-dir",
                f"{PROCESSING_ROOT}/predictions",
                "--test-dir",
                f"{PROCESSING_ROOT}/test",
                "--output-dir",
                f"{PROCESSING_ROOT}/{EVALUATION_OUTPUT}",
            ],
        ),
        property_files=[evaluation_report],
    )
    mse = JsonGet(step_name=step_evaluate.name, property_file=evaluation_report, json_path=MSE_JSON_PATH)

    # --- register the model that was scored (no entry point given to the SDK: the code is in the artifact, so no
    # repack step) ---------------------------------------------------------------------------------------------------
    step_register = ModelStep(
        name=REGISTER_STEP_BASE,
        step_args=model.register(
            content_types=list(SERVING_CONTENT_TYPES),
            response_types=list(SERVING_CONTENT_TYPES),
            inference_instances=list(INFERENCE_INSTANCE_TYPES),
            transform_instances=list(TRANSFORM_INSTANCE_TYPES),
            model_package_group_name=settings.model_package_group_name,
            approval_status=model_approval_status,
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    s3_uri=Join(on="/", values=[evaluation_uri, EVALUATION_FILE]), content_type="application/json"
                ),
                model_data_statistics=MetricsSource(s3_uri=baseline_statistics, content_type="application/json"),
                model_data_constraints=MetricsSource(s3_uri=baseline_constraints, content_type="application/json"),
            ),
            drift_check_baselines=DriftCheckBaselines(
                model_data_statistics=MetricsSource(s3_uri=baseline_statistics, content_type="application/json"),
                model_data_constraints=MetricsSource(s3_uri=baseline_constraints, content_type="application/json"),
            ),
            description="Abalone ring-count regressor (XGBoost 3.0-5): raw records in (CSV, JSON, JSON Lines)",
            # CreateModelPackage has no VpcConfig or network-isolation field, so the package records that its model
            # must be deployed with both; the deployer supplies the subnets and security groups of its account.
            customer_metadata_properties=dict(MODEL_PACKAGE_METADATA),
        ),
    )

    step_fail = FailStep(
        name=FAIL_STEP,
        error_message=Join(on=" ", values=["Model test MSE", mse, "is above the threshold", mse_threshold]),
    )
    step_condition = ConditionStep(
        name=CONDITION_STEP,
        conditions=[ConditionLessThanOrEqualTo(left=mse, right=mse_threshold)],
        if_steps=[step_register],
        else_steps=[step_fail],
    )

    return Pipeline(
        name=settings.name,
        parameters=[
            processing_instance_type,
            processing_instance_count,
            training_instance_type,
            transform_instance_type,
            model_approval_status,
            input_data_url,
            mse_threshold,
        ],
        steps=[
            step_preprocess,
            step_baseline,
            step_train,
            step_serving_model,
            step_transform,
            step_evaluate,
            step_condition,
        ],
        sagemaker_session=session,
        # Step names, not hashes, in job names and S3 paths: stable, readable definitions.
        pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=False),
    )


def xgboost_image_uris() -> dict[str, str]:
    """The XGBoost framework image URI per region, for every region the SDK's image tables know (no AWS call).

    The pipeline uses one image for processing, training and serving, so only regions where the training and
    inference tables agree are listed.
    """
    config = image_uris.config_for_framework("xgboost")
    # retrieve() re-reads botocore's 1 MB endpoints.json for every call (~50 ms); the table cannot change during a
    # render, so the resolver is cached for this loop only and the SDK's function is put back afterwards.
    uncached_resolver = sagemaker.utils._botocore_resolver
    sagemaker.utils._botocore_resolver = functools.cache(uncached_resolver)
    try:
        return _image_uris_by_region(config)
    finally:
        sagemaker.utils._botocore_resolver = uncached_resolver


def model_monitor_image_uris(regions: list[str]) -> dict[str, str]:
    """The Model Monitor analyzer image URI per region (no AWS call), for those of ``regions`` the SDK's table has."""
    uncached_resolver = sagemaker.utils._botocore_resolver  # cached for this loop only, as in xgboost_image_uris
    sagemaker.utils._botocore_resolver = functools.cache(uncached_resolver)
    uris: dict[str, str] = {}
    try:
        for region in regions:
            try:
                uris[region] = image_uris.retrieve("model-monitor", region=region)
            except ValueError:  # the analyzer is not offered there: the upsert names the region if it is used
                continue
    finally:
        sagemaker.utils._botocore_resolver = uncached_resolver
    return uris


def _image_uris_by_region(config: dict[str, Any]) -> dict[str, str]:
    training, inference = (config[scope]["versions"][XGBOOST_FRAMEWORK_VERSION] for scope in ("training", "inference"))
    uris: dict[str, str] = {}
    for region in sorted(set(training["registries"]) & set(inference["registries"])):
        if training["registries"][region] != inference["registries"][region]:
            continue
        uris[region] = image_uris.retrieve(
            "xgboost", region=region, version=XGBOOST_FRAMEWORK_VERSION, image_scope="training"
        )
    return uris
