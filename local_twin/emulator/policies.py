"""Resource-based policies evaluated as IAM evaluates them for a cross-account request, as far as the emulator needs.

What the emulator's cross-account checks (:mod:`~local_twin.emulator.registry_sharing`, the event-bus and bucket
policies in :mod:`~local_twin.emulator.eventbridge` and :mod:`~local_twin.emulator.s3`) ask: does a resource's policy
let *this caller* do *this action* on *this resource*? From the IAM user guide:

- "Policy evaluation logic" / "Cross-account policy evaluation logic": a request from another account is allowed only
  if the resource-based policy allows it (and the caller's own identity policies do, which the emulator does not
  evaluate: the security simulator tests cover them, tests/integration/security); an explicit ``Deny`` wins over any
  ``Allow``; nothing matching is an implicit deny.
- "AWS JSON policy elements: Principal": ``"*"``; ``{"AWS": ...}`` with an account ID or
  ``arn:aws:iam::<account>:root`` (every principal of that account), or a role ARN (that role's sessions:
  ``arn:aws:sts::<account>:assumed-role/<role>/<session>``), or the exact caller ARN. ``Service`` principals never
  match an account's caller.
- "Action" / "NotAction", "Resource" / "NotResource": case-insensitive actions, case-sensitive ARNs, ``*`` and ``?``
  wildcards in both.
- "Condition": the operators ``StringEquals``, ``StringNotEquals``, ``StringLike``, ``StringNotLike``,
  ``StringEqualsIgnoreCase``, ``ArnEquals``, ``ArnLike``, ``Bool`` and ``Null`` on the keys the caller passes in the
  request context (a missing key fails every operator but ``Null`` and the ``...Not...`` ones, as in IAM); keys
  are case-insensitive. Simplified: set operators (``ForAnyValue:`` / ``ForAllValues:``), ``...IfExists`` and the
  numeric and date operators are not evaluated -- a statement using one does not apply if it allows, and applies if it
  denies, so an unsupported condition can only refuse more than AWS would [I: the safe side].
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SUPPORTED_OPERATORS = {
    "StringEquals",
    "StringNotEquals",
    "StringLike",
    "StringNotLike",
    "StringEqualsIgnoreCase",
    "ArnEquals",
    "ArnLike",
    "Bool",
    "Null",
}


@dataclass(frozen=True)
class Caller:
    """Who makes a request: the account, and the ARN STS's GetCallerIdentity would answer."""

    account: str
    arn: str

    @property
    def role_arn(self) -> str | None:
        """The role behind an assumed-role session ARN (``...:sts::1:assumed-role/R/s`` → ``...:iam::1:role/R``)."""
        match = re.fullmatch(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/.+", self.arn)
        if not match:
            return None
        partition, account, role = match.groups()
        return f"arn:{partition}:iam::{account}:role/{role}"


def wildcard(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM's ``*`` (any run of characters) and ``?`` (one character) match; nothing else is special."""
    expression = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(expression, value, flags=0 if case_sensitive else re.IGNORECASE | re.DOTALL) is not None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def principal_matches(principal: Any, caller: Caller) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for entry in _as_list(principal.get("AWS")):
        text = str(entry)
        if text == "*" or text == caller.account or text == caller.arn:
            return True
        if re.fullmatch(rf"arn:[^:]+:iam::{caller.account}:root", text):
            return True
        if caller.role_arn is not None and text == caller.role_arn:
            return True
    return False


def _condition_holds(conditions: Mapping[str, Any], context: Mapping[str, str | None]) -> bool | None:
    """True / False, or None when an operator is not supported (see the module docstring)."""
    values = {key.lower(): value for key, value in context.items() if value is not None}
    for operator, tests in conditions.items():
        if operator not in SUPPORTED_OPERATORS or not isinstance(tests, Mapping):
            return None
        for key, expected in tests.items():
            wanted = [str(item) for item in _as_list(expected)]
            actual = values.get(str(key).lower())
            if operator == "Null":
                if (actual is None) != (wanted[0].lower() == "true"):
                    return False
                continue
            negated = "Not" in operator
            if actual is None:
                if not negated:
                    return False
                continue
            if operator in ("StringLike", "StringNotLike", "ArnLike"):
                found = any(wildcard(pattern, actual) for pattern in wanted)
            elif operator in ("StringEqualsIgnoreCase", "Bool"):
                found = actual.lower() in (item.lower() for item in wanted)
            else:
                found = actual in wanted
            if found == negated:
                return False
    return True


def _statement_matches(
    statement: Mapping[str, Any], caller: Caller, action: str, resource: str, context: Mapping[str, str | None]
) -> bool | None:
    if not principal_matches(statement.get("Principal"), caller):
        return False
    if "NotAction" in statement:
        if any(wildcard(str(p), action, case_sensitive=False) for p in _as_list(statement["NotAction"])):
            return False
    elif not any(wildcard(str(p), action, case_sensitive=False) for p in _as_list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        if any(wildcard(str(p), resource) for p in _as_list(statement["NotResource"])):
            return False
    elif not any(wildcard(str(p), resource) for p in _as_list(statement.get("Resource", "*"))):
        return False
    condition = statement.get("Condition")
    return True if not condition else _condition_holds(condition, context)


def allows(
    policy: str | Mapping[str, Any] | None,
    caller: Caller,
    action: str,
    resource: str,
    context: Mapping[str, str | None] | None = None,
) -> bool:
    """Whether the resource policy allows the request: some Allow statement applies and no Deny statement does."""
    if not policy:
        return False
    document = json.loads(policy) if isinstance(policy, str) else policy
    statements: Sequence[Mapping[str, Any]] = _as_list(document.get("Statement"))
    allowed = False
    for statement in statements:
        applies = _statement_matches(statement, caller, action, resource, context or {})
        if statement.get("Effect") == "Deny":
            if applies is None or applies:
                return False
        elif applies:
            allowed = True
    return allowed


def access_denied_message(caller: Caller, action: str, resource: str) -> str:
    """The wording AWS uses when no resource-based policy grants a cross-account request (IAM user guide,
    "Troubleshoot access denied error messages": "... is not authorized to perform: <action> on resource: <arn>
    because no resource-based policy allows the <action> action")."""
    return (
        f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} because no "
        f"resource-based policy allows the {action} action"
    )
