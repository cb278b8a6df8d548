"""Lambda functions run as Lambda runs them: the package ``sam build`` made, under the template's runtime, in a worker
process of their own, beside only what the runtime provides.

Each function gets warm worker processes (a "sandbox" each; a second one starts when the first is busy, as Lambda
scales out). A worker is the function's runtime interpreter (``python3.13``, found by ``make lambda-runtime``) started
with ``sys.path`` = the built package, its layers (``/opt/python``) and ``build/lambda-runtime/python`` -- the
runtime's own libraries at the runtime's versions (boto3/botocore, and ``awslambdaric``, the Lambda runtime interface
client that AWS's Python runtime runs as its bootstrap). It loads the handler, builds the context and formats errors
exactly as in AWS, because it *is* that code. The emulator's side is the documented Lambda Runtime API
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): ``GET /2018-06-01/runtime/invocation/next``,
``POST .../invocation/{id}/response``, ``.../invocation/{id}/error`` and ``.../init/error``, served per worker on a
loopback port. Hand-written because no library serves that API in Python (AWS's emulator of it, aws-lambda-rie, is a
Go binary that needs Docker images or a download).

What Lambda does and this module does too:

- the function's environment (the template's variables plus Lambda's reserved ``AWS_LAMBDA_*``, ``_HANDLER``,
  ``LAMBDA_TASK_ROOT``...) exists in the worker only; the caller's process environment is never touched;
- the template's timeout is enforced: the worker is killed and the answer is Lambda's
  ``{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id> Error: Task timed out after N.00 seconds"}``
  (the shape AWS Lambda returns for python3.12+ runtimes, as recorded in public traces); the next call cold-starts;
- a handler's exception is answered with ``FunctionError: Unhandled`` and the runtime's own error document
  (``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``); an import failure is the runtime's init error
  (``Runtime.ImportModuleError``...); a runtime that exits -- mid-invocation, or while importing the handler -- is
  ``Runtime.ExitError`` (``RequestId: <id> Error: Runtime exited with error: exit status N``), at once;
- a layer's ``python`` and ``python/lib/python3.13/site-packages`` folders are on ``sys.path`` (the Lambda guide's
  "Layer paths for each Lambda runtime");
- Invoke answers with the invocation's request ID (``x-amzn-RequestId``, the function's ``context.aws_request_id``);
- asynchronous invocations (``InvocationType=Event``: EventBridge targets) are queued, retried on failure up to the
  function's ``EventInvokeConfig.MaximumRetryAttempts`` -- every attempt with the request ID Invoke answered, as
  Lambda's retries keep it (AWS Knowledge Center, "Why is my Lambda function invoked more than once": "duplicate
  invocations ... that have the same request ID indicate that the Lambda service retried the function") -- and then
  sent to its dead-letter queue with the ``RequestID`` (String) / ``ErrorCode`` (Number) / ``ErrorMessage`` (String)
  attributes Lambda documents (Lambda guide, "Dead-letter queues"), so no event is lost silently.

Every endpoint the function's SDK calls is the emulator (``AWS_ENDPOINT_URL``). A function of the default account gets
throw-away credentials (they act there); one of another account its execution role's assumed-role credentials
(:attr:`FunctionSpec.credentials`), so its calls act in its own account and reach others only as cross-account calls.
"""

from __future__ import annotations

import http
import http.server
import json
import os
import queue
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO_ROOT / ".aws-sam" / "build"  # what `sam build` (make build) writes
RUNTIME_DIR = REPO_ROOT / "build" / "lambda-runtime"  # what `make lambda-runtime` writes
BOOTSTRAP = Path(__file__).resolve().parent / "lambda_bootstrap.py"
RUNTIME_API_PREFIX = "/2018-06-01/runtime"
MAX_WORKERS_PER_FUNCTION = 4
INIT_TIMEOUT_SECONDS = 30.0  # a worker that neither asks for work nor reports an init error by then is broken
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
# Between the emulated Invoke and moto's response: the request ID moto would otherwise replace with one of its own.
REQUEST_ID_HEADER = "x-local-twin-request-id"
SUPPORTED_RUNTIMES = ("python3.13",)


