"""The deploy state machine's decisions: plan, gate, check, finish.

Each re-reads the registry and the endpoint rather than trusting what the execution was started with, so an
execution whose package is no longer the desired one stands down honestly, and one whose package is already live
ends without changing anything:

- :func:`plan` (first state): what to do -- deploy the desired package, stand down, nothing (already live), keep or
  delete the endpoint when no version is Approved (the template's ``WhenNoApprovedModel``) -- and the names to use;
- :func:`gate` (before CreateEndpoint / UpdateEndpoint, and while the endpoint is busy or refused a change): may this
  execution change the endpoint now;
- :func:`check` (each poll of the endpoint or transform job): done, still working, or failed; a transform that
  outlives the polls is stopped, so it bills nothing more;
- :func:`finish` (last state of every execution): what changed -- from which version to which -- or that nothing did,
  published to the team's topic, and returned for the execution's result.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parser import ValidationError

from deployments import monitoring, verification
from deployments.endpoint import live
from deployments.models import DeployInput
from deployments.registry import desired as desired_state
from deployments.registry import version_of
from deployments.settings import Settings, deployment_config
from deployments.transforms import next_job_name, transform_state
from mlops_shared.problems import describe

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient
    from mypy_boto3_sns import SNSClient

SAGEMAKER_NAME_LIMIT = 63
MAX_REFUSALS = 3
# SageMaker's answers to a CreateEndpoint / UpdateEndpoint that cannot happen *now* (another change is in progress,
# or a concurrent first deployment created the endpoint): worth another look at the gate, unlike any other error.
REFUSALS = ("Cannot update in-progress endpoint", "Cannot create already existing endpoint", "already existing")


class InvalidInput(ValueError):
    """The execution input is not what the deploy state machine accepts; the message names each wrong field."""


class DeploymentFailed(Exception):
    """The deployment cannot complete; its message is what the team is told."""


class EndpointChangeRefused(DeploymentFailed):
    """SageMaker kept refusing to create or update the endpoint."""


class EndpointBusyTimedOut(DeploymentFailed):
    """The endpoint stayed busy (another change in progress) for every poll allowed."""


class EndpointFailed(DeploymentFailed):
    """A new endpoint ended Failed."""


class EndpointTimedOut(DeploymentFailed):
    """The endpoint did not finish creating or updating within the polls allowed."""


class TransformFailed(DeploymentFailed):
    """The transform job ended Failed or Stopped."""


class TransformTimedOut(DeploymentFailed):
    """The transform job outlived the polls allowed; it was stopped."""


@dataclass(frozen=True)
class Clients:
    sagemaker: SageMakerClient
    sns: SNSClient | None = None
    runtime: SageMakerRuntimeClient | None = None
    s3: S3Client | None = None


def sagemaker_name(prefix: str, version: int, execution_name: str) -> str:
    """``<prefix>-v<version>-<hash of the execution>``, cut to SageMaker's 63 characters by shortening the prefix."""
    safe_prefix = re.sub(r"[^A-Za-z0-9-]", "-", prefix).strip("-") or "model"
    suffix = f"-v{version}-{hashlib.sha256(execution_name.encode()).hexdigest()[:10]}"
    return safe_prefix[: SAGEMAKER_NAME_LIMIT - len(suffix)].rstrip("-") + suffix


def _package(arn: str | None) -> dict[str, Any] | None:
    return {"Arn": arn, "Version": version_of(arn)} if arn else None


# --- plan ------------------------------------------------------------------------------------------------------------
def plan(execution_input: dict[str, Any], execution_name: str, settings: Settings, clients: Clients) -> dict[str, Any]:
    """The execution's first state document: its plan (see the module docstring), which every later state reads, and
    the gate's and the poll's counters."""
    return {
        "Plan": _plan(execution_input, execution_name, settings, clients),
        "Gate": {"Polls": 0, "Refusals": 0},
        "Check": {"Polls": 0},
    }


