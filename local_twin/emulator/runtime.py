"""SageMaker Runtime's InvokeEndpoint, answered by the endpoint's local serving container, with data capture.

moto 5.2.5 answers every InvokeEndpoint with a canned body (``"body"``, content type ``"content_type"``). Here the
request goes to the container serving the endpoint -- whoever serves it (the local twin) registers it with
:meth:`Runtime.serve` -- and the answer is SageMaker's (API reference, "InvokeEndpoint"; botocore's
``sagemaker-runtime`` model):

- 200: the container's body and ``Content-Type``, ``x-Amzn-Invoked-Production-Variant`` (the variant's name), the
  container's ``X-Amzn-SageMaker-Custom-Attributes``; the request's ``Content-Type``, ``Accept`` and custom attributes
  are passed to the container.
- a 4xx or 5xx from the container: ``ModelError`` (HTTP 424) with ``OriginalStatusCode``, ``OriginalMessage`` (the
  container's body), ``LogStreamArn`` and the message AWS writes, ``Received client error (400) from primary with
  message "<body>". See https://<region>.console.aws.amazon.com/cloudwatch/home?region=<region>#logEventViewer:
  group=/aws/sagemaker/Endpoints/<endpoint> in account <account> for more information.`` ("server error" for a 5xx),
  as real answers quote it (aws/amazon-sagemaker-examples issues #1881, #4324; "primary" names the container).
  ``LogStreamArn`` is the endpoint's log group ARN [I].
- an endpoint that does not exist: ``ValidationError`` "Endpoint <name> of account <account> not found." (as AWS
  answers, quoted in aws/amazon-sagemaker-examples issue #293). An endpoint still ``Creating`` (or ``Failed``)
  answers the same [U]. A ``TargetVariant`` the endpoint does not have: ``ValidationError`` [U: wording].
- emulator-only: an endpoint that exists but has no registered container answers ``ValidationError`` naming
  :meth:`Runtime.serve` (not retried by the SDKs); a container that cannot be reached, ``ServiceUnavailable`` with
  the connection error.

Data capture (``DataCaptureConfig`` of the endpoint's current endpoint config; SageMaker developer guide, "Capture
data from a real-time endpoint"; record format in :mod:`local_twin.monitor.capture`):

- ``EnableCapture`` (default true), ``InitialSamplingPercentage`` (a request is captured when
  :attr:`Runtime.sampling` returns a number below it: inject a function for deterministic tests),
  ``CaptureOptions`` (``Input``, ``Output``, ``InputAndOutput``), ``CaptureContentTypeHeader`` (CSV / JSON / BASE64);
- objects at ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/MM-SS-mmm-<uuid>.jsonl``, SSE-KMS with the
  config's ``KmsKeyId`` (without one, the bucket's default encryption applies [I]);
- records of the same endpoint and variant go to one file until a minute has passed since its first record or the
  hour changes (real files roll over about once a minute [I]); SageMaker buffers and writes a file later, here the
  object is rewritten with every record, so it can be read at once;
- only successful invocations are captured [I]; a capture that cannot be written (no such bucket) does not fail the
  invocation and is recorded in :attr:`Runtime.capture_errors`.

Simplified: one container per endpoint (all traffic goes to it and is reported as the first variant's, or the
``TargetVariant``'s); no async or streaming invocations; the container's answer is not size-checked.
"""

from __future__ import annotations

import http.client
import random
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core.common_types import TYPE_RESPONSE
from moto.core.exceptions import ServiceException
from moto.s3.models import s3_backends
from moto.sagemaker.models import sagemaker_backends
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from local_twin.emulator import core
from local_twin.emulator.account import ACCOUNT_ID
from local_twin.monitor import capture

CONTAINER_TIMEOUT_SECONDS = 60.0  # SageMaker's limit for a real-time endpoint's answer
FILE_ROLLOVER = timedelta(minutes=1)
UNAVAILABLE_STATUSES = ("Creating", "Failed", "Deleting")


class _RuntimeError(ServiceException):
    """An InvokeEndpoint error, serialised with sagemaker-runtime's model (moto adds its HTTP status)."""


class ModelError(ServiceException):
    code = "ModelError"

    def __init__(self, message: str, original_status: int, original_message: str, log_stream_arn: str) -> None:
        super().__init__(message)
        self.OriginalStatusCode = original_status
        self.OriginalMessage = original_message
        self.LogStreamArn = log_stream_arn


@dataclass
class _CaptureFile:
    bucket: str
    key: str
    started: datetime
    kms_key_id: str | None
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Invocation:
    """One InvokeEndpoint the emulator answered (for tests and the run's report)."""

    endpoint: str
    variant: str
    status: int
    captured: str | None


