"""Data capture records and keys as SageMaker writes them, and the rows the analyzer reads from them."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

import pytest

from local_twin.monitor import capture

MOMENT = datetime(2022, 4, 18, 0, 21, 48, 903000, tzinfo=UTC)
HEADER = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}
# The line of AWS's "Model Monitor introduction" notebook (cell 16), shortened input: the service's key order.
NOTEBOOK_LINE = (
    '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"132,10,182.9",'
    '"encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; charset=utf-8","mode":"OUTPUT",'
    '"data":"0.036397725343704224","encoding":"CSV"}},"eventMetadata":{"eventId":'
    '"f04a8538-696c-4648-8064-8b680b2e3318","inferenceTime":"2022-04-18T00:21:48Z"},"eventVersion":"0"}'
)


def test_a_csv_record_is_the_documented_line_byte_for_byte() -> None:
    record = capture.capture_record(
        capture.capture_object("INPUT", "text/csv", b"132,10,182.9", capture.encoding_for("text/csv", HEADER)),
        capture.capture_object(
            "OUTPUT", "text/csv; charset=utf-8", b"0.036397725343704224", capture.encoding_for("text/csv", HEADER)
        ),
        event_id="f04a8538-696c-4648-8064-8b680b2e3318",
        moment=MOMENT,
    )

    assert capture.record_line(record) == NOTEBOOK_LINE


def test_an_inference_id_sits_between_event_id_and_time() -> None:
    record = capture.capture_record(None, None, event_id="e", moment=MOMENT, inference_id="i")

    assert list(record["eventMetadata"]) == ["eventId", "inferenceId", "inferenceTime"]
    assert record["captureData"] == {}


@pytest.mark.parametrize(
    ("content_type", "header", "encoding"),
    [
        ("text/csv", HEADER, "CSV"),
        ("text/csv; charset=utf-8", HEADER, "CSV"),
        ("application/json", HEADER, "JSON"),
        ("application/x-npy", HEADER, "BASE64"),
        ("text/csv", None, "BASE64"),  # "If no headers are specified SageMaker AI will by default base64 encode"
        (None, HEADER, "BASE64"),
    ],
)
def test_the_encoding_follows_the_capture_content_type_header(
    content_type: str | None, header: dict[str, list[str]] | None, encoding: str
) -> None:
    assert capture.encoding_for(content_type, header) == encoding


def test_base64_data_is_the_raw_bytes_encoded() -> None:
    captured = capture.capture_object("OUTPUT", "application/x-npy", b"\x00\xff", "BASE64")

    assert captured == {
        "observedContentType": "application/x-npy",
        "mode": "OUTPUT",
        "data": base64.b64encode(b"\x00\xff").decode(),
        "encoding": "BASE64",
    }


def test_the_key_is_endpoint_variant_utc_hour_and_minute_second_millisecond_uuid() -> None:
    key = capture.capture_key("datacapture/", "ep", "AllTraffic", MOMENT, "0b7bfd33-c8a7-4adf-a09a-98fd0af79974")

    assert key == "datacapture/ep/AllTraffic/2022/04/18/00/21-48-903-0b7bfd33-c8a7-4adf-a09a-98fd0af79974.jsonl"
    assert re.fullmatch(r"\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl", key.rsplit("/", 1)[1])
    assert capture.capture_key("", "ep", "v", MOMENT, "u").startswith("ep/v/2022/")


def test_rows_put_the_captured_output_first_line_by_line() -> None:
    both = capture.capture_record(
        capture.capture_object("INPUT", "text/csv", b"M,0.5\nF,0.6\n", "CSV"),
        capture.capture_object("OUTPUT", "text/csv", b"9.1\n8.2\n", "CSV"),
        event_id="a",
        moment=MOMENT,
    )
    input_only = capture.capture_record(
        capture.capture_object("INPUT", "text/csv", base64.b64encode(b"I,0.7").decode().encode(), "CSV"),
        None,
        event_id="b",
        moment=MOMENT,
    )
    input_only["captureData"]["endpointInput"] = {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": base64.b64encode(b"I,,0.7").decode(),
        "encoding": "BASE64",
    }

    rows = capture.rows_of(capture.read_records(capture.record_line(both) + "\n" + json.dumps(input_only) + "\n"))

    assert [r.values for r in rows] == [["9.1", "M", "0.5"], ["8.2", "F", "0.6"], ["I", None, "0.7"]]
    assert rows[0].inference_time == MOMENT.replace(microsecond=0)


def test_json_payloads_are_not_analyzed_locally() -> None:
    record = capture.capture_record(
        capture.capture_object("INPUT", "application/json", b'{"a": 1}', "JSON"), None, event_id="c", moment=MOMENT
    )

    with pytest.raises(capture.CaptureFormatError, match="only CSV payloads"):
        capture.rows_of([record])