def _plan(execution_input: dict[str, Any], execution_name: str, settings: Settings, clients: Clients) -> dict[str, Any]:
    try:
        request = DeployInput.model_validate(execution_input)
    except ValidationError as error:
        raise InvalidInput(f"invalid input: {describe(error.errors())}") from None
    target = request.Target or settings.target
    wanted = desired_state(settings, clients.sagemaker)
    desired = wanted.package
    expected = request.ModelPackageArn or None
    result: dict[str, Any] = {
        "Target": target,
        "ExecutionName": execution_name,
        "Endpoint": settings.endpoint_name,
        "Group": settings.group,
        "PollSeconds": request.PollSeconds if request.PollSeconds is not None else settings.poll_seconds,
        "MaxPolls": request.MaxPolls or settings.max_polls,
        "Desired": _package(desired.arn if desired else None),
        "Expected": _package(expected),
        "Live": None,
        "Names": {},
    }
    if request.Refuse:  # production: tell the team why a promoted version does not deploy (still refused?)
        if wanted.refused is not None and wanted.refused.arn == expected:
            return {**result, "Action": "Refuse", "Reason": wanted.refusal, "Package": _package(expected)}
        return {**result, "Action": "StandDown", "Reason": "the promotion it refused has changed since"}
    if target == "batch":
        return _plan_batch(result, request.BatchInputS3Uri or settings.batch_input_prefix, settings, clients)
    current = live(settings.endpoint_name, clients.sagemaker)
    if current is not None:
        result["Live"] = {
            "Config": current.config,
            "Status": current.status,
            **(_package(current.package_arn) or {"Arn": None, "Version": None}),
        }
    if expected and (desired is None or expected != desired.arn):
        # This execution's transition is gone; the registry event that ended it starts the execution for the new one
        # (a retire included), so acting here would be a second execution for one transition.
        return {
            **result,
            "Action": "StandDown",
            "Reason": f"version {desired.version} is now the highest Approved version"
            if desired
            else f"no Approved version is left in group {settings.group}",
        }
    if desired is None:
        if current is None:
            return {
                **result,
                "Action": "NoChange",
                "Reason": f"no Approved version in group {settings.group}, and no endpoint",
            }
        if current.status == "Deleting":
            return {
                **result,
                "Action": "NoChange",
                "Reason": f"no Approved version in group {settings.group}, and the endpoint is being deleted",
            }
        action = "DeleteEndpoint" if settings.when_no_approved == "DeleteEndpoint" else "KeepLastModel"
        return {**result, "Action": action, "Reason": f"no Approved version is left in group {settings.group}"}
    if current is not None and current.serves(desired.arn):
        return {**result, "Action": "AlreadyLive", "Reason": f"version {desired.version} is already live"}
    name = sagemaker_name(settings.resource_prefix, desired.version, execution_name)
    return {
        **result,
        "Action": "Deploy",
        "Reason": f"version {desired.version} is the highest Approved version",
        "Names": {"Model": name, "EndpointConfig": name},
        "Package": _package(desired.arn),
    }


def _plan_batch(result: dict[str, Any], input_uri: str, settings: Settings, clients: Clients) -> dict[str, Any]:
    desired, expected = result["Desired"], result["Expected"]
    if desired is None:
        return {**result, "Action": "NoChange", "Reason": f"no Approved version in group {settings.group}"}
    if expected and expected["Arn"] != desired["Arn"]:
        return {
            **result,
            "Action": "StandDown",
            "Reason": f"version {desired['Version']} is now the highest Approved version",
        }
    state = transform_state(settings, desired["Version"], input_uri, clients.sagemaker)
    if state.completed or state.running:
        job = state.completed or state.running
        return {
            **result,
            "Action": "AlreadyLive",
            "Reason": f"version {desired['Version']} already has transform job {job} for {input_uri}",
        }
    job = next_job_name(settings, desired["Version"], input_uri, state)
    return {
        **result,
        "Action": "Deploy",
        "Reason": f"version {desired['Version']} is the highest Approved version and has not transformed {input_uri}",
        "Names": {
            "Model": sagemaker_name(settings.resource_prefix, desired["Version"], result["ExecutionName"]),
            "Job": job,
        },
        "Package": desired,
        "BatchInputS3Uri": input_uri,
        "BatchOutputS3Uri": f"s3://{settings.artifacts_bucket}/batch/output/{job}/",
    }