class LambdaSetupError(RuntimeError):
    """The function cannot be run as Lambda would run it (no build, no runtime interpreter); the message says how."""


@dataclass(frozen=True)
class FunctionSpec:
    """One function as the template and ``sam build`` define it."""

    name: str
    arn: str
    handler: str
    runtime: str
    timeout_seconds: int
    memory_mb: int
    code_dir: Path  # the package sam build made (Lambda's /var/task)
    layer_dirs: tuple[Path, ...] = ()  # built layers (each extracted to /opt in Lambda)
    environment: Mapping[str, str] = field(default_factory=dict)  # the template's variables
    log_format: str = "Text"  # LoggingConfig.LogFormat
    dead_letter_arn: str | None = None
    max_retry_attempts: int = 2  # EventInvokeConfig; Lambda's default for asynchronous invocations
    max_event_age_seconds: int = 21600
    # The execution role's session credentials (AccessKeyId, SecretAccessKey, SessionToken), as Lambda puts them in
    # the sandbox; None: the emulator's throw-away credentials, which act in the default account.
    credentials: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Invocation:
    """What Invoke answered: the payload, and ``Unhandled`` in ``function_error`` for a failed invocation."""

    request_id: str
    payload: bytes
    function_error: str | None = None
    cold_start: bool = False
    seconds: float = 0.0

    @property
    def error(self) -> dict[str, Any] | None:
        """The error document of a failed invocation (``errorType``, ``errorMessage``...)."""
        if self.function_error is None:
            return None
        try:
            parsed = json.loads(self.payload or b"{}")
        except ValueError:
            return {"errorMessage": self.payload.decode(errors="replace")}
        return parsed if isinstance(parsed, dict) else {"errorMessage": str(parsed)}


@dataclass(frozen=True)
class InvocationRecord:
    """One invocation as the emulator saw it (for tests and the local run's report)."""

    function: str
    event: Any
    request_id: str
    asynchronous: bool
    error_type: str | None
    error_message: str | None
    cold_start: bool
    seconds: float
    response: Any = None  # the decoded payload the function returned (or its error document)


def python_for(runtime: str, runtime_dir: Path = RUNTIME_DIR) -> Path:
    """The interpreter of a Lambda runtime, as ``make lambda-runtime`` found and linked it."""
    if runtime not in SUPPORTED_RUNTIMES:
        raise LambdaSetupError(f"runtime {runtime!r} is not emulated (only {', '.join(SUPPORTED_RUNTIMES)})")
    version = runtime.removeprefix("python")
    interpreter = runtime_dir / "bin" / f"python{version}"
    if not interpreter.exists() or not (runtime_dir / "python").is_dir():
        raise LambdaSetupError(
            f"{interpreter} is missing: the {runtime} Lambda runtime is set up by `make lambda-runtime` "
            "(make local and make test do it)"
        )
    return interpreter


class _Pending:
    """An invocation handed to a worker, waiting for the runtime's response or error."""

    def __init__(self, request_id: str, payload: bytes, deadline_ms: int, arn: str) -> None:
        self.request_id = request_id
        self.payload = payload
        self.deadline_ms = deadline_ms
        self.arn = arn
        self.result: Future[tuple[bytes, str | None]] = Future()


class _RuntimeApi(http.server.ThreadingHTTPServer):
    """The Runtime API of one worker, on 127.0.0.1 (a free port)."""

    daemon_threads = True

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a worker killed mid-request (timeout, shutdown) resets its connection: expected, not news


class _RuntimeApiHandler(http.server.BaseHTTPRequestHandler):
    server: _RuntimeApi
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: with Nagle's algorithm each answer would wait ~40 ms for the
    # client's delayed ACK (make bench measured 88 ms per invocation before, under 5 ms after).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        return  # the runtime polls constantly; its requests are not news

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path != f"{RUNTIME_API_PREFIX}/invocation/next":
            self._answer(http.HTTPStatus.NOT_FOUND)
            return
        pending = self.server.worker._next_invocation()
        if pending is None:  # the worker is being stopped: leave the runtime waiting until it is killed
            return
        self._answer(
            http.HTTPStatus.OK,
            pending.payload,
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": pending.request_id,
                "Lambda-Runtime-Deadline-Ms": str(pending.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": pending.arn,
                "Lambda-Runtime-Trace-Id": _trace_header(),
            },
        )

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self._body()
        parts = self.path.removeprefix(RUNTIME_API_PREFIX).strip("/").split("/")
        if parts == ["init", "error"]:
            self.server.worker._init_failed(body)
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            self.server.worker._finished(parts[1], body, "Unhandled" if parts[2] == "error" else None)
        else:
            self._answer(http.HTTPStatus.NOT_FOUND)
            return
        self._answer(http.HTTPStatus.ACCEPTED, b'{"status":"OK"}', {"Content-Type": "application/json"})


