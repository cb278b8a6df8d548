"""``--drift``: what it sends and where it is refused (the run itself is an e2e test)."""

from __future__ import annotations

import pytest

from local_twin.cli import parse_options
from local_twin.flow import DEFAULT_DATA, DRIFT_FACTOR, shift_record
from local_twin.report import UsageError


def test_a_shifted_record_keeps_its_sex_and_scales_every_measurement() -> None:
    record = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"

    shifted = shift_record(record, 2.0).split(",")

    assert shifted[0] == "M"
    assert [float(v) for v in shifted[1:]] == pytest.approx([0.91, 0.73, 0.19, 1.028, 0.449, 0.202, 0.3])
    assert DRIFT_FACTOR > 1.0


def test_drift_is_an_endpoint_option() -> None:
    data = ["--data", str(DEFAULT_DATA)]
    assert parse_options(["--drift", *data], {}).drift is True
    assert parse_options(data, {}).drift is False
    with pytest.raises(UsageError, match="--drift monitors an endpoint"):
        parse_options(["--drift", "--target", "batch", *data], {})
