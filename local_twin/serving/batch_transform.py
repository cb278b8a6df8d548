"""Run a SageMaker batch transform job locally: its input through the model, its ``.out`` files to (emulated) S3.

The emulator records ``CreateTransformJob`` and reports it ``Completed`` at once, but produces nothing. This module
does the work SageMaker does for such a job, reading the job exactly as ``DescribeTransformJob`` returns it:

1. list the input objects (``S3Prefix``: every object under the prefix; gzip input when ``CompressionType=Gzip``);
2. split each object into records (``SplitType=Line``, or ``None`` for the whole object as one record);
3. apply ``DataProcessing.InputFilter`` to each CSV record;
4. send the records to the model server with ``SAGEMAKER_BATCH`` semantics (one prediction per line), in mini-batches
   of at most ``MaxPayloadInMB`` (``MultiRecord``) or one record per request (``SingleRecord``);
5. join each prediction to its input record when ``JoinSource=Input`` (CSV: ``<input>,<prediction>``), then apply
   ``OutputFilter``;
6. write ``<S3OutputPath>/<input key relative to the prefix>.out`` assembled by line, SSE-KMS with the job's key.

The model is served by the same serving container the local endpoint uses (:mod:`local_twin.serving.endpoint`), with
``SAGEMAKER_BATCH`` set as SageMaker sets it for transform jobs, so batch and real-time predictions share one loading
and prediction path, as they share one image in AWS. Requests carry the job's ``ContentType`` and ``Accept``. Options
SageMaker supports but this project does not use (RecordIO/TFRecord splitting, manifest inputs, JSON filters) are
refused with an error naming the option, never ignored.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from local_twin.serving.client import invoke
from local_twin.storage import StoreError, split_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CSV_CONTENT_TYPE = "text/csv"
MEGABYTE = 1024 * 1024
DEFAULT_MAX_PAYLOAD_MB = 6


class TransformJobError(ValueError):
    """The transform job asks for something the local run cannot do, or its data does not fit the model."""


@dataclass(frozen=True)
class CsvFilter:
    """A SageMaker JSONPath filter over the columns of a CSV record: ``$``, ``$[1:]``, ``$[0,-1]``, ``$[0,5:]``.

    Hand-written: the filters address columns of a CSV line, which no JSONPath library models; the grammar SageMaker
    documents for CSV is this small list of indices and slices.
    """

    expression: str
    selectors: tuple[int | slice, ...] | None  # None selects the whole record

    _ITEM = re.compile(r"^\s*(-?\d+)?\s*(:)?\s*(-?\d+)?\s*$")

    @classmethod
    def parse(cls, expression: str | None, *, name: str) -> CsvFilter:
        text = (expression or "$").strip()
        if text == "$":
            return cls(text, None)
        if not (text.startswith("$[") and text.endswith("]")):
            raise TransformJobError(f"{name} {text!r} is not a CSV column filter such as $[1:] or $[0,-1]")
        selectors: list[int | slice] = []
        for item in text[2:-1].split(","):
            match = cls._ITEM.match(item)
            if not match or match.group(0).strip() == "" or (match.group(2) is None and match.group(1) is None):
                raise TransformJobError(f"{name} {text!r}: {item.strip()!r} is neither a column index nor a slice")
            start, colon, stop = match.groups()
            if colon is None:
                selectors.append(int(start))
            else:
                selectors.append(slice(None if start is None else int(start), None if stop is None else int(stop)))
        return cls(text, tuple(selectors))

    def apply(self, fields: Sequence[str]) -> list[str]:
        if self.selectors is None:
            return list(fields)
        selected: list[str] = []
        for selector in self.selectors:
            if isinstance(selector, slice):
                selected.extend(fields[selector])
            else:
                try:
                    selected.append(fields[selector])
                except IndexError as exc:
                    raise TransformJobError(
                        f"filter {self.expression} selects column {selector} of a record with {len(fields)} columns"
                    ) from exc
        return selected


@dataclass(frozen=True)
class TransformSpec:
    """The parts of a DescribeTransformJob answer that decide what the job produces."""

    job_name: str
    model_name: str
    input_uri: str
    content_type: str
    split_type: str
    compression: str
    batch_strategy: str
    max_payload_mb: int
    output_path: str
    accept: str
    assemble_with: str
    kms_key_id: str | None
    input_filter: CsvFilter
    output_filter: CsvFilter
    join_input: bool

    @classmethod
    def from_description(cls, job: Mapping[str, Any]) -> TransformSpec:
        """Validate a transform job description; every unsupported option is named in the error."""
        name = str(job.get("TransformJobName", "?"))
        transform_input = job.get("TransformInput") or {}
        source = (transform_input.get("DataSource") or {}).get("S3DataSource") or {}
        output = job.get("TransformOutput") or {}
        processing = job.get("DataProcessing") or {}

        def refuse(option: str, value: object, supported: str) -> TransformJobError:
            return TransformJobError(f"transform job {name}: {option}={value!r} is not supported locally ({supported})")

        data_type = source.get("S3DataType", "S3Prefix")
        if data_type != "S3Prefix":
            raise refuse("S3DataType", data_type, "S3Prefix")
        content_type = str(transform_input.get("ContentType") or CSV_CONTENT_TYPE).split(";")[0].strip().lower()
        if content_type != CSV_CONTENT_TYPE:
            raise refuse("ContentType", content_type, CSV_CONTENT_TYPE + ": records are split into CSV lines")
        split_type = transform_input.get("SplitType", "None")
        if split_type not in ("Line", "None"):
            raise refuse("SplitType", split_type, "Line or None")
        compression = transform_input.get("CompressionType", "None")
        if compression not in ("None", "Gzip"):
            raise refuse("CompressionType", compression, "None or Gzip")
        strategy = job.get("BatchStrategy") or "MultiRecord"
        if strategy not in ("MultiRecord", "SingleRecord"):
            raise refuse("BatchStrategy", strategy, "MultiRecord or SingleRecord")
        accept = str(output.get("Accept") or CSV_CONTENT_TYPE)
        if accept != CSV_CONTENT_TYPE:
            raise refuse("Accept", accept, CSV_CONTENT_TYPE)
        assemble_with = output.get("AssembleWith", "None")
        if assemble_with not in ("Line", "None"):
            raise refuse("AssembleWith", assemble_with, "Line or None")
        join_source = processing.get("JoinSource", "None")
        if join_source not in ("Input", "None"):
            raise refuse("JoinSource", join_source, "Input or None")
        input_uri, output_path = source.get("S3Uri"), output.get("S3OutputPath")
        if not input_uri or not output_path:
            raise TransformJobError(f"transform job {name}: TransformInput S3Uri and S3OutputPath are required")
        return cls(
            job_name=name,
            model_name=str(job.get("ModelName", "")),
            input_uri=str(input_uri),
            content_type=content_type,
            split_type=str(split_type),
            compression=str(compression),
            batch_strategy=str(strategy),
            max_payload_mb=int(job.get("MaxPayloadInMB") or DEFAULT_MAX_PAYLOAD_MB),
            output_path=str(output_path),
            accept=accept,
            assemble_with=str(assemble_with),
            kms_key_id=output.get("KmsKeyId") or None,
            input_filter=CsvFilter.parse(processing.get("InputFilter"), name="InputFilter"),
            output_filter=CsvFilter.parse(processing.get("OutputFilter"), name="OutputFilter"),
            join_input=join_source == "Input",
        )


@dataclass
class TransformResult:
    """What a local transform produced."""

    job_name: str
    outputs: list[str] = field(default_factory=list)  # s3:// URIs of the .out files
    records: int = 0


def output_key_for(input_prefix: str, input_key: str, output_prefix: str) -> str:
    """Where SageMaker writes the output of one input object: its path below the prefix's folder, plus ``.out``."""
    folder = input_prefix.rsplit("/", 1)[0] if "/" in input_prefix else ""
    relative = input_key[len(folder) :].lstrip("/") if folder else input_key
    return f"{output_prefix.rstrip('/')}/{relative}.out".lstrip("/")


