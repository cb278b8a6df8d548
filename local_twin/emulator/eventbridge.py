"""EventBridge rules that deliver to Lambda functions, as AWS does (moto 5.2.5 raises NotImplementedError for them).

From the EventBridge user guide ("Amazon EventBridge targets", "Using resource-based policies", "Event retry policy
and using dead-letter queues"):

- only ENABLED rules deliver (moto also fires DISABLED ones);
- a Lambda target is invoked *asynchronously* with the event (or the target's ``Input`` / ``InputTransformer``
  result); the function's asynchronous-invocation settings then apply (retries, its dead-letter queue: see
  :mod:`local_twin.emulator.lambda_runtime`);
- EventBridge may invoke the function only if the function's resource policy allows ``events.amazonaws.com`` for
  this rule (``AWS::Lambda::Permission`` with the rule's ARN as ``SourceArn``); otherwise the event is not delivered
  and goes to the target's dead-letter queue, if it has one, without retries ("for errors that result from missing
  permissions to a target, or a target resource that no longer exists ... EventBridge sends these events directly to
  the DLQ"), with the ``RULE_ARN`` / ``TARGET_ARN`` / ``ERROR_CODE`` / ``ERROR_MESSAGE`` / ``RETRY_ATTEMPTS``
  attributes and the error codes (``NO_PERMISSIONS``, ``NO_RESOURCE``) EventBridge documents.

An event bus of *another account* as a target (EventBridge user guide, "Sending and receiving events between AWS
accounts in Amazon EventBridge" and "Permissions for event buses"): the receiving bus's resource policy (PutPermission,
``AWS::Events::EventBusPolicy``) must allow the sending account ``events:PutEvents`` on that bus -- its ``Condition``
on ``events:source`` / ``events:detail-type`` evaluated (:mod:`~local_twin.emulator.policies`); allowed, the event is
put on that bus *unchanged* -- "the event's account field stays the source account", its ``source``, ``detail-type``,
``resources``, ``time`` and ``detail`` too [I: the same ``id``] -- and the receiving account's rules match it; denied,
it is dropped and recorded in :attr:`CrossAccountDeliveries.records` (and, as for a Lambda target without permission,
sent to the target's dead-letter queue with ``NO_PERMISSIONS`` [I]). An event received from another account is not
sent on to a third one ("If a receiver account sets up a rule that sends events received from a sender account on
to a third account, these events are not sent to the third account"). Simplified: the target's ``RoleArn`` is not
assumed or checked (the policy tests check the role's policy). moto's own cross-account delivery re-sends the event
as the receiving account's own (its ``account`` changed, ``resources`` dropped) without any policy: it is not used.

Targets of other kinds keep moto's delivery, with one correction: an event as a target receives it has its
``account`` field (the EventBridge guide's "Amazon EventBridge events" structure; moto's default input template
leaves it out).
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from moto.awslambda_simple.models import lambda_simple_backends
from moto.events.models import Rule, events_backends
from moto.events.utils import EventTemplateParser
from moto.sqs.models import sqs_backends
from moto.utilities.arns import parse_arn

from local_twin.emulator import core
from local_twin.emulator.policies import Caller, allows

# moto's DEFAULT_EVENT_INPUT_TEMPLATE with the "account" field, in the order of the documented event structure.
EVENT_INPUT_TEMPLATE = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", "account": "<account>", '
    '"time": <time>, "region": "<region>", "resources": <resources>, "detail": <detail>}'
)


def _iso_time(value: Any) -> str:
    """moto keeps ``time`` as epoch seconds; an event as delivered carries ``2026-11-26T08:00:00Z``."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


# Marks an event put on this account's bus by another account (never part of the event a target receives).
RECEIVED_FROM = "local-twin-received-from"


@dataclass
class CrossAccountDeliveries:
    """Every event a rule sent to another account's bus: ``{"rule", "target", "from", "to", "source",
    "detail-type", "delivered", "reason"}``, in order."""

    records: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.records.append(record)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()


DELIVERIES = CrossAccountDeliveries()


def delivered_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as a target receives it (without moto's bookkeeping fields)."""
    delivered = {key: value for key, value in event.items() if key not in ("ingestion-time", RECEIVED_FROM)}
    delivered["time"] = _iso_time(delivered.get("time"))
    return delivered


def _payload(target: dict[str, Any], event: dict[str, Any]) -> str:
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        raise NotImplementedError("the emulator does not apply InputPath: use the whole event or InputTransformer")
    transformer = target.get("InputTransformer")
    if transformer:
        transformed = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=cast(Any, event),
        )
        return transformed if isinstance(transformed, str) else json.dumps(transformed)
    return json.dumps(event)


def _allowed(rule: Rule, function_arn: str) -> bool:
    """Whether the function's resource policy lets EventBridge invoke it for this rule."""
    arn = parse_arn(function_arn)
    backend = lambda_simple_backends[arn.account][arn.region]
    try:
        answer = json.loads(backend.get_policy(arn.resource_id.split(":")[0], None))  # GetPolicy's response
        policy = json.loads(answer["Policy"])
    except Exception:  # noqa: BLE001 - moto raises its own "not found" classes; no policy means no permission
        return False
    for statement in policy.get("Statement", []):
        principal = statement.get("Principal", {})
        service = principal.get("Service") if isinstance(principal, dict) else principal
        if statement.get("Effect") != "Allow" or service != "events.amazonaws.com":
            continue
        if statement.get("Action") not in ("lambda:InvokeFunction", "lambda:*"):
            continue
        condition = statement.get("Condition", {})
        source = condition.get("ArnLike", {}).get("AWS:SourceArn") or condition.get("ArnEquals", {}).get(
            "AWS:SourceArn"
        )
        account = condition.get("StringEquals", {}).get("AWS:SourceAccount")
        if source in (None, rule.arn) and account in (None, rule.account_id):
            return True
    return False