def _trace_header() -> str:
    epoch = f"{int(time.time()):08x}"
    return f"Root=1-{epoch}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


class _Worker:
    """One sandbox: a runtime process and its Runtime API."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str], python: Path, log: IO[bytes]) -> None:
        self.spec = spec
        self.busy = False
        self._inbox: queue.Queue[_Pending | None] = queue.Queue()
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._init_error: bytes | None = None
        self._exit_code: int | None = None  # set (under the lock) once the runtime process has exited
        self._api = _RuntimeApi(self)
        threading.Thread(target=self._api.serve_forever, name=f"lambda-api-{spec.name}", daemon=True).start()
        env = {**environment, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self._api.server_address[1]}"}
        self.process = subprocess.Popen(  # the runtime interpreter, a fixed bootstrap path and the template's handler
            [str(python), "-S", str(BOOTSTRAP), spec.handler],
            env=env,
            cwd=spec.code_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._watch, name=f"lambda-watch-{spec.name}", daemon=True).start()

    # --- the Runtime API's side -------------------------------------------------------------------------------
    def _next_invocation(self) -> _Pending | None:
        self._ready.set()
        pending = self._inbox.get()
        return pending

    def _finished(self, request_id: str, body: bytes, function_error: str | None) -> None:
        with self._lock:
            pending = self._pending.pop(request_id, None)
        if pending is not None and not pending.result.done():
            pending.result.set_result((body, function_error))

    def _init_failed(self, body: bytes) -> None:
        self._init_error = body
        self._ready.set()
        with self._lock:
            waiting = list(self._pending.values())
            self._pending.clear()
        for pending in waiting:
            if not pending.result.done():
                pending.result.set_result((body, "Unhandled"))

    def _watch(self) -> None:
        """A runtime that exits fails what it was doing, as Lambda's Runtime.ExitError does."""
        code = self.process.wait()
        with self._lock:
            self._exit_code = code
            waiting = list(self._pending.values())
            self._pending.clear()
        self._ready.set()
        for pending in waiting:
            if not pending.result.done():
                pending.result.set_result((self._exit_error(pending.request_id), "Unhandled"))

    def _exit_error(self, request_id: str) -> bytes:
        return self._init_error or _error(
            "Runtime.ExitError",
            f"RequestId: {request_id} Error: Runtime exited with error: exit status {self._exit_code}",
        )

    # --- the caller's side -------------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.process.poll() is None and self._init_error is None

    def invoke(self, payload: bytes, request_id: str) -> tuple[bytes, str | None]:
        """Run one invocation to its end (response, error, timeout or crash): (payload, error)."""
        timeout = self.spec.timeout_seconds
        if not self._ready.wait(INIT_TIMEOUT_SECONDS) and self.alive:
            self.stop()
            return _error("Runtime.Unknown", "the runtime did not start"), "Unhandled"
        if self._init_error is not None:
            return self._init_error, "Unhandled"
        pending = _Pending(request_id, payload, int((time.time() + timeout) * 1000), self.spec.arn)
        with self._lock:
            if self._exit_code is not None:  # exited before taking any work (sys.exit while importing the handler)
                return self._exit_error(request_id), "Unhandled"
            self._pending[request_id] = pending
        self._inbox.put(pending)
        try:
            body, function_error = pending.result.result(timeout=timeout)
        except FutureTimeout:
            self.stop()  # Lambda ends the sandbox; the next invocation starts a new one
            message = f"RequestId: {request_id} Error: Task timed out after {timeout}.00 seconds"
            return _error("Sandbox.Timedout", message), "Unhandled"
        return body, function_error

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._inbox.put(None)
        self._api.shutdown()
        self._api.server_close()


