"""Answer CloudFormation's custom-resource request: one documented HTTPS PUT of a small JSON body to a presigned URL
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html).

Hand-written, as in upsert_pipeline (each Lambda package is self-contained): crhelper would add a dependency and a
polling machinery the clean-up does not need (it finishes well inside the Lambda timeout).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Literal

from deployment_janitor.models import CleanupRequest


def response_body(
    request: CleanupRequest,
    status: Literal["SUCCESS", "FAILED"],
    physical_resource_id: str,
    reason: str = "",
    data: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "Status": status,
        "Reason": reason[:1000] or status,
        "PhysicalResourceId": physical_resource_id,
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
        "NoEcho": False,
        "Data": data or {},
    }


def send(response_url: str, body: dict[str, Any], timeout_seconds: float = 10.0) -> None:
    if not response_url.startswith("https://"):
        raise ValueError(f"ResponseURL must be an https URL, got {response_url[:40]!r}")
    payload = json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        response_url, data=payload, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(payload))}
    )
    with urllib.request.urlopen(request, timeout=timeout_seconds) as answer:  # noqa: S310
        answer.read()
