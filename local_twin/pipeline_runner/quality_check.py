"""A pipeline's QualityCheck step (DATA_QUALITY), run as SageMaker runs it: a processing job of the Model Monitor
analyzer image that calculates a baseline, and the drift check against a previous baseline that the step's flags ask
for.

Sources: the SageMaker developer guide, "QualityCheck step" (build-and-manage-steps) and "Baseline calculation, drift
detection and lifecycle with ClarifyCheck and QualityCheck steps"; the SageMaker SDK's ``QualityCheckStep``
(``to_request``: ``Arguments`` is a CreateProcessingJob request, beside it ``CheckType``, ``ModelPackageGroupName``,
``SkipCheck``, ``FailOnViolation``, ``RegisterNewBaseline``, ``SuppliedBaselineStatistics``,
``SuppliedBaselineConstraints``); botocore's ``QualityCheckStepMetadata``.

- The job: its ProcessingInputs downloaded to their LocalPaths (a stand-in /opt/ml per step, as every processing
  step here), the analyzer's contract read from its Environment (``dataset_format``, ``dataset_source``,
  ``output_path``), ``statistics.json`` and ``constraints.json`` written to ``output_path`` and uploaded to the
  output's S3Uri through the runner's store (which applies the project's KMS key as for every step). The analyzer
  image cannot run here; :mod:`local_twin.monitor.analyzer` is its stand-in.
- Properties (the SDK's ``QualityCheckStep.properties``): ``CalculatedBaselineStatistics`` /
  ``CalculatedBaselineConstraints`` are the new files' URIs, always; ``BaselineUsedForDriftCheckStatistics`` /
  ``...Constraints`` are the new ones with ``RegisterNewBaseline``, else the previous baseline.
- The previous baseline: ``SuppliedBaselineStatistics`` / ``SuppliedBaselineConstraints`` when given ("always
  prioritized"), else the ``DriftCheckBaselines.ModelDataQuality`` of the latest approved model package of
  ``ModelPackageGroupName``.
- ``SkipCheck`` false: the dataset is checked against the previous baseline (which must exist) by the same analysis a
  monitoring execution does; ``constraint_violations.json`` is written beside the new baseline and is the metadata's
  ``ViolationReport``; with ``FailOnViolation`` a violation fails the step ("fail if violation is detected against
  previous baselines").
- Metadata: ``{"QualityCheck": {...}}`` with botocore's QualityCheckStepMetadata members.

The failure messages are this runner's own [U: SageMaker's wording is not published]. Not run locally:
``record_preprocessor_script`` and ``post_analytics_processor_script`` (refused), MODEL_QUALITY checks (refused when
the definition is read).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from local_twin.images import is_model_monitor_analyzer
from local_twin.monitor import analyzer
from local_twin.pipeline_runner.definition import StepSpec
from local_twin.pipeline_runner.steps import (
    FAILURE_REASON_LIMIT,
    JobEnvironment,
    StepFailed,
    StepOutcome,
    _Container,
    _single_instance,
)
from local_twin.storage import StoreError, download_prefix, upload_directory

STATISTICS, CONSTRAINTS, VIOLATIONS = "statistics.json", "constraints.json", "constraint_violations.json"
UNSUPPORTED_ENVIRONMENT = ("record_preprocessor_script", "post_analytics_processor_script")


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _previous_baseline(attributes: dict[str, Any], env: JobEnvironment) -> tuple[str | None, str | None]:
    """(statistics URI, constraints URI) of the previous baseline: supplied, else the registry's latest approved."""
    supplied = attributes.get("SuppliedBaselineStatistics"), attributes.get("SuppliedBaselineConstraints")
    if supplied[0] or supplied[1]:
        return (str(supplied[0]) if supplied[0] else None, str(supplied[1]) if supplied[1] else None)
    group = attributes.get("ModelPackageGroupName")
    if not group:
        return None, None
    try:
        listed = env.sagemaker.list_model_packages(
            ModelPackageGroupName=str(group),
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
        )["ModelPackageSummaryList"]
        if not listed:
            return None, None
        package = env.sagemaker.describe_model_package(ModelPackageName=listed[0]["ModelPackageArn"])
    except env.sagemaker.exceptions.ClientError:
        return None, None
    quality: dict[str, Any] = dict(package.get("DriftCheckBaselines", {}).get("ModelDataQuality", {}))
    statistics = quality.get("Statistics", {}).get("S3Uri")
    constraints = quality.get("Constraints", {}).get("S3Uri")
    return (str(statistics) if statistics else None), (str(constraints) if constraints else None)


def _load(env: JobEnvironment, uri: str | None, step: str) -> dict[str, Any] | None:
    if not uri:
        return None
    try:
        loaded: dict[str, Any] = json.loads(env.store.get_bytes(uri))
    except (StoreError, ValueError) as error:
        raise StepFailed(f"step {step!r}: the previous baseline {uri} cannot be read: {error}") from error
    return loaded


def run_quality_check(
    step: StepSpec, arguments: dict[str, Any], attributes: dict[str, Any], env: JobEnvironment
) -> StepOutcome:
    """Run a DATA_QUALITY QualityCheck step (module docstring); ``attributes`` are its evaluated check fields."""
    job = env.job_name(step.name)
    check_arn = env.arn("processing-job", job)
    skip = _flag(attributes.get("SkipCheck"), False)
    register = _flag(attributes.get("RegisterNewBaseline"), False)
    metadata: dict[str, Any] = {
        "CheckType": attributes.get("CheckType"),
        "CheckJobArn": check_arn,
        "SkipCheck": skip,
        "RegisterNewBaseline": register,
    }
    if attributes.get("ModelPackageGroupName"):
        metadata["ModelPackageGroupName"] = attributes["ModelPackageGroupName"]
    try:
        return _run(step, arguments, attributes, env, metadata, skip=skip, register=register)
    except StepFailed as error:
        raise StepFailed(error.reason, {"QualityCheck": metadata}) from error


