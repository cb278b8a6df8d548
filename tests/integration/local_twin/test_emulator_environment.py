"""The run's environment points only at the emulator and is restored; unknown template types are named.

Kept apart from test_provision.py: its module-scoped emulator must not be running while these start their own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_twin.provision import ProvisionError, provision, running_emulator


def test_the_run_environment_points_at_the_emulator_and_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.example.com")

    with running_emulator("eu-west-1") as emulator:
        assert os.environ["AWS_ENDPOINT_URL"] == emulator.url.replace("localhost", "127.0.0.1")
        assert os.environ["MOTO_PORT"] == str(emulator.port)
        assert "AWS_PROFILE" not in os.environ and "AWS_ENDPOINT_URL_S3" not in os.environ
        assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"

    assert os.environ["AWS_PROFILE"] == "production"
    assert os.environ["AWS_ENDPOINT_URL_S3"] == "https://s3.example.com"
    assert os.environ.get("MOTO_PORT") is None


def test_a_resource_type_the_twin_does_not_know_is_named(tmp_path: Path) -> None:
    template: dict[str, Any] = yaml.safe_load(
        "AWSTemplateFormatVersion: '2010-09-09'\n"
        "Resources:\n"
        "  Dashboard:\n"
        "    Type: AWS::CloudWatch::Dashboard\n"
        "    Properties: {DashboardBody: '{}'}\n"
    )
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))

    with (
        running_emulator("us-east-1") as emulator,
        pytest.raises(ProvisionError, match="Dashboard.*AWS::CloudWatch::Dashboard"),
    ):
        provision(emulator, parameters={}, template_path=path)
