"""The functions' configuration: environment variables the template sets, read with one clear error when wrong.

A function reads its settings when it handles an event (not at import), so a missing variable fails the invocation
with a message naming every missing one, instead of an import error that hides which.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


class ConfigurationError(ValueError):
    """The function's environment is incomplete or malformed; the message names each variable."""


def required(*names: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The named variables, stripped; every missing or blank one is named in one error."""
    environ = os.environ if environ is None else environ
    missing = [name for name in names if not environ.get(name, "").strip()]
    if missing:
        raise ConfigurationError(f"environment variables not set: {', '.join(missing)}")
    return {name: environ[name].strip() for name in names}


def text(name: str, environ: Mapping[str, str] | None = None) -> str:
    return required(name, environ=environ)[name]


def integer(name: str, low: int, high: int, environ: Mapping[str, str] | None = None) -> int:
    raw = text(name, environ)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigurationError(f"environment variable {name} must be between {low} and {high}, got {value}")
    return value


def id_list(name: str, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """A comma-separated list, as CloudFormation's ``!Join [",", ...]`` writes it; a blank entry is an error."""
    values = tuple(part.strip() for part in text(name, environ).split(","))
    if any(not value for value in values):
        raise ConfigurationError(f"environment variable {name} has a blank entry: {text(name, environ)!r}")
    return values