class Runtime:
    """The registry between the emulated SageMaker Runtime and the local serving containers.

    - :meth:`serve` / :meth:`unserve`: the container URL (``http://127.0.0.1:<port>``) that answers an endpoint;
    - :attr:`sampling`: called once per invocation of a capturing endpoint, returns a number in [0, 100); the request
      is captured when it is below ``InitialSamplingPercentage`` (default: uniformly random);
    - :attr:`clock`: the time of an invocation (UTC), for the capture record and its key;
    - :attr:`captured`: the ``s3://`` URI of every capture object written (an object once per record added);
      :attr:`capture_errors`: captures that could not be written; :attr:`invocations`: every invocation answered.
    """

    def __init__(self, account_id: str = ACCOUNT_ID) -> None:
        self.account_id = account_id  # the account of an endpoint served without naming one
        self.serving_urls: dict[tuple[str, str], str] = {}  # (account, endpoint name) → container URL
        self.sampling: Callable[[], float] = lambda: random.random() * 100.0  # noqa: S311 - sampling, not secrecy
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.captured: list[str] = []
        self.capture_errors: list[str] = []
        self.invocations: list[Invocation] = []
        self._files: dict[tuple[str, str, str, str], _CaptureFile] = {}
        self._lock = threading.Lock()

    def serve(self, endpoint_name: str, url: str, account_id: str | None = None) -> None:
        """InvokeEndpoint on ``endpoint_name`` (of ``account_id``, by default the emulator's account) goes to the
        container at ``url`` from now on. Endpoint names are per account, as in SageMaker."""
        with self._lock:
            self.serving_urls[(account_id or self.account_id, endpoint_name)] = url.rstrip("/")

    def unserve(self, endpoint_name: str, account_id: str | None = None) -> None:
        with self._lock:
            self.serving_urls.pop((account_id or self.account_id, endpoint_name), None)

    def url(self, endpoint_name: str, account_id: str | None = None) -> str | None:
        with self._lock:
            return self.serving_urls.get((account_id or self.account_id, endpoint_name))

    def clear(self) -> None:
        with self._lock:
            self.serving_urls.clear()
            self.captured.clear()
            self.capture_errors.clear()
            self.invocations.clear()
            self._files.clear()
        self.sampling = lambda: random.random() * 100.0  # noqa: S311
        self.clock = lambda: datetime.now(UTC)

    # --- capture ----------------------------------------------------------------------------------------------------
    def _capture(
        self,
        account: str,
        endpoint: str,
        variant: str,
        config: Mapping[str, Any],
        record: dict[str, Any],
        moment: datetime,
    ) -> str | None:
        destination = str(config.get("DestinationS3Uri", ""))
        bucket, _, prefix = destination.removeprefix("s3://").partition("/")
        kms = config.get("KmsKeyId") or None
        slot = (account, endpoint, variant, destination)
        with self._lock:
            current = self._files.get(slot)
            if (
                current is None
                or moment - current.started >= FILE_ROLLOVER
                or moment.strftime("%Y%m%d%H") != current.started.strftime("%Y%m%d%H")
            ):
                key = capture.capture_key(prefix, endpoint, variant, moment, str(uuid.uuid4()))
                current = _CaptureFile(bucket, key, moment, kms)
                self._files[slot] = current
            current.lines.append(capture.record_line(record))
            body = ("\n".join(current.lines) + "\n").encode("utf-8")
            uri = f"s3://{current.bucket}/{current.key}"
            try:
                s3_backends[account]["aws"].put_object(
                    current.bucket,
                    current.key,
                    body,
                    encryption="aws:kms" if kms else None,
                    kms_key_id=kms,
                )
            except Exception as error:  # noqa: BLE001 - a failed capture never fails the invocation, as in SageMaker
                self.capture_errors.append(f"{uri}: {type(error).__name__}: {error}")
                return None
            self.captured.append(uri)
            return uri


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    return str(value) if value is not None else None


def _forward(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes, dict[str, str]]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise _RuntimeError("ServiceUnavailable", f"{url} is not the http:// address of a local serving container")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=CONTAINER_TIMEOUT_SECONDS)
    try:
        connection.request("POST", f"{parts.path.rstrip('/')}/invocations", body=body, headers=dict(headers))
        response = connection.getresponse()
        return int(response.status), response.read(), {k.lower(): v for k, v in response.getheaders()}
    except OSError as error:
        raise _RuntimeError(
            "ServiceUnavailable", f"the endpoint's local serving container at {url} did not answer: {error}"
        ) from error
    finally:
        connection.close()


