"""Step executors: run one step's (already evaluated) arguments with the SageMaker contracts, locally.

Processing and training code runs in a subprocess of the image's local Python (images.py), inside a per-step folder
that stands in for the container's ``/opt/ml``: every ``/opt/ml/...`` path in the step's entrypoint and arguments is
rewritten to that folder. Model registration, model creation and transform jobs go to the SageMaker API (moto
locally); a transform also really scores its input through the model's serving container (local_twin.serving).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local_twin.images import ImageError, LocalImage, local_image
from local_twin.pipeline_runner.definition import StepSpec
from local_twin.storage import ObjectStore, S3Store, StoreError, download_prefix, upload_directory

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

CONTAINER_ROOT = "/opt/ml/"
STDERR_TAIL_LINES = 20
FAILURE_REASON_LIMIT = 1024  # SageMaker's FailureReason is at most 1024 characters
APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
# Environment variables a step's subprocess inherits; nothing else (no credentials: the jobs run network-isolated).
INHERITED_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


Executor = Callable[[StepSpec, dict[str, Any], "JobEnvironment"], "StepOutcome"]


class StepFailed(Exception):
    """The step ran and failed; ``reason`` becomes the step's FailureReason."""

    def __init__(self, reason: str, metadata: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:FAILURE_REASON_LIMIT]
        self.metadata = dict(metadata or {})


@dataclass
class StepOutcome:
    """What a finished step leaves behind: its Describe-shaped properties and its ListPipelineExecutionSteps record."""

    properties: dict[str, Any]
    metadata: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    property_files: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobEnvironment:
    """Everything an executor needs besides the step itself."""

    store: ObjectStore
    sagemaker: SageMakerClient
    workdir: Path
    region: str
    account: str
    job_name: Callable[[str], str]
    image_table: Mapping[tuple[str, str], LocalImage] | None = None

    def arn(self, resource: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{resource}/{name.lower()}"

    def image(self, uri: Any, step: str) -> LocalImage:
        if not isinstance(uri, str):
            raise StepFailed(f"step {step!r}: the image URI evaluated to {uri!r}, not a string")
        try:
            return local_image(uri, step, dict(self.image_table) if self.image_table is not None else None)
        except ImageError as error:
            raise StepFailed(str(error)) from error


class _Container:
    """A step's stand-in for the container file system: ``/opt/ml/x`` → ``<workdir>/<step>/opt/ml/x``."""

    def __init__(self, workdir: Path, step: str) -> None:
        self.root = workdir / re.sub(r"[^A-Za-z0-9._-]", "_", step)
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)

    def path(self, container_path: str) -> Path:
        if not container_path.startswith(CONTAINER_ROOT):
            raise StepFailed(f"container path {container_path!r} is not under {CONTAINER_ROOT}")
        local = (self.root / container_path.lstrip("/")).resolve()
        if not local.is_relative_to(self.root.resolve()):
            raise StepFailed(f"container path {container_path!r} leaves the container")
        return local

    def rewrite(self, argument: Any) -> str:
        """An argument with a container path (``/opt/ml/...`` or ``--flag=/opt/ml/...``) pointed at the local folder."""
        text = str(argument)
        if text.startswith(CONTAINER_ROOT):
            return str(self.path(text))
        flag, equals, value = text.partition("=")
        if equals and value.startswith(CONTAINER_ROOT):
            return f"{flag}={self.path(value)}"
        return text


def _single_instance(step: StepSpec, resources: Mapping[str, Any]) -> None:
    """One local process stands for one instance: a distributed job would silently run once, so it is refused."""
    count = resources.get("InstanceCount", 1)
    if str(count) != "1":
        raise StepFailed(f"step {step.name!r}: InstanceCount {count} is not supported locally (one instance only)")


def _environment(extra: Mapping[str, Any]) -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED_ENVIRONMENT if name in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    env.update({str(k): str(v) for k, v in extra.items()})
    return env


