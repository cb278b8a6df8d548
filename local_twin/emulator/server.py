"""moto's server on a loopback port, with the process pointed at it for as long as it runs.

Everything talks to the emulated account over HTTP, as clients talk to AWS: the run's and the tests' boto3 clients,
the Lambda workers (their own processes), the Step Functions interpreter (which calls back to ``localhost:$MOTO_PORT``)
and, with ``make local ARGS="--keep-running"``, the AWS CLI. For the server's lifetime the process environment has
throw-away credentials, no profile and no config file, so nothing can reach a real AWS account; the previous
environment is restored when it stops.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import boto3
from moto.core.config import default_user_config
from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

# What this project relies on: state machines are really executed, and Lambda runs without Docker (the emulator's own
# runtime dispatches invocations, local_twin.emulator.lambda_runtime).
MOTO_CONFIG: dict[str, dict[str, bool]] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


def run_environment(url: str, port: int, region: str, environ: Mapping[str, str]) -> dict[str, str | None]:
    """The environment changes a run makes: ``None`` removes a variable.

    Service-specific endpoint variables (``AWS_ENDPOINT_URL_S3``...) and profiles are removed, because either could
    send a client somewhere else than the emulator.
    """
    changes: dict[str, str | None] = {name: None for name in environ if name.startswith("AWS_ENDPOINT_URL_")}
    changes.update(
        {
            "AWS_ENDPOINT_URL": url,
            "MOTO_PORT": str(port),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": None,
            "AWS_SECURITY_TOKEN": None,
            "AWS_PROFILE": None,
            "AWS_DEFAULT_PROFILE": None,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return changes


@contextmanager
def patched_environ(changes: Mapping[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        boto3.DEFAULT_SESSION = None  # a cached default session would keep the old credentials and endpoints
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        boto3.DEFAULT_SESSION = None


@contextmanager
def moto_server(region: str, port: int = 0) -> Iterator[tuple[str, int]]:
    """A fresh server (empty state) on 127.0.0.1 (a free port unless one is given): ``(url, port)``."""
    saved_config = copy.deepcopy(default_user_config)
    werkzeug_log = logging.getLogger("werkzeug")  # the server logs every request line; keep output clean
    saved_level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)
    moto_api_backend.reset()
    default_user_config.update(MOTO_CONFIG)  # type: ignore[typeddict-item]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        host, bound = server.get_host_and_port()
        url = f"http://{host}:{bound}"
        with patched_environ(run_environment(url, bound, region, os.environ)):
            yield url, bound
    finally:
        server.stop()
        moto_api_backend.reset()
        default_user_config.update(saved_config)
        werkzeug_log.setLevel(saved_level)
