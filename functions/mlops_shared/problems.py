"""One sentence naming every wrong field of an input (rule 7: bad input gets a clear error that names what is wrong).

Takes pydantic's ``ValidationError.errors()`` list rather than the error itself, so this module stays standard
library only like the rest of the package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_SHOWN_VALUE_LIMIT = 80  # longer values are named by their field only: an error message is not a data dump


def describe(errors: Iterable[Mapping[str, Any]], whole: str = "input") -> str:
    """``field.path: message (got 'value')`` for each problem, joined with "; "; ``whole`` names an error of the
    whole document (an empty location)."""
    return "; ".join(_one(problem, whole) for problem in errors)


def _one(problem: Mapping[str, Any], whole: str) -> str:
    location = ".".join(str(part) for part in problem.get("loc", ())) or whole
    text = f"{location}: {problem.get('msg', 'invalid')}"
    value = problem.get("input")
    if problem.get("type") != "missing" and isinstance(value, str | int | float | bool) and not isinstance(value, dict):
        shown = repr(value)
        if len(shown) <= _SHOWN_VALUE_LIMIT:
            text += f" (got {shown})"
    return text
