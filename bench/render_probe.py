"""Run inside .venv-render: render the pipeline definition behind a socket guard that counts connection attempts.

``python -m bench.render_probe --output-dir DIR`` prints one JSON line: the seconds ``ml_code.render.main`` took
(SDK import included) and how many network connections were attempted. Every attempt is refused after it is counted,
so a regression shows up as a count (and most likely a render error), never as a call to AWS. Unix sockets are not
network connections and are let through. Standard library only: it runs in the SDK's environment, not the project's.
"""

from __future__ import annotations

import argparse
import errno
import json
import socket
import sys
import time
from collections.abc import Sequence
from typing import Any

ATTEMPTS: list[str] = []
_ORIGINAL_CONNECT = socket.socket.connect
_ORIGINAL_CONNECT_EX = socket.socket.connect_ex


def _is_network(sock: socket.socket) -> bool:
    return sock.family in (socket.AF_INET, socket.AF_INET6)


def _guarded_connect(sock: socket.socket, address: Any) -> None:
    if not _is_network(sock):
        _ORIGINAL_CONNECT(sock, address)
        return
    ATTEMPTS.append(repr(address))
    raise ConnectionRefusedError(f"bench.render_probe: network connection to {address!r} refused while rendering")


def _guarded_connect_ex(sock: socket.socket, address: Any) -> int:
    if not _is_network(sock):
        return _ORIGINAL_CONNECT_EX(sock, address)
    ATTEMPTS.append(repr(address))
    return errno.ECONNREFUSED


def install_guard() -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output-dir", required=True)
    args = parser.parse_args(argv)
    install_guard()
    started = time.perf_counter()
    from ml_code.render import main as render_main

    error = None
    try:
        code = render_main(["--output-dir", args.output_dir])
    except Exception as exc:  # noqa: BLE001 - reported to the bench (with the attempts), which fails the figure
        code, error = 1, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "connection_attempts": len(ATTEMPTS), "attempts": ATTEMPTS, "error": error}))
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
