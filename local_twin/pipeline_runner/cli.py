"""``python -m local_twin.pipeline_runner``: run the rendered definition on this machine.

The command does what the upsert Lambda and SageMaker do in AWS, with local values: fill the deploy tokens (through
mlops_shared.deploy_tokens, the one implementation), upload the code assets (mlops_shared.code_assets) and any local
files given with --upload, start the SageMaker and S3 APIs in-process (moto) with the model package group and the
artifacts bucket, then run the execution, write its record to --output and copy the bucket to --store-dir.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console
from rich.table import Table

from local_twin.pipeline_runner.definition import DefinitionError
from local_twin.pipeline_runner.runner import ExecutionResult, PipelineRunner, StepRecord
from local_twin.storage import LocalDirectoryStore, ObjectStore, S3Store, StoreError
from ml_code import SCRIPTS_DIR
from mlops_shared.code_assets import MANIFEST_FILE, CodeAsset, StaleCodeError, publish_code_assets, read_manifest
from mlops_shared.deploy_tokens import DeployValues, TokenError, fill_definition
from mlops_shared.pipeline_names import PIPELINE_NAME

LOCAL_ACCOUNT = "123456789012"


def local_deploy_values(region: str, image_uris: Path, bucket: str, group: str) -> DeployValues:
    """The stand-ins for the account's resources; nothing checks them locally but their shape."""
    return DeployValues(
        execution_role_arn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/pipeline-local-sagemaker-execution",
        artifacts_bucket=bucket,
        kms_key_arn=f"arn:aws:kms:{region}:{LOCAL_ACCOUNT}:key/00000000-0000-4000-8000-000000000000",
        model_package_group_name=group,
        xgboost_image_uri=image_uri_for(image_uris, region),
        model_monitor_image_uri=image_uri_for(image_uris, region, "model-monitor"),
        subnet_ids=("subnet-0000000000000000a", "subnet-0000000000000000b"),
        security_group_ids=("sg-0000000000000000a",),
    )


def image_uri_for(image_uris: Path, region: str, image: str = "xgboost") -> str:
    """An image's URI for the region ("xgboost": ``{{XGBoostImageUri}}``, "model-monitor":
    ``{{ModelMonitorImageUri}}``), from build/image-uris.json (written by make definition)."""
    if not image_uris.is_file():
        raise PreparationError(f"{image_uris} does not exist: run `make definition` first")
    table = json.loads(image_uris.read_text())
    try:
        return str(table[image][region])
    except KeyError as error:
        raise PreparationError(f"{image_uris} has no {image} image for region {region!r}") from error


class PreparationError(ValueError):
    """The definition cannot be made ready to run (tokens, stale code keys, missing files)."""


def prepare_definition(
    text: str, values: DeployValues, store: ObjectStore, rendered: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Fill the deploy tokens and upload the code assets, as the upsert Lambda does before CreatePipeline.

    ``rendered``: the render's code manifest (build/code-assets.json), so a stale definition's error names what differs.
    """
    try:
        definition = fill_definition(text, values)
    except TokenError as error:
        raise PreparationError(str(error)) from error
    upload_code(store, values.artifacts_bucket, definition, rendered)
    return definition


def upload_code(
    store: ObjectStore, bucket: str, definition: dict[str, Any], rendered: dict[str, Any] | None = None
) -> list[str]:
    """The same content-addressed objects the upsert Lambda uploads before CreatePipeline (mlops_shared.code_assets).

    A code key in the definition that the current scripts do not produce means the definition was rendered from
    other scripts: running it would run old code, so that is an error (raised before anything is uploaded).
    """

    def put(asset: CodeAsset) -> None:
        store.put_bytes(f"s3://{bucket}/{asset.key}", asset.body)

    try:
        assets = publish_code_assets(json.dumps(definition), put, SCRIPTS_DIR, rendered=rendered)
    except StaleCodeError as error:
        raise PreparationError(str(error)) from error
    return [f"s3://{bucket}/{asset.key}" for asset in assets]


def parse_pairs(pairs: Sequence[str], what: str) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise SystemExit(f"{what} {pair!r}: expected NAME=VALUE")
        parsed[name] = value
    return parsed


@contextmanager
def in_process_aws(region: str, bucket: str) -> Iterator[tuple[Any, S3Store]]:
    """moto's SageMaker and S3 in this process: (SageMaker client, the store with the artifacts bucket). S3, not a
    folder, because the Transform step's batch transform reads and writes through the S3 API, as in SageMaker."""
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name=region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})  # type: ignore[typeddict-item]
        yield boto3.client("sagemaker", region_name=region), S3Store(s3)


def mirror(store: S3Store, bucket: str, folder: Path) -> int:
    """Every object of the bucket into ``folder/<bucket>/<key>`` (the S3 of this process ends with it)."""
    copy = LocalDirectoryStore(folder)
    keys = store.list_keys(f"s3://{bucket}/")
    for key in keys:
        copy.put_bytes(f"s3://{bucket}/{key}", store.get_bytes(f"s3://{bucket}/{key}"))
    return len(keys)


