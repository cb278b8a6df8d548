"""A serving container of a SageMaker model, run locally: the process that answers ``/ping`` and ``/invocations``.

What SageMaker does when a model is deployed (endpoint) or transforms (batch), this does on one machine: the model
archive unpacked as the container's /opt/ml/model, the model's container ``Environment`` as the process environment,
and the image's server (:mod:`local_twin.serving.container`) started in the Python environment mapped to the image
(:mod:`local_twin.images`). Like the real container it has no AWS credentials and no network beyond its loopback port
(the models run with network isolation). A model that does not load ends the process before it answers ``/ping``:
:meth:`ServingContainer.start` raises with the process's output, as a failed endpoint reports its reason.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from local_twin.images import local_image

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60.0


class ContainerError(RuntimeError):
    """The serving container did not start (its model or code cannot be loaded); the message has its output."""


def extract_model_archive(archive: bytes, model_dir: Path) -> Path:
    """Unpack a SageMaker ``model.tar.gz`` (the model directory's contents at the tar root) into ``model_dir``.

    The ``data`` filter refuses absolute paths, ``..`` and links out of the directory: the archive is read from S3.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            tar.extractall(model_dir, filter="data")
    except tarfile.TarError as exc:
        raise ContainerError(f"the model archive is not a readable tar.gz: {exc}") from exc
    return model_dir


class ServingContainer:
    """One running container (``with ServingContainer(...) as container: container.url``)."""

    def __init__(
        self,
        image_uri: str,
        model_dir: Path,
        environment: Mapping[str, str] | None = None,
        *,
        work_dir: Path,
        batch: bool = False,
        log: Path | None = None,
    ) -> None:
        self.image_uri = image_uri
        self.model_dir = model_dir
        self.environment = dict(environment or {})
        self.work_dir = work_dir
        self.batch = batch
        self.log_path = log or work_dir / "container.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise ContainerError("the container is not running")
        return f"http://127.0.0.1:{self._port}"

    def _environment(self) -> dict[str, str]:
        code_dir = self.work_dir / "code"  # the container's /opt/ml/code
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1",  # the image's serving default (serving.set_default_serving_env_if_unspecified)
            **self.environment,
            "SM_MODEL_DIR": str(self.model_dir),
            "SAGEMAKER_BIND_TO_PORT": "0",
            "LOCAL_TWIN_CODE_DIR": str(code_dir),
            **({"SAGEMAKER_BATCH": "true"} if self.batch else {}),
        }

    def start(self) -> ServingContainer:
        python = local_image(self.image_uri, "serving container").python
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(  # the project's own serving module, in the image's mapped interpreter
            [str(python), "-m", "local_twin.serving.container"],
            cwd=self.work_dir,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        ready = threading.Event()
        output: list[str] = []
        threading.Thread(
            target=self._drain, args=(self._process.stdout, log, ready, output), name="serving-container", daemon=True
        ).start()
        if not ready.wait(START_TIMEOUT_SECONDS) or self._port is None:
            self.stop()
            tail = "".join(output[-30:]).strip()
            raise ContainerError(f"the serving container for {self.model_dir} did not start: {tail or 'no output'}")
        return self

    def _drain(self, stream: IO[bytes] | None, log: IO[bytes], ready: threading.Event, output: list[str]) -> None:
        assert stream is not None
        for raw in iter(stream.readline, b""):
            log.write(raw)
            log.flush()
            line = raw.decode(errors="replace")
            if not ready.is_set():
                output.append(line)
                if line.startswith("serving on 127.0.0.1:"):
                    self._port = int(line.rsplit(":", 1)[1])
                    ready.set()
        ready.set()  # the process ended: start() stops waiting and reports its output
        log.close()
        stream.close()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._port = None

    def __enter__(self) -> ServingContainer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
