"""Answer a CloudFormation custom-resource request: the one implementation, in the shared layer.

Hand-written on purpose: it is one documented HTTPS PUT of a small JSON body to a presigned URL
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html). crhelper would add a
dependency plus its timer thread and polling machinery (extra IAM for CloudWatch Events rules), none of which this
project's custom resources need: they finish well inside the Lambda timeout. The upsert and clean-up functions use it
from the shared layer (SharedLayer).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Literal, Protocol


class CustomResourceRequest(Protocol):
    """The fields of a request that its answer must echo (both functions' parser models have them)."""

    @property
    def stack_id(self) -> str: ...

    @property
    def request_id(self) -> str: ...

    @property
    def logical_resource_id(self) -> str: ...


def response_body(
    request: CustomResourceRequest,
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
    request = urllib.request.Request(  # https only: the scheme is checked above
        response_url, data=payload, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(payload))}
    )
    with urllib.request.urlopen(request, timeout=timeout_seconds) as answer:
        answer.read()