def _model_error(status: int, body: bytes, endpoint: str, region: str, account: str) -> ModelError:
    text = body.decode("utf-8", errors="replace")
    kind = "client" if status < 500 else "server"
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    message = (
        f'Received {kind} error ({status}) from primary with message "{text}". See '
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:group={group} "
        f"in account {account} for more information."
    )
    return ModelError(message, status, text, f"arn:aws:logs:{region}:{account}:log-group:{group}")


def _invoke_endpoint(self: SageMakerRuntimeResponse) -> TYPE_RESPONSE:
    runtime = core.active().runtime
    account, region = self.current_account, self.region
    name = urllib.parse.unquote(self.path.split("/")[2])
    backend = sagemaker_backends[account][region]
    endpoint = backend.endpoints.get(name)
    if endpoint is None or endpoint.endpoint_status in UNAVAILABLE_STATUSES:
        raise _RuntimeError("ValidationError", f"Endpoint {name} of account {account} not found.")
    config = backend.endpoint_configs.get(endpoint.endpoint_config_name)
    variants = [str(v["VariantName"]) for v in (config.production_variants if config else [])] or [
        str(v["VariantName"]) for v in endpoint.production_variants
    ]
    target = _header(self.headers, "X-Amzn-SageMaker-Target-Variant")
    if target is not None and target not in variants:
        raise _RuntimeError("ValidationError", f"The variant {target} does not exist for endpoint {name}.")
    variant = target or variants[0]
    url = runtime.url(name, account)
    if url is None:
        raise _RuntimeError(
            "ValidationError",
            f"endpoint {name} has no local serving container (the local twin registers one with "
            "Emulator.runtime.serve)",
        )
    body: bytes = self.raw_body if isinstance(self.raw_body, bytes) else str(self.raw_body or "").encode()
    content_type = _header(self.headers, "Content-Type")
    forwarded = {
        name: value
        for name, value in (
            ("Content-Type", content_type),
            ("Accept", _header(self.headers, "Accept")),
            ("X-Amzn-SageMaker-Custom-Attributes", _header(self.headers, "X-Amzn-SageMaker-Custom-Attributes")),
        )
        if value is not None
    }
    moment = runtime.clock()
    status, answer, answer_headers = _forward(url, body, forwarded)
    if status >= 400:
        runtime.invocations.append(Invocation(name, variant, status, None))
        raise _model_error(status, answer, name, region, account)
    answer_type = answer_headers.get("content-type", "application/octet-stream")
    captured_uri = None
    capture_config = (config.data_capture_config if config else None) or {}
    if capture_config and capture_config.get("EnableCapture", True):
        percentage = float(capture_config.get("InitialSamplingPercentage", 0))
        if runtime.sampling() < percentage:
            modes = {str(option.get("CaptureMode")) for option in capture_config.get("CaptureOptions") or []}
            header = capture_config.get("CaptureContentTypeHeader")
            endpoint_input = endpoint_output = None
            if modes & {"Input", "InputAndOutput"}:
                endpoint_input = capture.capture_object(
                    "INPUT", content_type, body, capture.encoding_for(content_type, header)
                )
            if modes & {"Output", "InputAndOutput"}:
                endpoint_output = capture.capture_object(
                    "OUTPUT", answer_type, answer, capture.encoding_for(answer_type, header)
                )
            record = capture.capture_record(
                endpoint_input,
                endpoint_output,
                event_id=str(uuid.uuid4()),
                moment=moment,
                inference_id=_header(self.headers, "X-Amzn-SageMaker-Inference-Id"),
            )
            captured_uri = runtime._capture(account, name, variant, capture_config, record, moment)
    runtime.invocations.append(Invocation(name, variant, status, captured_uri))
    headers = {"Content-Type": answer_type, "x-Amzn-Invoked-Production-Variant": variant}
    custom = answer_headers.get("x-amzn-sagemaker-custom-attributes")
    if custom is not None:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = custom
    return 200, headers, answer


def patches() -> list[tuple[Any, str, Any]]:
    return [(SageMakerRuntimeResponse, "invoke_endpoint", _invoke_endpoint)]


def compatibility_problems() -> list[str]:
    problems = []
    if not callable(getattr(SageMakerRuntimeResponse, "invoke_endpoint", None)):
        problems.append("SageMakerRuntimeResponse.invoke_endpoint is gone")
    if "raw_body" not in SageMakerRuntimeResponse.setup_class.__code__.co_names:
        problems.append("BaseResponse.setup_class no longer sets raw_body")
    return problems