def _job(step: StepSpec, arguments: dict[str, Any], env: JobEnvironment) -> tuple[analyzer.Dataset, Path, str]:
    """The processing job's part: inputs downloaded, the baseline written to output_path. (dataset, output folder,
    output S3 URI)."""
    where = f"step {step.name!r}"
    _single_instance(step, arguments.get("ProcessingResources", {}).get("ClusterConfig", {}))
    image = arguments.get("AppSpecification", {}).get("ImageUri")
    if not is_model_monitor_analyzer(image):
        raise StepFailed(f"{where}: the image {image!r} is not the Model Monitor analyzer")
    environment = {str(k): str(v) for k, v in (arguments.get("Environment") or {}).items()}
    unsupported = [name for name in UNSUPPORTED_ENVIRONMENT if environment.get(name)]
    if unsupported:
        raise StepFailed(f"{where}: {', '.join(unsupported)} is not run locally")
    outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
    if len(outputs) != 1:
        raise StepFailed(f"{where}: a QualityCheck job has exactly one output, not {len(outputs)}")
    container = _Container(env.workdir, step.name)
    try:
        for entry in arguments.get("ProcessingInputs", []):
            s3_input = entry.get("S3Input") or {}
            if s3_input.get("S3Uri"):
                download_prefix(env.store, s3_input["S3Uri"], container.path(s3_input["LocalPath"]))
    except StoreError as error:
        raise StepFailed(f"{where}: input: {error}") from error
    try:
        source = container.path(environment.get("dataset_source", ""))
        output_dir = container.path(environment.get("output_path", outputs[0]["S3Output"]["LocalPath"]))
        output_dir.mkdir(parents=True, exist_ok=True)
        dataset = analyzer.read_dataset(analyzer.dataset_files(source), analyzer.dataset_format(environment))
        baseline = analyzer.suggest_baseline(dataset)
    except analyzer.AnalyzerError as error:
        raise StepFailed(f"{where}: the analyzer failed: {error}") from error
    analyzer.write_json(output_dir / STATISTICS, baseline.statistics)
    analyzer.write_json(output_dir / CONSTRAINTS, baseline.constraints)
    return dataset, output_dir, str(outputs[0]["S3Output"]["S3Uri"]).rstrip("/")


def _run(
    step: StepSpec,
    arguments: dict[str, Any],
    attributes: dict[str, Any],
    env: JobEnvironment,
    metadata: dict[str, Any],
    *,
    skip: bool,
    register: bool,
) -> StepOutcome:
    where = f"step {step.name!r}"
    if attributes.get("CheckType") != "DATA_QUALITY":
        raise StepFailed(f"{where}: CheckType {attributes.get('CheckType')!r} is not run locally (DATA_QUALITY only)")
    dataset, output_dir, output_uri = _job(step, arguments, env)
    calculated = (f"{output_uri}/{STATISTICS}", f"{output_uri}/{CONSTRAINTS}")
    # looked up only when needed: a skipped check that registers its new baseline uses no previous one
    previous = _previous_baseline(attributes, env) if not (skip and register) else (None, None)
    violations: list[dict[str, str]] = []
    if not skip:
        if not (previous[0] and previous[1]):
            raise StepFailed(
                f"{where}: SkipCheck is false but there is no previous baseline to check against (supply "
                "SuppliedBaselineStatistics and SuppliedBaselineConstraints, or approve a model package with "
                "DriftCheckBaselines in the ModelPackageGroupName)"
            )
        try:
            analysis = analyzer.analyze(dataset, _load(env, previous[0], step.name), _load(env, previous[1], step.name))
        except analyzer.AnalyzerError as error:
            raise StepFailed(f"{where}: the analyzer failed: {error}") from error
        violations = analysis.violations
        analyzer.write_json(output_dir / VIOLATIONS, analysis.constraint_violations)
    if not register and not (previous[0] and previous[1]):
        raise StepFailed(
            f"{where}: RegisterNewBaseline is false but there is no previous baseline to carry over as the drift "
            "check baseline"
        )
    try:
        upload_directory(env.store, output_dir, output_uri)
    except StoreError as error:
        raise StepFailed(f"{where}: output: {error}") from error
    used = calculated if register else (str(previous[0]), str(previous[1]))
    properties = {
        "CalculatedBaselineStatistics": calculated[0],
        "CalculatedBaselineConstraints": calculated[1],
        "BaselineUsedForDriftCheckStatistics": used[0],
        "BaselineUsedForDriftCheckConstraints": used[1],
    }
    metadata.update(properties)
    if not skip:
        metadata["ViolationReport"] = f"{output_uri}/{VIOLATIONS}"
    if violations and _flag(attributes.get("FailOnViolation"), True):
        listed = "; ".join(f"{v['feature_name']}: {v['constraint_check_type']}" for v in violations)
        reason = f"{where}: the data quality check found {len(violations)} violation(s) of the baseline: {listed}"
        raise StepFailed(reason[:FAILURE_REASON_LIMIT])
    return StepOutcome(properties, {"QualityCheck": metadata}, {**properties, "Violations": len(violations)})