def _error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class LambdaRuntime:
    """The functions of the emulated account and their workers."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str,
        account_id: str,
        log_dir: Path,
        runtime_dir: Path = RUNTIME_DIR,
        async_retry_delay_seconds: float = 0.2,
        send_to_dead_letter_queue: Callable[[str, str, Mapping[str, str | int]], None] | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self.log_dir = log_dir
        self.runtime_dir = runtime_dir
        # Lambda retries a failed asynchronous invocation after about one minute, then two: scaled down locally.
        self.async_retry_delay_seconds = async_retry_delay_seconds
        self.send_to_dead_letter_queue = send_to_dead_letter_queue
        self.records: list[InvocationRecord] = []
        self._functions: dict[str, FunctionSpec] = {}
        self._workers: dict[str, list[_Worker]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self._lock = threading.Lock()
        self._async: list[threading.Thread] = []
        self._delivering = 0  # events on their way to invoke_async (see delivering)
        self._closed = False

    def register(self, spec: FunctionSpec) -> None:
        """Make a function invocable (by name or ARN); re-registering it with another spec retires its workers."""
        python_for(spec.runtime, self.runtime_dir)  # fail now, naming the fix, rather than at the first call
        if not (spec.code_dir / spec.handler.rsplit(".", 1)[0].replace(".", "/")).with_suffix(".py").is_file():
            raise LambdaSetupError(
                f"{spec.name}: {spec.code_dir} holds no handler module for {spec.handler!r}; "
                "build the functions first (`make build`)"
            )
        with self._lock:
            previous = self._functions.get(spec.name)
            self._functions[spec.name] = spec
            retired = self._workers.pop(spec.name, []) if previous is not None and previous != spec else []
        for worker in retired:
            worker.stop()

    def unregister(self, name_or_arn: str) -> None:
        """Forget a function (DeleteFunction): its sandboxes are stopped; unknown names are ignored."""
        name = name_or_arn.split(":function:", 1)[-1].split(":")[0]
        with self._lock:
            self._functions.pop(name, None)
            retired = self._workers.pop(name, [])
        for worker in retired:
            worker.stop()

    def spec(self, name_or_arn: str) -> FunctionSpec:
        name = name_or_arn.split(":function:", 1)[-1].split(":")[0]
        with self._lock:
            spec = self._functions.get(name)
        if spec is None:
            raise KeyError(f"function {name} is not registered with the emulated Lambda")
        return spec

    def __contains__(self, name_or_arn: str) -> bool:
        try:
            self.spec(name_or_arn)
        except KeyError:
            return False
        return True

    # --- synchronous -------------------------------------------------------------------------------------------
    def invoke(
        self, name_or_arn: str, payload: bytes, *, asynchronous: bool = False, request_id: str | None = None
    ) -> Invocation:
        """RequestResponse: run the function on a warm worker (or a new one) and return what Lambda would.

        ``request_id``: an asynchronous invocation's, the same for each of its attempts; a new one otherwise.
        """
        spec = self.spec(name_or_arn)
        request_id = request_id or str(uuid.uuid4())
        started = time.perf_counter()
        worker, cold = self._acquire(spec)
        try:
            body, function_error = worker.invoke(payload, request_id)
        finally:
            self._release(spec, worker)
        result = Invocation(request_id, body, function_error, cold, round(time.perf_counter() - started, 3))
        error = result.error or {}
        with self._lock:
            self.records.append(
                InvocationRecord(
                    function=spec.name,
                    event=_decoded(payload),
                    request_id=request_id,
                    asynchronous=asynchronous,
                    error_type=error.get("errorType") if function_error else None,
                    error_message=error.get("errorMessage") if function_error else None,
                    cold_start=cold,
                    seconds=result.seconds,
                    response=_decoded(body),
                )
            )
        return result

    def _acquire(self, spec: FunctionSpec) -> tuple[_Worker, bool]:
        while True:
            with self._lock:
                if self._closed:
                    raise LambdaSetupError("the emulated Lambda is shut down")
                workers = self._workers.setdefault(spec.name, [])
                ended = [w for w in workers if not w.alive and not w.busy]
                workers[:] = [w for w in workers if w not in ended]
                idle = next((w for w in workers if not w.busy and w.alive), None)
                chosen: tuple[_Worker, bool] | None = None
                if idle is not None:
                    idle.busy = True
                    chosen = idle, False
                elif len(workers) < MAX_WORKERS_PER_FUNCTION:
                    worker = _Worker(
                        spec, self._environment(spec), python_for(spec.runtime, self.runtime_dir), self._log(spec)
                    )
                    worker.busy = True
                    workers.append(worker)
                    chosen = worker, True
            for worker in ended:  # a crashed or failed sandbox: free its Runtime API and process, in the background
                threading.Thread(target=worker.stop, name=f"lambda-stop-{spec.name}", daemon=True).start()
            if chosen is not None:
                return chosen
            time.sleep(0.01)  # every sandbox of this function is busy: wait for one, as a throttled caller would

    def _release(self, spec: FunctionSpec, worker: _Worker) -> None:
        with self._lock:
            worker.busy = False

    def _log(self, spec: FunctionSpec) -> IO[bytes]:
        if spec.name not in self._logs:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._logs[spec.name] = (self.log_dir / f"{spec.name}.log").open("ab")
        return self._logs[spec.name]

    def _environment(self, spec: FunctionSpec) -> dict[str, str]:
        """What Lambda puts in a python3.13 sandbox's environment, the template's variables, and the emulator."""
        version = spec.runtime.removeprefix("python")
        layers = [  # each layer's Python folders, as Lambda's /opt/python/lib/python3.x/site-packages and /opt/python
            str(path)
            for layer in spec.layer_dirs
            for path in (layer / "python" / "lib" / f"python{version}" / "site-packages", layer / "python")
            if path.is_dir()
        ]
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's /var/task and /opt are read-only
            "LOCAL_TWIN_SYS_PATH": os.pathsep.join([str(spec.code_dir), *layers, str(self.runtime_dir / "python")]),
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "LAMBDA_RUNTIME_DIR": str(self.runtime_dir / "python"),
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{uuid.uuid4().hex}",
            **({"AWS_LAMBDA_LOG_FORMAT": "JSON"} if spec.log_format.upper() == "JSON" else {}),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **self._credentials(spec),
            # the emulator's additions: every SDK call of the function goes to the emulated account, never AWS
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **spec.environment,
        }

    @staticmethod
    def _credentials(spec: FunctionSpec) -> dict[str, str]:
        """Lambda's credential variables: the execution role's session (Lambda guide, "Defined runtime environment
        variables": AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN "obtained from the function's
        execution role"), so the function acts in its own account; throw-away ones in the default account."""
        if spec.credentials is None:
            return {
                "AWS_ACCESS_KEY": "testing",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
            }
        return {
            "AWS_ACCESS_KEY": spec.credentials["AccessKeyId"],
            "AWS_ACCESS_KEY_ID": spec.credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": spec.credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": spec.credentials["SessionToken"],
        }

    # --- asynchronous ------------------------------------------------------------------------------------------
    def invoke_async(self, name_or_arn: str, payload: bytes) -> str:
        """InvocationType=Event: accepted at once (202), run in the background with Lambda's retries and DLQ."""
        spec = self.spec(name_or_arn)
        request_id = str(uuid.uuid4())
        thread = threading.Thread(
            target=self._run_async,
            args=(spec, payload, request_id, time.monotonic()),
            name=f"lambda-async-{spec.name}",
        )
        thread.daemon = True
        with self._lock:
            # Started under the lock: a registered thread that has not started yet is not alive, so another caller's
            # clean-up below would drop it and wait_for_async would not wait for it.
            self._async = [t for t in self._async if t.is_alive()] + [thread]
            thread.start()
        return request_id

    def _run_async(self, spec: FunctionSpec, payload: bytes, request_id: str, accepted: float) -> None:
        attempts = 1 + spec.max_retry_attempts
        result: Invocation | None = None
        for attempt in range(attempts):
            if time.monotonic() - accepted > spec.max_event_age_seconds:
                break
            try:
                result = self.invoke(spec.name, payload, asynchronous=True, request_id=request_id)
            except LambdaSetupError:  # the emulator stopped while the event waited: nothing runs any more
                return
            if result.function_error is None:
                return
            if attempt + 1 < attempts:
                time.sleep(self.async_retry_delay_seconds * (attempt + 1))
        self._dead_letter(spec, payload, request_id, result)

    def _dead_letter(self, spec: FunctionSpec, payload: bytes, request_id: str, result: Invocation | None) -> None:
        """Lambda's documented DLQ message: the event as body, RequestID / ErrorCode / ErrorMessage attributes."""
        if spec.dead_letter_arn is None or self.send_to_dead_letter_queue is None:
            return
        error = (result.error if result else None) or {}
        attributes: dict[str, str | int] = {
            "RequestID": request_id,
            "ErrorCode": 200,  # a Number: the 3-digit HTTP code; the function ran and failed, the Invoke succeeded
            "ErrorMessage": str(error.get("errorMessage", "event too old"))[:1024],
        }
        self.send_to_dead_letter_queue(spec.dead_letter_arn, payload.decode(), attributes)

    @contextmanager
    def delivering(self) -> Iterator[None]:
        """An event is on its way to :meth:`invoke_async` (a service changed state and its event is being routed):
        :meth:`wait_for_async` waits for it too, so "nothing is running" is never read between the change and the
        invocation it causes."""
        with self._lock:
            self._delivering += 1
        try:
            yield
        finally:
            with self._lock:
                self._delivering -= 1

    def wait_for_async(self, timeout: float = 60.0) -> None:
        """Block until every asynchronous invocation accepted (or being delivered) so far has finished (tests, and
        the end of a run)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                running = [t for t in self._async if t.is_alive()]
                delivering = self._delivering
            if not running and not delivering:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(running)} asynchronous invocations still running, {delivering} being delivered, "
                    f"after {timeout} s"
                )
            if running:
                running[0].join(timeout=max(0.0, deadline - time.monotonic()))
            else:
                time.sleep(0.005)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = [w for ws in self._workers.values() for w in ws]
            self._workers.clear()
        for worker in workers:
            worker.stop()
        for log in self._logs.values():
            log.close()
        self._logs.clear()


def _decoded(payload: bytes) -> Any:
    try:
        return json.loads(payload or b"null")
    except ValueError:
        return payload.decode(errors="replace")


# --- moto's Lambda API dispatches here -----------------------------------------------------------------------------
def _invoke(
    self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> bytes:
    """Invoke (RequestResponse or Event) of a registered function: run by the emulated runtime, not echoed."""
    from local_twin.emulator import core

    lambdas = core.active().lambdas
    function = self.get_function(function_name, qualifier)
    payload = body if isinstance(body, bytes) else str(body or "").encode()
    if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
        response_headers[REQUEST_ID_HEADER] = lambdas.invoke_async(function.function_arn, payload)
        return b""
    result = lambdas.invoke(function.function_arn, payload)
    response_headers[REQUEST_ID_HEADER] = result.request_id
    response_headers["x-amz-executed-version"] = "$LATEST"
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    return result.payload


def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
    """moto's request ID for every answer, except Invoke's: the invocation's own, as Lambda answers."""
    from moto.core.responses import BaseResponse

    request_id = headers.pop(REQUEST_ID_HEADER, None)
    headers, body = BaseResponse._enrich_response(headers, body)
    if request_id:
        headers["x-amzn-requestid"] = request_id
    return headers, body


def patches() -> list[tuple[Any, str, Any]]:
    from moto.awslambda.responses import LambdaResponse
    from moto.awslambda_simple.models import LambdaSimpleBackend

    return [
        (LambdaSimpleBackend, "invoke", _invoke),
        (LambdaResponse, "_enrich_response", staticmethod(_enrich_response)),
    ]


def compatibility_problems() -> list[str]:
    from moto.awslambda.responses import LambdaResponse
    from moto.awslambda_simple.models import LambdaSimpleBackend

    problems = [
        f"LambdaSimpleBackend.{a} is gone" for a in ("invoke", "get_function") if not hasattr(LambdaSimpleBackend, a)
    ]
    if "_enrich_response" in vars(LambdaResponse) or not hasattr(LambdaResponse, "_enrich_response"):
        problems.append("LambdaResponse._enrich_response changed (Invoke's request ID is set through it)")
    return problems
