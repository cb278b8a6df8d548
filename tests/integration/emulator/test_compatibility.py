"""A tripwire for moto upgrades: what the emulator's extensions rely on in moto is still there, as checked."""

from __future__ import annotations

from local_twin.emulator import Emulator, moto_compatibility_problems


def test_moto_is_what_the_extensions_were_checked_against(aws: Emulator) -> None:
    # Fails, naming each problem, when a moto upgrade removes what the extensions patch or implements what they add.
    # Asked while the session's emulator runs: its own patches must not look like moto's (they did once).
    assert moto_compatibility_problems() == []
