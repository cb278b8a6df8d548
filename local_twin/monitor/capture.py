"""Endpoint data capture, as SageMaker writes it and as the Model Monitor analyzer reads it.

Sources (docs/monitoring.md, "Sources", lists them):

- S3 layout (SageMaker developer guide, "Capture data from a real-time endpoint"):
  ``s3://<DestinationS3Uri>/{endpoint-name}/{variant-name}/yyyy/mm/dd/hh/filename.jsonl``; real file names in AWS's
  sample notebooks are ``MM-SS-mmm-<uuid4>.jsonl`` (``20-48-871-0b7bfd33-....jsonl``). That the fields are minute,
  second and millisecond of the file's first record, in UTC, is inferred [I].
- One JSON line per inference, no pretty-printing, keys in the service's order: ``captureData`` (``endpointInput``
  and/or ``endpointOutput``, each ``observedContentType``, ``mode`` INPUT/OUTPUT, ``data``, ``encoding``),
  ``eventMetadata`` (``eventId``, ``inferenceId`` only when the caller passed one, ``inferenceTime`` in UTC to the
  second with ``Z``), ``eventVersion`` ``"0"`` (verbatim lines of AWS's "Model Monitor introduction" notebook and of
  aws/sagemaker-python-sdk issue #2629).
- ``encoding`` (botocore's ``CaptureContentTypeHeader``): a content type listed in ``CsvContentTypes`` is captured as
  ``CSV``, in ``JsonContentTypes`` as ``JSON`` (the payload text), anything else as ``BASE64``; "If no headers are
  specified SageMaker AI will by default base64 encode when capturing the data". The list match ignores the
  type's parameters (``text/csv; charset=utf-8`` captured as CSV with ``["text/csv"]``) [I].
- A capture option of only ``Input`` (or only ``Output``) leaves the other object out [I].

Reading (what the analyzer does with ``dataset_format: {"sagemakerCaptureJson": {"captureIndexNames":
["endpointInput", "endpointOutput"]}}``): each CSV line of a record's input is a row; when the output was captured
too, its values come first ("the prediction/output columns are assumed to be the first columns in the training
dataset", developer guide, "Create a baseline"; the exact merge is inferred [I]).
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

CAPTURE_MODES = ("Input", "Output", "InputAndOutput")
ENCODINGS = ("CSV", "JSON", "BASE64")
EVENT_VERSION = "0"


class CaptureFormatError(ValueError):
    """Captured records the local analyzer cannot read (the message says which and why)."""


def media_type(content_type: str | None) -> str:
    """``text/csv; charset=utf-8`` → ``text/csv``."""
    return (content_type or "").split(";")[0].strip().lower()


def encoding_for(content_type: str | None, header: Mapping[str, Any] | None) -> str:
    """The ``encoding`` a payload of this content type is captured with, per the config's CaptureContentTypeHeader."""
    kind = media_type(content_type)
    if header:
        if kind in {media_type(t) for t in header.get("CsvContentTypes") or []}:
            return "CSV"
        if kind in {media_type(t) for t in header.get("JsonContentTypes") or []}:
            return "JSON"
    return "BASE64"


def capture_object(mode: str, content_type: str | None, body: bytes, encoding: str) -> dict[str, Any]:
    """One ``endpointInput`` / ``endpointOutput`` object (``mode`` INPUT or OUTPUT)."""
    data = base64.b64encode(body).decode("ascii") if encoding == "BASE64" else body.decode("utf-8", errors="replace")
    captured: dict[str, Any] = {}
    if content_type is not None:
        captured["observedContentType"] = content_type
    captured.update({"mode": mode, "data": data, "encoding": encoding})
    return captured


def inference_time(moment: datetime) -> str:
    """``2022-04-18T00:21:48Z``: UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_inference_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def capture_record(
    endpoint_input: dict[str, Any] | None,
    endpoint_output: dict[str, Any] | None,
    *,
    event_id: str,
    moment: datetime,
    inference_id: str | None = None,
) -> dict[str, Any]:
    capture: dict[str, Any] = {}
    if endpoint_input is not None:
        capture["endpointInput"] = endpoint_input
    if endpoint_output is not None:
        capture["endpointOutput"] = endpoint_output
    metadata: dict[str, Any] = {"eventId": event_id}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = inference_time(moment)
    return {"captureData": capture, "eventMetadata": metadata, "eventVersion": EVENT_VERSION}


def record_line(record: Mapping[str, Any]) -> str:
    """A record as one JSON line, compact as the service writes it."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def capture_key(prefix: str, endpoint: str, variant: str, first_record: datetime, file_id: str) -> str:
    """``<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/MM-SS-mmm-<uuid>.jsonl`` (the prefix is the destination's key)."""
    moment = first_record.astimezone(UTC)
    folder = moment.strftime("%Y/%m/%d/%H")
    name = f"{moment.strftime('%M-%S')}-{moment.microsecond // 1000:03d}-{file_id}.jsonl"
    parts = [part for part in (prefix.strip("/"), endpoint, variant, folder, name) if part]
    return "/".join(parts)


def read_records(text: str) -> list[dict[str, Any]]:
    """The records of one capture file (blank lines skipped)."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as error:
            raise CaptureFormatError(f"capture line {number} is not JSON: {error}") from error
    return records


@dataclass(frozen=True)
class CapturedRow:
    """One row of captured data, as the analyzer's columns see it."""

    values: list[str | None]
    inference_time: datetime


def _payload_text(captured: Mapping[str, Any], csv_types: Sequence[str]) -> str:
    encoding = captured.get("encoding")
    data = str(captured.get("data", ""))
    if encoding == "CSV":
        return data
    if encoding == "BASE64" and media_type(captured.get("observedContentType")) in csv_types:
        return base64.b64decode(data).decode("utf-8", errors="replace")
    raise CaptureFormatError(
        f"captured {captured.get('mode', '')} data of type {captured.get('observedContentType')!r} with encoding "
        f"{encoding!r}: only CSV payloads are analyzed locally"
    )


def csv_rows(text: str) -> list[list[str | None]]:
    """CSV lines as Spark reads them without a header: an empty field is null; blank lines are skipped."""
    rows: list[list[str | None]] = []
    for fields in csv.reader(io.StringIO(text)):
        if not fields or fields == [""]:
            continue
        rows.append([field if field != "" else None for field in fields])
    return rows


def rows_of(records: Iterable[Mapping[str, Any]], csv_types: Sequence[str] = ("text/csv",)) -> list[CapturedRow]:
    """The rows of captured records: the output's values first, then the input's, line by line [I]."""
    rows: list[CapturedRow] = []
    for record in records:
        capture = record.get("captureData", {})
        moment = parse_inference_time(str(record.get("eventMetadata", {}).get("inferenceTime")))
        inputs = csv_rows(_payload_text(capture["endpointInput"], csv_types)) if "endpointInput" in capture else []
        outputs = csv_rows(_payload_text(capture["endpointOutput"], csv_types)) if "endpointOutput" in capture else []
        if inputs and outputs and len(outputs) == len(inputs):
            rows.extend(CapturedRow([*out, *inp], moment) for out, inp in zip(outputs, inputs, strict=True))
        elif inputs:
            rows.extend(CapturedRow(inp, moment) for inp in inputs)
        else:
            rows.extend(CapturedRow(out, moment) for out in outputs)
    return rows