# --- gate ------------------------------------------------------------------------------------------------------------
def gate(plan_: dict[str, Any], previous: dict[str, Any], settings: Settings, clients: Clients) -> dict[str, Any]:
    """Create, Update, Wait, StandDown or AlreadyLive, from the registry and the endpoint as they are now.

    ``previous``: the last answer (its counters), with ``Refusal`` (a Catch's Error and Cause) if SageMaker refused
    the change just asked for.
    """
    polls = int(previous.get("Polls", 0))
    refusals = int(previous.get("Refusals", 0))
    refusal = previous.get("Refusal")
    if refusal is not None:
        cause = str(refusal.get("Cause", ""))
        if not any(marker in cause for marker in REFUSALS):
            raise DeploymentFailed(f"{refusal.get('Error', 'error')}: {cause}")
        refusals += 1
        if refusals > MAX_REFUSALS:
            raise EndpointChangeRefused(f"SageMaker refused the change {refusals} times; last answer: {cause}")
        return {"Polls": polls + 1, "Refusals": refusals, "Action": "Wait", "Reason": f"SageMaker refused: {cause}"}
    desired = desired_state(settings, clients.sagemaker).package
    counters = {"Polls": polls, "Refusals": refusals}
    package = plan_["Package"]
    if desired is None:
        return {**counters, "Action": "StandDown", "Reason": f"no Approved version is left in group {settings.group}"}
    if desired.arn != package["Arn"]:
        return {
            **counters,
            "Action": "StandDown",
            "Reason": f"version {desired.version} is now the highest Approved version",
        }
    current = live(settings.endpoint_name, clients.sagemaker)
    if current is not None and current.busy:
        if polls >= int(plan_["MaxPolls"]):
            raise EndpointBusyTimedOut(
                f"endpoint {settings.endpoint_name} stayed {current.status} for {polls} polls; version "
                f"{package['Version']} was not deployed"
            )
        return {**counters, "Polls": polls + 1, "Action": "Wait", "Reason": f"the endpoint is {current.status}"}
    if current is not None and current.serves(package["Arn"]):
        return {**counters, "Action": "AlreadyLive", "Reason": f"version {package['Version']} went live meanwhile"}
    if current is not None and current.failed:
        return {
            **counters,
            "Action": "Replace",
            "Reason": f"endpoint {settings.endpoint_name} is Failed ({current.failure_reason or 'no reason given'}): "
            "it is deleted, then created anew",
        }
    action = "Create" if current is None else "Update"
    return {**counters, "Action": action, "Reason": plan_["Reason"], "DeploymentConfig": deployment_config()}


# --- check -----------------------------------------------------------------------------------------------------------
def check(plan_: dict[str, Any], previous: dict[str, Any], clients: Clients) -> dict[str, Any]:
    """One poll of what this execution waits for: ``Done`` false (poll again) or true with the ``Outcome``."""
    polls = int(previous.get("Polls", 0)) + 1
    if plan_["Target"] == "batch":
        return _check_transform(plan_, polls, clients)
    endpoint = clients.sagemaker.describe_endpoint(EndpointName=plan_["Endpoint"])
    status = endpoint["EndpointStatus"]
    if status == "Failed":
        raise EndpointFailed(f"endpoint {plan_['Endpoint']} failed: {endpoint.get('FailureReason', 'no reason given')}")
    if status != "InService":
        if polls >= int(plan_["MaxPolls"]):
            raise EndpointTimedOut(f"endpoint {plan_['Endpoint']} still {status} after {polls} polls")
        return {"Done": False, "Polls": polls, "Status": status}
    config = endpoint["EndpointConfigName"]
    if config == plan_["Names"]["EndpointConfig"]:
        return {"Done": True, "Polls": polls, "Outcome": "Deployed"}
    previous_config = (plan_.get("Live") or {}).get("Config")
    if config == previous_config:
        reason = endpoint.get("FailureReason") or "SageMaker rolled the update back"
        return {"Done": True, "Polls": polls, "Outcome": "RolledBack", "Reason": reason}
    return {"Done": True, "Polls": polls, "Outcome": "Superseded", "Reason": f"endpoint config {config} went live"}


def _check_transform(plan_: dict[str, Any], polls: int, clients: Clients) -> dict[str, Any]:
    job = plan_["Names"]["Job"]
    described = clients.sagemaker.describe_transform_job(TransformJobName=job)
    status = described["TransformJobStatus"]
    if status == "Completed":
        return {"Done": True, "Polls": polls, "Outcome": "Transformed"}
    if status in ("Failed", "Stopped"):
        raise TransformFailed(f"transform job {job} {status}: {described.get('FailureReason') or 'no reason given'}")
    if polls >= int(plan_["MaxPolls"]):
        clients.sagemaker.stop_transform_job(TransformJobName=job)  # nothing keeps running, or billing, after this
        raise TransformTimedOut(f"transform job {job} still {status} after {polls} polls: stopped")
    return {"Done": False, "Polls": polls, "Status": status}