def step_table(result: ExecutionResult) -> Table:
    table = Table(title=f"{result.status}: {result.execution_arn}")
    for column in ("Step", "Type", "Status", "Seconds", "Detail"):
        table.add_column(column)
    for record in result.steps:
        seconds = f"{(record.end_time - record.start_time).total_seconds():.1f}" if record.end_time else "-"
        detail = record.failure_reason or ", ".join(f"{k}={v}" for k, v in record.outputs.items() if k != "Outcome")
        if record.step_type == "Condition":
            detail = f"Outcome={record.metadata['Condition']['Outcome']}"
        table.add_row(record.step_name, record.step_type, record.step_status, seconds, detail[:160])
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_twin.pipeline_runner", description=__doc__)
    parser.add_argument("--definition", type=Path, default=Path("build/pipeline-definition.json"), help="%(default)s")
    parser.add_argument("--image-uris", type=Path, default=Path("build/image-uris.json"), help="%(default)s")
    parser.add_argument("--region", default="us-east-1", help="fills {{XGBoostImageUri}} (%(default)s)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="pipeline parameter")
    parser.add_argument("--upload", action="append", default=[], metavar="FILE=S3URI", help="put a file in the store")
    parser.add_argument(
        "--store-dir",
        type=Path,
        default=Path("build/pipeline-local/store"),
        help="the bucket, copied: s3://b/k → DIR/b/k",
    )
    parser.add_argument("--workdir", type=Path, default=Path("build/pipeline-local/work"), help="per-step /opt/ml")
    parser.add_argument("--output", type=Path, default=Path("build/pipeline-local/execution.json"), help="the record")
    parser.add_argument("--bucket", default="pipeline-local-artifacts", help="fills {{ArtifactsBucket}}")
    parser.add_argument("--model-package-group", default="abalone-local", help="fills {{ModelPackageGroupName}}")
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME, help="Execution.PipelineName (%(default)s)")
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 150))
    if not args.definition.is_file():
        raise SystemExit(f"{args.definition} does not exist: run `make definition` first")

    def progress(record: StepRecord) -> None:
        console.print(f"[{record.step_status}] {record.step_name}", highlight=False)

    with in_process_aws(args.region, args.bucket) as (sagemaker, store):
        try:
            values = local_deploy_values(args.region, args.image_uris, args.bucket, args.model_package_group)
            rendered = read_manifest(args.definition.parent / MANIFEST_FILE)
            definition = prepare_definition(args.definition.read_text(), values, store, rendered)
        except PreparationError as error:
            raise SystemExit(f"{args.definition}: {error}") from error
        for local, uri in parse_pairs(args.upload, "--upload").items():
            try:
                store.put_bytes(uri, Path(local).read_bytes())
            except (OSError, StoreError, store.client.exceptions.ClientError) as error:
                hint = " (make data downloads data/abalone.csv)" if isinstance(error, FileNotFoundError) else ""
                raise SystemExit(f"--upload {local}={uri}: {error}{hint}") from error
        sagemaker.create_model_package_group(ModelPackageGroupName=args.model_package_group)
        try:
            runner = PipelineRunner(
                definition,
                store=store,
                sagemaker_client=sagemaker,
                workdir=args.workdir,
                pipeline_name=args.pipeline_name,
            )
            result = runner.run(parse_pairs(args.param, "--param"), on_step=progress)
        except DefinitionError as error:
            console.print(f"[red]definition rejected:[/red] {error}", highlight=False)
            return 2
        package = _package_summary(sagemaker, result.model_package_arn)
        mirrored = mirror(store, args.bucket, args.store_dir)
    console.print(f"{mirrored} objects of s3://{args.bucket} copied to {args.store_dir}", highlight=False)
    document = {**result.to_json(), "evaluation": result.property_files, "registered_model_package": package}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, default=str) + "\n")
    console.print(step_table(result))
    if result.failure_reason:
        console.print(f"FailureReason: {result.failure_reason}", highlight=False)
    console.print(f"wall time {document['wall_seconds']:.1f} s; record written to {args.output}", highlight=False)
    return 0 if result.status == "Succeeded" else 1


def _package_summary(sagemaker: Any, arn: str | None) -> dict[str, Any] | None:
    if arn is None:
        return None
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    containers = described.get("InferenceSpecification", {}).get("Containers", [])
    return {
        "ModelPackageArn": arn,
        "ModelApprovalStatus": described.get("ModelApprovalStatus"),
        "ModelDataUrl": containers[0].get("ModelDataUrl") if containers else None,
        "Image": containers[0].get("Image") if containers else None,
        "ModelMetrics": described.get("ModelMetrics"),
    }