def run_transform(spec: TransformSpec, container_url: str, s3: S3Client) -> TransformResult:
    """Run the job's input through the serving container at ``container_url`` (started with ``batch=True``) and write
    the ``.out`` files."""
    try:
        in_bucket, in_prefix = split_uri(spec.input_uri)
        out_bucket, out_prefix = split_uri(spec.output_path)
    except StoreError as error:
        raise TransformJobError(str(error)) from error
    keys = list(_list_keys(s3, in_bucket, in_prefix))
    if not keys:
        raise TransformJobError(f"transform job {spec.job_name}: no input objects under {spec.input_uri}")
    result = TransformResult(job_name=spec.job_name)
    for key in keys:
        body = s3.get_object(Bucket=in_bucket, Key=key)["Body"].read()
        if spec.compression == "Gzip":
            body = gzip.decompress(body)
        records = _records(body.decode("utf-8"), spec.split_type)
        predictions = _predict_all(container_url, spec, key, records)
        lines = [
            _output_record(spec, record, prediction) for record, prediction in zip(records, predictions, strict=True)
        ]
        separator = "\n" if spec.assemble_with == "Line" else ""
        out_key = output_key_for(in_prefix, key, out_prefix)
        extra: dict[str, str] = {}
        if spec.kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": spec.kms_key_id}
        s3.put_object(
            Bucket=out_bucket,
            Key=out_key,
            Body=(separator.join(lines) + separator).encode("utf-8"),
            ContentType=spec.accept,
            **extra,  # type: ignore[arg-type]
        )
        result.outputs.append(f"s3://{out_bucket}/{out_key}")
        result.records += len(records)
    return result