# --- monitor ---------------------------------------------------------------------------------------------------------
def monitor(
    plan_: dict[str, Any], settings: Settings, config: monitoring.MonitoringSettings, clients: Clients
) -> dict[str, Any]:
    """The live version's data-quality schedule (see deployments.monitoring); what was done, for the notification."""
    package = dict(clients.sagemaker.describe_model_package(ModelPackageName=plan_["Package"]["Arn"]))
    return monitoring.monitor(
        settings.endpoint_name, package, plan_["ExecutionName"], settings.resource_prefix, config, clients.sagemaker
    )


def verify(plan_: dict[str, Any], settings: Settings, account: str, clients: Clients) -> dict[str, Any]:
    """Staging: the smoke test of the version just deployed, recorded on its package (deployments/verification.py);
    elsewhere nothing to do."""
    if settings.stage != "staging":
        return {"Verified": None, "Note": ""}
    if clients.runtime is None or clients.s3 is None:  # pragma: no cover - the handler always passes them
        raise ValueError("the smoke test needs the sagemaker-runtime and S3 clients")
    return verification.verify(
        settings.endpoint_name, plan_["Package"]["Arn"], account, clients.sagemaker, clients.runtime, clients.s3
    )


def unmonitor(config: monitoring.MonitoringSettings, clients: Clients) -> dict[str, Any]:
    """The endpoint's schedule deleted before the endpoint is."""
    return {"Removed": monitoring.stop_monitoring(config.schedule_name, clients.sagemaker)}


# --- finish ----------------------------------------------------------------------------------------------------------
def _version_text(package: dict[str, Any] | None) -> str:
    return f"version {package['Version']}" if package and package.get("Version") else "no model"


def _live_text(live_: dict[str, Any] | None) -> str:
    """What the endpoint served when the plan read it: a Failed endpoint serves nothing, whatever its config names."""
    if live_ and live_.get("Status") == "Failed":
        return "no model (the endpoint was Failed)"
    return _version_text(live_)


def _links(region: str, execution_arn: str, package: dict[str, Any] | None) -> str:
    console = f"https://{region}.console.aws.amazon.com"
    lines = [f"Execution: {console}/states/home?region={region}#/v2/executions/details/{execution_arn}"]
    if package and package.get("Arn"):
        lines.append(f"Model package: {package['Arn']}")
    return "\n".join(lines)


def finish(execution_arn: str, state: dict[str, Any], topic_arn: str, region: str, clients: Clients) -> dict[str, Any]:
    """Tell the team what this execution changed, and return it (``Failed``: the execution ends in a Fail state).

    ``state``: the execution's state document as far as it got (Plan, Gate, Check, Monitor, and Failure from a Catch).
    """
    plan_ = state.get("Plan")
    gate_ = state.get("Gate") if (state.get("Gate") or {}).get("Action") else None
    check_ = state.get("Check") if (state.get("Check") or {}).get("Done") else None
    outcome = describe_outcome(plan_, check_, gate_, state.get("Failure"))
    for name, label in (("Monitor", "Monitoring"), ("Verify", "Staging")):
        note = (state.get(name) or {}).get("Note")
        if note and not outcome["Failed"]:
            outcome = {**outcome, "Message": f"{outcome['Message']} {label}: {note}."}
    package = (plan_ or {}).get("Package") or (plan_ or {}).get("Desired")
    message = f"{outcome['Message']}\n\n{_links(region, execution_arn, package)}"
    if clients.sns is not None:
        clients.sns.publish(TopicArn=topic_arn, Subject=outcome["Subject"][:100], Message=message)
    return {**outcome, "Message": message}


