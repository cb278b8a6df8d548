"""Fault injection: the one way tests (and ``make local``) make the emulated AWS misbehave.

- :meth:`Faults.api_error`: the next ``times`` calls of one action answer with an AWS error instead of running (the
  state machines' Retry/Catch see it exactly as Step Functions would name it);
- :meth:`Faults.fail_endpoint_changes` / :meth:`Faults.hold_endpoint_changes`: the next CreateEndpoint /
  UpdateEndpoint fails (a new endpoint ends ``Failed``; an update rolls back to the previous config and stays
  ``InService`` with the reason, as SageMaker does) or stays ``Creating`` / ``Updating`` until
  ``deployments.report_endpoint``;
- :meth:`Faults.fail_transform_jobs`: the next CreateTransformJob ends ``Failed`` with the reason.

Everything is cleared when the emulator stops (and by :meth:`Faults.clear`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.core import errors as moto_errors
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse

from local_twin.emulator import core

HOLD = "__hold__"  # an endpoint change that stays Creating / Updating until Deployments.report_endpoint releases it
# The errors every AWS API may answer without declaring them in its model (each API reference's "Common Errors" page,
# e.g. https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html): moto warns about an undeclared
# code unless it is in its COMMON_ERROR_CODES, so injecting ThrottlingException into SageMaker would warn every time.
AWS_COMMON_ERRORS = (
    "AccessDeniedException",
    "IncompleteSignature",
    "InternalFailure",
    "InvalidAction",
    "InvalidClientTokenId",
    "NotAuthorized",
    "OptInRequired",
    "RequestExpired",
    "ServiceUnavailable",
    "ThrottlingException",
    "ValidationError",
)


@dataclass
class InjectedFault:
    """An API error answered instead of the real call, ``remaining`` more times (``None``: every time)."""

    service: str  # moto's service name: "sagemaker", "application-autoscaling", "sns", ...
    action: str  # the API action as on the wire: "CreateModel", "UpdateEndpoint", ...
    code: str  # the AWS error code: "ThrottlingException", "ResourceLimitExceeded", ...
    message: str
    remaining: int | None = 1
    injected: int = 0


class Faults:
    """What a test (or ``make local``) wants AWS to get wrong (see the module docstring)."""

    def __init__(self) -> None:
        self._api: list[InjectedFault] = []
        self._endpoint: list[str] = []
        self._transform: list[str] = []
        self._lock = threading.Lock()

    def api_error(
        self, service: str, action: str, code: str, message: str = "", times: int | None = 1
    ) -> InjectedFault:
        fault = InjectedFault(service, action, code, message or f"injected {code}", times)
        with self._lock:
            self._api.append(fault)
        return fault

    def fail_endpoint_changes(self, reason: str, times: int = 1) -> None:
        if not reason:
            raise ValueError("a failed endpoint change needs a reason")
        with self._lock:
            self._endpoint.extend([reason] * times)

    def hold_endpoint_changes(self, times: int = 1) -> None:
        with self._lock:
            self._endpoint.extend([HOLD] * times)

    def fail_transform_jobs(self, reason: str, times: int = 1) -> None:
        if not reason:
            raise ValueError("a failed transform job needs a reason")
        with self._lock:
            self._transform.extend([reason] * times)

    def clear(self) -> None:
        with self._lock:
            self._api.clear()
            self._endpoint.clear()
            self._transform.clear()

    def _has_service(self, service: str) -> bool:
        with self._lock:
            return any(f.service == service and f.remaining != 0 for f in self._api)

    def _take_api(self, service: str, action: str) -> InjectedFault | None:
        with self._lock:
            for fault in self._api:
                if fault.service == service and fault.action == action and fault.remaining != 0:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    fault.injected += 1
                    return fault
        return None

    def _take_endpoint(self) -> str | None:
        with self._lock:
            return self._endpoint.pop(0) if self._endpoint else None

    def _take_transform(self) -> str | None:
        with self._lock:
            return self._transform.pop(0) if self._transform else None


class _InjectedError(ServiceException):
    """Serialised with the model of the service answering (moto looks up a ``moto.*`` exception's own service)."""


def patches() -> list[tuple[Any, str, Any]]:
    return [
        (BaseResponse, "call_action", wrap_call_action(BaseResponse.call_action)),
        (
            moto_errors,
            "COMMON_ERROR_CODES",
            [
                *moto_errors.COMMON_ERROR_CODES,
                *(c for c in AWS_COMMON_ERRORS if c not in moto_errors.COMMON_ERROR_CODES),
            ],
        ),
    ]


def compatibility_problems() -> list[str]:
    problems = []
    if not all(
        hasattr(BaseResponse, name) for name in ("call_action", "serialized", "_get_action", "_enrich_response")
    ):
        problems.append("BaseResponse.call_action / serialized / _get_action / _enrich_response changed")
    if not isinstance(getattr(moto_errors, "COMMON_ERROR_CODES", None), list):
        problems.append("moto.core.errors.COMMON_ERROR_CODES is gone")
    return problems


def wrap_call_action(original: Callable[..., Any]) -> Callable[..., Any]:
    """Answer an injected API error instead of the call, serialised as the service's own errors are, with a request
    ID as every AWS answer has (a Step Functions cause quotes it: ``... Request ID: <id>)``)."""

    def call_action(self: BaseResponse) -> Any:
        # The action is looked up only for a service with a fault: some moto responses cannot name theirs.
        active = core.current()
        if active is not None and self.service_name and active.faults._has_service(str(self.service_name)):
            fault = active.faults._take_api(str(self.service_name), str(self._get_action()))
            if fault is not None:
                status, headers, body = self.serialized(ActionResult(_InjectedError(fault.code, fault.message)))
                headers["status"] = status
                headers, body = self._enrich_response(headers, body)
                return status, headers, body
        return original(self)

    return call_action