def _dead_letter(rule: Rule, target: dict[str, Any], event: dict[str, Any], code: str, message: str) -> None:
    dead_letter_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    if not dead_letter_arn:
        return
    send_to_queue(
        dead_letter_arn,
        json.dumps(event),
        {
            "RULE_ARN": rule.arn,
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message,
            "RETRY_ATTEMPTS": "0",  # not retried: these errors go to the dead-letter queue directly
        },
    )


def send_to_queue(queue_arn: str, body: str, attributes: Mapping[str, str | int]) -> None:
    """An SQS message with attributes, as AWS services put dead letters: a ``str`` is a String, an ``int`` a Number."""
    arn = parse_arn(queue_arn)
    sqs_backends[arn.account][arn.region].send_message(
        queue_name=arn.resource_id,
        message_body=body,
        message_attributes={
            name: {"DataType": "Number" if isinstance(value, int) else "String", "StringValue": str(value)}
            for name, value in attributes.items()
        },
    )


def _other_account_bus(rule: Rule, target: dict[str, Any]) -> bool:
    arn = parse_arn(target["Arn"])
    return arn.service == "events" and arn.resource_type == "event-bus" and str(arn.account) != str(rule.account_id)


def _send_to_other_account(rule: Rule, target: dict[str, Any], original_event: dict[str, Any]) -> None:
    arn = parse_arn(target["Arn"])
    record = {
        "rule": rule.arn,
        "target": target["Arn"],
        "from": rule.account_id,
        "to": arn.account,
        "source": original_event.get("source"),
        "detail-type": original_event.get("detail-type"),
        "delivered": False,
        "reason": "",
    }
    if original_event.get(RECEIVED_FROM):
        record["reason"] = f"received from account {original_event[RECEIVED_FROM]}: not sent on to a third account"
        DELIVERIES.add(record)
        return
    try:
        bus = events_backends[arn.account][arn.region].describe_event_bus(arn.resource_id)
        policy = bus.policy
    except Exception:  # noqa: BLE001 - moto raises its own "not found" class; no bus means no delivery
        bus, policy = None, None
    caller = Caller(rule.account_id, f"arn:aws:iam::{rule.account_id}:root")
    context = {
        "events:source": str(original_event.get("source")),
        "events:detail-type": str(original_event.get("detail-type")),
        "aws:PrincipalAccount": rule.account_id,
    }
    if bus is None or not allows(policy, caller, "events:PutEvents", target["Arn"], context):
        record["reason"] = f"the event bus policy of {target['Arn']} does not allow account {rule.account_id}"
        DELIVERIES.add(record)
        _dead_letter(rule, target, delivered_event(original_event), "NO_PERMISSIONS", str(record["reason"]))
        return
    record["delivered"] = True
    DELIVERIES.add(record)
    for receiving_rule in list(bus.rules.values()):
        received = copy.deepcopy(original_event)
        received[RECEIVED_FROM] = rule.account_id
        receiving_rule.send_to_targets(cast(Any, received))


def _wrap_send_to_targets(original: Callable[..., None]) -> Callable[..., None]:
    def send_to_targets(self: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
        if self.state != "ENABLED" or not self.event_pattern.matches_event(cast(Any, original_event)):
            return
        lambda_targets = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
        bus_targets = [t for t in self.targets if _other_account_bus(self, t)]
        others = [t for t in self.targets if t not in lambda_targets and t not in bus_targets]
        for target in bus_targets:
            _send_to_other_account(self, target, original_event)
        event = delivered_event(original_event)
        lambdas = core.active().lambdas
        for target in lambda_targets:
            if target["Arn"] not in lambdas:
                _dead_letter(self, target, event, "NO_RESOURCE", f"function {target['Arn']} does not exist")
            elif not _allowed(self, target["Arn"]):
                _dead_letter(
                    self, target, event, "NO_PERMISSIONS", "the function's resource policy does not allow this rule"
                )
            else:
                lambdas.invoke_async(target["Arn"], _payload(target, event).encode())
        if others:
            proxy = copy.copy(self)
            proxy.targets = others
            original(proxy, original_event, transform_input)

    return send_to_targets


def patches() -> list[tuple[Any, str, Any]]:
    return [
        (Rule, "send_to_targets", _wrap_send_to_targets(Rule.send_to_targets)),
        (EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", EVENT_INPUT_TEMPLATE),
    ]


def compatibility_problems() -> list[str]:
    problems = [f"Rule.{name} is gone" for name in ("send_to_targets",) if not hasattr(Rule, name)]
    if "state" not in Rule.__init__.__code__.co_names:
        problems.append("Rule no longer sets state")
    template = getattr(EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", None)
    if not isinstance(template, str) or "<detail>" not in template:
        problems.append("EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE changed")
    elif '"account"' in template:
        problems.append("moto's default event template now has the account: remove the emulator's template")
    if "account" not in getattr(EventTemplateParser, "DEFAULT_EVENT_INPUT_PATHS_MAP", {}):
        problems.append("EventTemplateParser.DEFAULT_EVENT_INPUT_PATHS_MAP no longer maps account")
    return problems
