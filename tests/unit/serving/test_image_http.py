"""The header parsing the image does with Python 3.10's ``cgi.parse_header``."""

from __future__ import annotations

import pytest

from local_twin.serving.image_http import parse_header


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("text/csv", ("text/csv", {})),
        ("Text/CSV; Label_Size=2", ("Text/CSV", {"label_size": "2"})),
        ("text/csv; label_size", ("text/csv", {})),
        ('text/csv; a="x;y"; b=1', ("text/csv", {"a": "x;y", "b": "1"})),
        ("text/csv, application/json", ("text/csv, application/json", {})),
        ("", ("", {})),
    ],
)
def test_parse_header_matches_cgi(line: str, parsed: tuple[str, dict[str, str]]) -> None:
    assert parse_header(line) == parsed
