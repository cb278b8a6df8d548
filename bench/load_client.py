"""The second process of the endpoint measurement: single-row requests to a loopback endpoint, bounded.

``python -m bench.load_client --url http://127.0.0.1:PORT --rows FILE`` sends, one row per request:

1. a warm-up (not recorded),
2. sequential requests on one keep-alive connection, each timed (latency p50 / p99),
3. requests from ``--concurrency`` connections at once (throughput),

each phase bounded by a request count and a duration, whichever ends first. It prints one JSON line. Standard
library only, and the URL must be loopback: this is a measurement, never a load test of something else.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class Client:
    """One keep-alive HTTP/1.1 connection to the endpoint."""

    def __init__(self, host: str, port: int) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=30)

    def invoke(self, row: bytes) -> None:
        # Accept named: without it the model answers application/json (docs/inference.md), not one float per line.
        headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
        self.connection.request("POST", "/invocations", body=row, headers=headers)
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"the endpoint answered {response.status}: {body[:200]!r}")
        float(body.split(b",")[0])  # one prediction per row: a wrong answer must not count as a fast one

    def close(self) -> None:
        self.connection.close()


def sequential(client: Client, rows: Sequence[bytes], count: int, max_seconds: float) -> list[float]:
    """Latencies in milliseconds of up to ``count`` requests, one after another."""
    latencies: list[float] = []
    deadline = time.perf_counter() + max_seconds
    for index in range(count):
        started = time.perf_counter()
        client.invoke(rows[index % len(rows)])
        latencies.append((time.perf_counter() - started) * 1000)
        if started > deadline:
            break
    return latencies


def concurrent(
    host: str, port: int, rows: Sequence[bytes], count: int, max_seconds: float, concurrency: int
) -> tuple[int, float]:
    """(requests completed, seconds) with ``concurrency`` connections sharing a budget of ``count`` requests."""
    lock = threading.Lock()
    state = {"issued": 0, "done": 0}
    errors: list[BaseException] = []
    deadline = time.perf_counter() + max_seconds

    def worker() -> None:
        client = Client(host, port)
        try:
            while True:
                with lock:
                    if state["issued"] >= count or time.perf_counter() > deadline:
                        return
                    index = state["issued"]
                    state["issued"] += 1
                client.invoke(rows[index % len(rows)])
                with lock:
                    state["done"] += 1
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread below
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return state["done"], elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--rows", required=True, help="a file of CSV feature rows (no label), one per line")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    target = urlsplit(args.url)
    if target.hostname not in LOOPBACK_HOSTS or target.port is None:
        parser.error(f"--url must be a loopback address with a port, got {args.url}")
    with open(args.rows, "rb") as handle:
        rows = [line.strip() for line in handle if line.strip()]
    if not rows:
        parser.error(f"{args.rows} holds no rows")
    client = Client(target.hostname, target.port)
    sequential(client, rows, args.warmup, args.max_seconds)
    latencies = sequential(client, rows, args.requests, args.max_seconds)
    client.close()
    done, elapsed = concurrent(target.hostname, target.port, rows, args.requests, args.max_seconds, args.concurrency)
    print(json.dumps({"latencies_ms": latencies, "concurrent_requests": done, "concurrent_seconds": elapsed}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
