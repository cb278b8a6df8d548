"""Calling a serving container as ``sagemaker-runtime invoke-endpoint`` would: the request, and its answer parsed."""

from __future__ import annotations

import http
import http.client
import json
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass


class InvocationError(RuntimeError):
    """The container refused a request; the message has its status and body."""


@dataclass(frozen=True)
class Invocation:
    """What ``POST /invocations`` answered."""

    status: int
    body: str
    content_type: str


def invoke(
    url: str, body: bytes, content_type: str | None = "text/csv", accept: str | None = None, *, timeout: float = 60.0
) -> Invocation:
    """POST a payload (any status is returned, not raised: callers check 4xx messages). ``None``: header not sent.

    http.client, not urllib: urllib adds ``Content-Type: application/x-www-form-urlencoded`` to every body sent
    without one, which the image answers with 204 instead of reading the body as libsvm.
    """
    headers = {name: value for name, value in (("Content-Type", content_type), ("Accept", accept)) if value}
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise InvocationError(f"{url} is not the http:// address of a local serving container")
    # Only ever a loopback container this package started (http://127.0.0.1:<port>).
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", f"{parts.path.rstrip('/')}/invocations", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read().decode("utf-8", errors="replace")
        return Invocation(int(response.status), answer, response.getheader("Content-Type", ""))
    finally:
        connection.close()


def predictions_from(answer: Invocation) -> list[float]:
    """Predictions of a 200 answer: one number per line (text/csv), or JSON ``{"predictions": [{...}]}`` with the
    value under its only key (``score`` from the XGBoost image, ``rings`` from the project's inference code)."""
    media_type = answer.content_type.split(";")[0].strip()
    if media_type == "application/json":
        return [float(next(iter(item.values()))) for item in json.loads(answer.body)["predictions"]]
    if media_type == "application/jsonlines":
        return [float(next(iter(json.loads(line).values()))) for line in answer.body.splitlines() if line.strip()]
    return [float(line.split(",")[0]) for line in answer.body.splitlines() if line.strip()]


def score_rows(
    url: str, rows: Sequence[str], *, content_type: str = "text/csv", accept: str = "text/csv", per_request: int = 1000
) -> list[float]:
    """Score CSV rows in requests of at most ``per_request`` rows; a refused request raises with the answer."""
    predictions: list[float] = []
    for start in range(0, len(rows), per_request):
        chunk = rows[start : start + per_request]
        answer = invoke(url, "\n".join(chunk).encode("utf-8"), content_type, accept)
        if answer.status != http.HTTPStatus.OK:
            raise InvocationError(f"the endpoint answered {answer.status} for rows {start + 1}..: {answer.body}")
        values = predictions_from(answer)
        if len(values) != len(chunk):
            raise InvocationError(f"the endpoint returned {len(values)} predictions for {len(chunk)} rows")
        predictions.extend(values)
    return predictions
