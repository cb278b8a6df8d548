"""The handle on a running emulator, and the one place its extensions find it.

Every extension of moto (SageMaker, its Runtime and monitoring, CloudWatch, Step Functions, EventBridge, Lambda,
faults) runs inside moto's server threads,
where only module state reaches it: :func:`current` is that state, set while :func:`local_twin.emulator.start` runs.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

from local_twin.emulator.account import ACCESS_ROLE_NAME, ACCOUNT_ID

if TYPE_CHECKING:
    from local_twin.emulator.cloudwatch import Alarms
    from local_twin.emulator.faults import Faults
    from local_twin.emulator.lambda_runtime import LambdaRuntime
    from local_twin.emulator.monitoring import Monitoring
    from local_twin.emulator.runtime import Runtime
    from local_twin.emulator.sagemaker import Deployments, ModelPackageEvents, PipelineExecutions
    from local_twin.emulator.stepfunctions import ExecutionWorkers


@dataclass
class Emulator:
    """A running emulated AWS account: where it listens, how to make a client, and its extensions.

    - ``pipelines``: who runs SageMaker pipeline executions (the local pipeline runner, or a test);
    - ``deployments``: who serves endpoints and runs transform jobs (the local twin), and what was asked of them;
    - ``lambdas``: the functions, run as Lambda runs them (built packages, python3.13 workers);
    - ``model_package_events``: how SageMaker's "Model Package State Change" events are sent;
    - ``faults``: what AWS should get wrong next;
    - ``runtime``: which local serving container answers an endpoint's InvokeEndpoint (``runtime.serve(endpoint,
      url)``), and its data capture (sampling and clock injectable);
    - ``monitoring``: Model Monitor schedules; ``monitoring.run_now(schedule)`` runs an execution at once;
    - ``alarms``: CloudWatch alarm evaluation (clock injectable) and the state changes it acted on;
    - ``executions``: the Step Functions executions whose interpreter is still at work (a stopped one finishes its
      state first).
    """

    url: str
    port: int
    region: str
    account_id: str
    pipelines: PipelineExecutions
    deployments: Deployments
    lambdas: LambdaRuntime
    model_package_events: ModelPackageEvents
    faults: Faults
    runtime: Runtime
    monitoring: Monitoring
    alarms: Alarms
    executions: ExecutionWorkers
    notes: list[str] = field(default_factory=list)
    # Assumed-role credentials by (role ARN, session name); shared by every view of the emulator (see in_account).
    _credentials: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict, repr=False)
    _credentials_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    home_account_id: str = ACCOUNT_ID  # where the process environment's throw-away credentials land

    def client(self, service: str, account_id: str | None = None) -> Any:
        """A boto3 client of an emulated account: this view's account unless ``account_id`` names another.

        The default (home) account is reached with the process environment's throw-away credentials, as before;
        another account through STS AssumeRole of its ``OrganizationAccountAccessRole`` (moto answers with
        credentials whose calls land in the role's account), cached -- so a call into a target account carries that
        account's identity, and anything it does in a third account is a cross-account call, checked as in AWS.
        """
        account = account_id or self.account_id
        if account == self.home_account_id:
            return boto3.client(service, region_name=self.region, endpoint_url=self.url)  # type: ignore[call-overload]
        credentials = self.role_credentials(f"arn:aws:iam::{account}:role/{ACCESS_ROLE_NAME}", "local-twin")
        return boto3.client(  # type: ignore[call-overload]
            service,
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    def role_credentials(self, role_arn: str, session_name: str) -> dict[str, str]:
        """STS AssumeRole's credentials for the role (asked once per role and session name, then cached)."""
        key = (role_arn, session_name)
        with self._credentials_lock:
            cached = self._credentials.get(key)
            if cached is not None:
                return cached
        sts = boto3.client("sts", region_name=self.region, endpoint_url=self.url)
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
        credentials = {name: str(answer[name]) for name in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
        with self._credentials_lock:
            return self._credentials.setdefault(key, credentials)

    def in_account(self, account_id: str) -> Emulator:
        """The same emulator seen from another account: its ``account_id`` and ``client(service)`` are that account's
        (what :func:`~local_twin.emulator.provision.provision` creates a stack with); everything else is shared."""
        return dataclasses.replace(self, account_id=account_id)


_CURRENT: Emulator | None = None
_LOCK = threading.Lock()


def current() -> Emulator | None:
    return _CURRENT


def active() -> Emulator:
    """The running emulator; only the extensions call this, and they exist only while one runs."""
    if _CURRENT is None:  # pragma: no cover - the patches are installed only while an emulator runs
        raise RuntimeError("local_twin.emulator extensions used while no emulator runs")
    return _CURRENT


def activate(emulator: Emulator) -> None:
    global _CURRENT
    with _LOCK:
        if _CURRENT is not None:
            raise RuntimeError("an emulator is already running in this process")
        _CURRENT = emulator


def deactivate() -> None:
    global _CURRENT
    with _LOCK:
        _CURRENT = None