def _run(command: list[str], cwd: Path, env: Mapping[str, str], logs: Path, step: str) -> str:
    """Run a job's process; on a non-zero exit fail the step with the tail of its stderr. Returns its output.

    ``logs`` is the step's container folder: its stdout.log and stderr.log stay there for inspection.
    """
    stdout_path, stderr_path = logs / "stdout.log", logs / "stderr.log"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        completed = subprocess.run(command, cwd=cwd, env=dict(env), stdout=stdout, stderr=stderr, check=False)
    output = stdout_path.read_text(errors="replace") + stderr_path.read_text(errors="replace")
    if completed.returncode != 0:
        local_root = str(logs.resolve())
        raw = "\n".join(stderr_path.read_text(errors="replace").rstrip().splitlines()[-STDERR_TAIL_LINES:])
        # a container path left after removing the mapped ones was never given to the runner, so was not mapped
        unmapped = CONTAINER_ROOT in raw.replace(local_root + CONTAINER_ROOT, "")
        tail = raw.replace(local_root + "/", "/")  # local paths shown as the container paths they stand for
        program = Path(command[1]).name if len(command) > 1 else command[0]
        head = f"step {step!r}: {program} exited with code {completed.returncode}: "
        hint = f" [hint: pass every {CONTAINER_ROOT}... path as a container argument so it is mapped locally]"
        hint = hint if unmapped else ""
        room = FAILURE_REASON_LIMIT - len(head) - len(hint)
        if len(tail) > room:  # keep the end: the exception line is the most useful part of a traceback
            tail = "..." + tail[-(room - 3) :]
        reason = head + tail + hint
        raise StepFailed(reason)
    return output


def _job_metadata(kind: str, resource: str) -> Callable[[Executor], Executor]:
    """A failed job's record still names the job (``Metadata.ProcessingJob.Arn``), as SageMaker's does."""

    def decorate(run: Executor) -> Executor:
        def wrapper(step: StepSpec, arguments: dict[str, Any], env: JobEnvironment) -> StepOutcome:
            try:
                return run(step, arguments, env)
            except StepFailed as error:
                arn = env.arn(resource, env.job_name(step.name))
                raise StepFailed(error.reason, {kind: {"Arn": arn}, **error.metadata}) from error

        return wrapper

    return decorate