def describe_outcome(
    plan_: dict[str, Any] | None,
    check_: dict[str, Any] | None,
    gate_: dict[str, Any] | None,
    failure: dict[str, Any] | None,
) -> dict[str, Any]:
    """Subject, message and outcome of an execution, from what its states recorded."""
    plan_ = plan_ or {}
    endpoint = plan_.get("Endpoint", "the endpoint")
    live_text = _live_text(plan_.get("Live"))
    package = plan_.get("Package") or plan_.get("Desired")
    if failure is not None:
        error, cause = str(failure.get("Error", "Error")), _readable(failure.get("Cause", ""))
        return _failed(error, cause, _failure_message(plan_, check_, f"{error}: {cause}"))
    action = plan_.get("Action")
    if action == "Deploy" and check_ is not None:
        result = check_.get("Outcome")
        if result == "Deployed":
            return _done(
                "Deployed",
                f"Model {_version_text(package)} deployed to the endpoint",
                f"Endpoint {endpoint} now serves {_version_text(package)} (was: {live_text}).",
            )
        if result == "Transformed":
            job = plan_["Names"]["Job"]
            return _done(
                "Transformed",
                f"Batch transform of {_version_text(package)} completed",
                f"Transform job {job} scored {plan_.get('BatchInputS3Uri')} with {_version_text(package)}; output at "
                f"{plan_.get('BatchOutputS3Uri')}.",
            )
        if result == "RolledBack":
            reason = check_.get("Reason", "")
            return _failed(
                "EndpointRolledBack",
                reason,
                f"Deployment of {_version_text(package)} was rolled back by SageMaker: {reason}. {endpoint} still "
                f"serves {live_text}.",
            )
        return _done(
            "NoChange",
            f"No change by this deployment of {_version_text(package)}",
            f"Nothing changed by this execution: {check_.get('Reason', '')}.",
        )
    if gate_ is not None and gate_.get("Action") in ("StandDown", "AlreadyLive"):
        return _done(
            "StoodDown" if gate_["Action"] == "StandDown" else "NoChange",
            f"No change: {_version_text(package)} not deployed by this execution",
            f"Nothing changed on {endpoint} (it serves {live_text}): {gate_.get('Reason', '')}.",
        )
    if action == "Refuse":
        return _done(
            "Refused",
            f"Promotion of {_version_text(package)} to production refused",
            f"{_capitalized(plan_.get('Reason'))}. {endpoint} keeps serving {live_text}. Verify it in staging first "
            "(it is verified when its staging deployment's smoke test passes), then promote it again.",
        )
    if action == "KeepLastModel":
        return _done(
            "KeptLastModel",
            "No Approved model left: the endpoint keeps its model",
            f"{_capitalized(plan_.get('Reason'))}: {endpoint} keeps serving {live_text} "
            "(WhenNoApprovedModel=KeepLastModel). Approve a version to replace it.",
        )
    if action == "DeleteEndpoint":
        return _done(
            "EndpointDeleted",
            "No Approved model left: the endpoint was deleted",
            f"{_capitalized(plan_.get('Reason'))}: endpoint {endpoint} was deleted (it served {live_text}; "
            "WhenNoApprovedModel=DeleteEndpoint).",
        )
    status = "StoodDown" if action == "StandDown" else "NoChange"
    return _done(
        status, f"No change: {plan_.get('Reason', 'nothing to do')}", f"Nothing changed: {plan_.get('Reason')}."
    )


def _failure_message(plan_: dict[str, Any], check_: dict[str, Any] | None, failure: str) -> str:
    """What a failure leaves: what serves now depends on how far the execution got."""
    endpoint = plan_.get("Endpoint", "the endpoint")
    target, live_text = _version_text(plan_.get("Package") or plan_.get("Desired")), _live_text(plan_.get("Live"))
    if not plan_:  # the plan itself failed: nothing was read, nothing was changed
        return f"Deployment failed before it planned anything: {failure}. Nothing was changed."
    if check_ is not None and check_.get("Outcome") == "Deployed":  # live already; a later state (autoscaling) failed
        return f"Endpoint {endpoint} now serves {target} (was: {live_text}), but a later step failed: {failure}."
    if plan_.get("Action") == "DeleteEndpoint":
        return f"Deleting endpoint {endpoint} failed: {failure}. It still serves {live_text}."
    if plan_.get("Target") == "batch":
        return f"Batch transform of {target} failed: {failure}."
    return f"Deployment of {target} failed: {failure}. {endpoint} still serves {live_text}."


def _done(outcome: str, subject: str, message: str) -> dict[str, Any]:
    return {"Outcome": outcome, "Failed": False, "Subject": subject, "Message": message, "Error": "", "Cause": ""}


def _failed(error: str, cause: str, message: str) -> dict[str, Any]:
    return {
        "Outcome": "Failed",
        "Failed": True,
        "Subject": "Deployment failed",
        "Message": message,
        "Error": error,
        "Cause": cause,
    }


def _readable(cause: Any) -> str:
    """A Lambda error's cause is its JSON error document: its message is what a person reads."""
    text = str(cause)
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return text


def _capitalized(text: Any) -> str:
    value = str(text or "")
    return value[:1].upper() + value[1:]