def _list_keys(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):
                yield item["Key"]


def _records(text: str, split_type: str) -> list[str]:
    if split_type == "None":
        return [text.strip("\n")] if text.strip() else []
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def _predict_all(url: str, spec: TransformSpec, key: str, records: Sequence[str]) -> list[str]:
    payloads = [",".join(spec.input_filter.apply(record.split(","))) for record in records]
    predictions: list[str] = []
    for batch in _mini_batches(payloads, spec):
        answer = invoke(url, "\n".join(batch).encode("utf-8"), spec.content_type, spec.accept)
        if answer.status != 200:
            raise TransformJobError(
                f"transform job {spec.job_name}: the model refused records {len(predictions) + 1}.. of "
                f"s3 key {key} ({answer.status}): {answer.body}"
            )
        lines = answer.body.rstrip("\n").split("\n")
        if len(lines) != len(batch):
            raise TransformJobError(
                f"transform job {spec.job_name}: {len(lines)} predictions for {len(batch)} records of {key}"
            )
        predictions.extend(lines)
    return predictions


def _mini_batches(payloads: Sequence[str], spec: TransformSpec) -> Iterator[list[str]]:
    if spec.batch_strategy == "SingleRecord":
        for payload in payloads:
            yield [payload]
        return
    limit = spec.max_payload_mb * MEGABYTE
    batch: list[str] = []
    size = 0
    for payload in payloads:
        needed = len(payload.encode("utf-8")) + 1
        if needed > limit:
            raise TransformJobError(f"transform job {spec.job_name}: a record exceeds MaxPayloadInMB")
        if batch and size + needed > limit:
            yield batch
            batch, size = [], 0
        batch.append(payload)
        size += needed
    if batch:
        yield batch


def _output_record(spec: TransformSpec, record: str, prediction: str) -> str:
    fields = (record.split(",") if spec.join_input else []) + prediction.split(",")
    return ",".join(spec.output_filter.apply(fields))