@_job_metadata("ProcessingJob", "processing-job")
def run_processing(step: StepSpec, arguments: dict[str, Any], env: JobEnvironment) -> StepOutcome:
    """A processing job: inputs downloaded to their LocalPaths, the entrypoint run, outputs uploaded."""
    job = env.job_name(step.name)
    _single_instance(step, arguments.get("ProcessingResources", {}).get("ClusterConfig", {}))
    app = arguments.get("AppSpecification", {})
    image = env.image(app.get("ImageUri"), step.name)
    container = _Container(env.workdir, step.name)
    try:
        for entry in arguments.get("ProcessingInputs", []):
            s3_input = entry["S3Input"]
            download_prefix(env.store, s3_input["S3Uri"], container.path(s3_input["LocalPath"]))
    except StoreError as error:
        raise StepFailed(f"step {step.name!r}: input: {error}") from error
    outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for entry in outputs:
        container.path(entry["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
    try:
        command = image.command([container.rewrite(a) for a in app.get("ContainerEntrypoint", [])], step.name)
    except ImageError as error:
        raise StepFailed(str(error)) from error
    command += [container.rewrite(a) for a in app.get("ContainerArguments", [])]
    _run(command, container.root, _environment(arguments.get("Environment", {})), container.root, step.name)
    uploaded: dict[str, Any] = {}
    for entry in outputs:
        s3_output = entry["S3Output"]
        upload_directory(env.store, container.path(s3_output["LocalPath"]), s3_output["S3Uri"])
        uploaded[entry["OutputName"]] = s3_output["S3Uri"]
    property_files = {}
    for spec in step.property_files.values():
        local_path = next(o["S3Output"]["LocalPath"] for o in outputs if o["OutputName"] == spec.output_name)
        path = container.path(local_path.rstrip("/") + "/" + spec.file_path)
        try:
            property_files[spec.name] = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise StepFailed(f"step {step.name!r}: property file {spec.name!r} ({spec.file_path}): {error}") from error
    arn = env.arn("processing-job", job)
    properties = {
        **arguments,
        "ProcessingJobName": job,
        "ProcessingJobArn": arn,
        "ProcessingJobStatus": "Completed",
        "ExitMessage": "",
    }
    return StepOutcome(properties, {"ProcessingJob": {"Arn": arn}}, uploaded, property_files)


def decode_hyperparameters(raw: Mapping[str, str]) -> dict[str, Any]:
    """Hyperparameters as the training toolkit reads them: each value JSON-decoded when it is JSON, else kept."""
    decoded: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            decoded[name] = json.loads(value)
        except (TypeError, ValueError):
            decoded[name] = value
    return decoded


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """``{"eta": 0.2, "max_depth": 5}`` → ``["--eta", "0.2", "--max_depth", "5"]``.

    The training toolkit's rule (sagemaker_training.mapping.to_cmd_args), rewritten because the toolkit is not a
    dependency of this project: keys sorted, ``--name`` (``-n`` for a one-letter name), dicts as ``k=v,k=v``.
    """
    arguments: list[str] = []
    for name in sorted(hyperparameters):
        value = hyperparameters[name]
        arguments.append(f"--{name}" if len(name) > 1 else f"-{name}")
        if isinstance(value, Mapping):
            arguments.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            arguments.append(str(value))
    return arguments


def _extract(archive: bytes, target: Path, step: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            tar.extractall(target, filter="data")  # "data" refuses absolute paths and links out of the folder
    except (tarfile.TarError, OSError) as error:
        raise StepFailed(f"step {step!r}: cannot unpack the archive into {target.name}: {error}") from error


def pack_directory(source: Path) -> bytes:
    """A model.tar.gz as SageMaker packs SM_MODEL_DIR: the directory's contents at the archive's root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(source.rglob("*")):
            tar.add(path, arcname=path.relative_to(source).as_posix(), recursive=False)
    return buffer.getvalue()


@_job_metadata("TrainingJob", "training-job")
def run_training(step: StepSpec, arguments: dict[str, Any], env: JobEnvironment) -> StepOutcome:
    """A script-mode training job: channels, code, hyperparameters as arguments, model.tar.gz uploaded."""
    job = env.job_name(step.name)
    _single_instance(step, arguments.get("ResourceConfig", {}))
    algorithm = arguments.get("AlgorithmSpecification", {})
    image = env.image(algorithm.get("TrainingImage"), step.name)
    container = _Container(env.workdir, step.name)
    channels: list[str] = []
    input_config: dict[str, Any] = {}
    try:
        for channel in arguments.get("InputDataConfig", []):
            name = channel["ChannelName"]
            source = channel["DataSource"]["S3DataSource"]
            download_prefix(env.store, source["S3Uri"], container.path(f"/opt/ml/input/data/{name}"))
            channels.append(name)
            input_config[name] = {k: v for k, v in channel.items() if k not in ("ChannelName", "DataSource")}
        decoded = decode_hyperparameters(arguments.get("HyperParameters", {}))
        code_dir = container.path("/opt/ml/code")
        _extract(_submit_directory(str(decoded["sagemaker_submit_directory"]), container, env), code_dir, step.name)
    except StoreError as error:
        raise StepFailed(f"step {step.name!r}: {error}") from error
    program = str(decoded["sagemaker_program"])
    if not (code_dir / program).is_file():
        raise StepFailed(f"step {step.name!r}: sagemaker_program {program!r} is not in sagemaker_submit_directory")
    user = {k: v for k, v in decoded.items() if not k.startswith("sagemaker_")}
    model_dir, output_dir = container.path("/opt/ml/model"), container.path("/opt/ml/output/data")
    config_dir = container.path("/opt/ml/input/config")
    for folder in (model_dir, output_dir, config_dir):
        folder.mkdir(parents=True, exist_ok=True)
    # the files the toolkit writes into the container, for scripts that read them directly
    (config_dir / "hyperparameters.json").write_text(json.dumps(arguments.get("HyperParameters", {})))
    (config_dir / "inputdataconfig.json").write_text(json.dumps(input_config))
    (config_dir / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    user_args = to_cmd_args(user)
    variables: dict[str, Any] = {
        **arguments.get("Environment", {}),
        "SM_MODEL_DIR": model_dir,
        "SM_OUTPUT_DATA_DIR": output_dir,
        "SM_OUTPUT_DIR": container.path("/opt/ml/output"),
        "SM_INPUT_DIR": container.path("/opt/ml/input"),
        "SM_INPUT_CONFIG_DIR": config_dir,
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps(user),
        "SM_USER_ARGS": json.dumps(user_args),
        "SM_MODULE_DIR": arguments["HyperParameters"]["sagemaker_submit_directory"],
        "SM_MODULE_NAME": program.removesuffix(".py"),
        "SM_USER_ENTRY_POINT": program,
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_NUM_GPUS": 0,
        "SM_NUM_CPUS": os.cpu_count() or 1,
        "SM_LOG_LEVEL": decoded.get("sagemaker_container_log_level", 20),
        "SM_NETWORK_INTERFACE_NAME": "eth0",
        "PYTHONPATH": code_dir,
    }
    variables.update({f"SM_CHANNEL_{name.upper()}": container.path(f"/opt/ml/input/data/{name}") for name in channels})
    variables.update({f"SM_HP_{name.upper()}": _hp_text(value) for name, value in user.items()})
    log = _run([str(image.python), program, *user_args], code_dir, _environment(variables), container.root, step.name)
    base = arguments["OutputDataConfig"]["S3OutputPath"].rstrip("/") + f"/{job}/output"
    model_uri = f"{base}/model.tar.gz"
    env.store.put_bytes(model_uri, pack_directory(model_dir))
    outputs: dict[str, Any] = {"S3ModelArtifacts": model_uri}
    if any(output_dir.iterdir()):
        env.store.put_bytes(f"{base}/output.tar.gz", pack_directory(output_dir))
        outputs["OutputDataTarGz"] = f"{base}/output.tar.gz"
    metrics = final_metrics(arguments.get("AlgorithmSpecification", {}).get("MetricDefinitions", []), log)
    arn = env.arn("training-job", job)
    properties = {
        **arguments,
        "TrainingJobName": job,
        "TrainingJobArn": arn,
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
        "FinalMetricDataList": metrics,
    }
    if metrics:
        outputs["FinalMetrics"] = {m["MetricName"]: m["Value"] for m in metrics}
    return StepOutcome(properties, {"TrainingJob": {"Arn": arn}}, outputs)


def _submit_directory(location: str, container: _Container, env: JobEnvironment) -> bytes:
    """The code archive: an S3 URI, or (with network isolation) a file of an input channel such as
    ``/opt/ml/input/data/code/sourcedir.tar.gz``, which the SDK uses because the job cannot reach S3 itself."""
    if location.startswith(CONTAINER_ROOT):
        path = container.path(location)
        if not path.is_file():
            raise StoreError(f"sagemaker_submit_directory {location} is not in any input channel")
        return path.read_bytes()
    return env.store.get_bytes(location)


def _hp_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def final_metrics(definitions: list[dict[str, str]], log: str) -> list[dict[str, Any]]:
    """SageMaker's metric capture: the last match of each MetricDefinitions regex in the job's log."""
    found = []
    for definition in definitions:
        matches = re.findall(definition["Regex"], log)
        if matches:
            last = matches[-1]
            value = last[0] if isinstance(last, tuple) else last
            try:
                found.append({"MetricName": definition["Name"], "Value": float(value)})
            except ValueError:
                continue
    return found


def run_register_model(step: StepSpec, arguments: dict[str, Any], env: JobEnvironment) -> StepOutcome:
    """CreateModelPackage with the step's arguments, then its DescribeModelPackage as the step's properties."""
    status = arguments.get("ModelApprovalStatus", "PendingManualApproval")
    if status not in APPROVAL_STATUSES:
        raise StepFailed(
            f"step {step.name!r}: ModelApprovalStatus {status!r} is not one of {', '.join(APPROVAL_STATUSES)}"
        )
    try:
        arn = env.sagemaker.create_model_package(**arguments)["ModelPackageArn"]
        described = dict(env.sagemaker.describe_model_package(ModelPackageName=arn))
    except env.sagemaker.exceptions.ClientError as error:
        raise StepFailed(f"step {step.name!r}: CreateModelPackage failed: {error}") from error
    described.pop("ResponseMetadata", None)
    containers = arguments.get("InferenceSpecification", {}).get("Containers", [])
    outputs = {
        "ModelPackageArn": arn,
        "ModelApprovalStatus": described.get("ModelApprovalStatus", status),
        "ModelDataUrl": containers[0].get("ModelDataUrl") if containers else None,
    }
    return StepOutcome(described, {"RegisterModel": {"Arn": arn}}, outputs)


def run_create_model(step: StepSpec, arguments: dict[str, Any], env: JobEnvironment) -> StepOutcome:
    """CreateModel (a ModelStep's create half) under a generated name, then DescribeModel as the properties."""
    name = env.job_name(step.name)
    request = {**arguments, "ModelName": arguments.get("ModelName", name)}
    try:
        env.sagemaker.create_model(**request)
        described = dict(env.sagemaker.describe_model(ModelName=request["ModelName"]))
    except env.sagemaker.exceptions.ClientError as error:
        raise StepFailed(f"step {step.name!r}: CreateModel failed: {error}") from error
    described.pop("ResponseMetadata", None)
    return StepOutcome(described, {"Model": {"Arn": described["ModelArn"]}}, {"ModelName": request["ModelName"]})


def run_transform(step: StepSpec, arguments: dict[str, Any], env: JobEnvironment) -> StepOutcome:
    """A batch transform: CreateTransformJob, then its input really scored by the model's serving container.

    local_twin.serving is the one local implementation of the image's serving (the local endpoint shares it); the
    job reads and writes through boto3, so this step needs an S3 store (moto or AWS).
    """
    # imported here: the serving container is needed only by pipelines with a Transform step
    from local_twin.serving import ContainerError, ServingContainer, extract_model_archive
    from local_twin.serving.batch_transform import TransformJobError, TransformSpec
    from local_twin.serving.batch_transform import run_transform as batch_transform

    job = env.job_name(step.name)
    if not isinstance(env.store, S3Store):
        raise StepFailed(f"step {step.name!r}: a Transform step runs only with an S3 store (S3Store), not a folder")
    try:
        model = env.sagemaker.describe_model(ModelName=arguments["ModelName"])
        primary = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
        env.image(primary.get("Image"), step.name)
        env.sagemaker.create_transform_job(TransformJobName=job, **arguments)
        described = dict(env.sagemaker.describe_transform_job(TransformJobName=job))
    except env.sagemaker.exceptions.ClientError as error:
        raise StepFailed(f"step {step.name!r}: {error}") from error
    described.pop("ResponseMetadata", None)
    container = _Container(env.workdir, step.name)
    try:
        spec = TransformSpec.from_description(described)
        archive = env.store.get_bytes(primary["ModelDataUrl"])
        model_dir = extract_model_archive(archive, container.root / "opt" / "ml" / "model")
        serving = ServingContainer(
            str(primary["Image"]),
            model_dir,
            {str(k): str(v) for k, v in (primary.get("Environment") or {}).items()},
            work_dir=container.root / "serving",
            batch=True,
        )
        with serving:
            result = batch_transform(spec, serving.url, env.store.client)
    except (TransformJobError, ContainerError, StoreError) as error:
        raise StepFailed(f"step {step.name!r}: {error}") from error
    metadata = {"TransformJob": {"Arn": described["TransformJobArn"]}}
    outputs = {"S3OutputPath": spec.output_path, "Outputs": result.outputs, "Records": result.records}
    return StepOutcome(described, metadata, outputs)
