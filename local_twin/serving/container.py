"""One serving container, as a process: ``python -m local_twin.serving.container`` (started by
:class:`local_twin.serving.endpoint.ServingContainer`, never by hand).

Like the image's ``serve`` entry point it reads everything from its environment -- ``SM_MODEL_DIR`` (the unpacked model
archive, the container's /opt/ml/model), ``SAGEMAKER_PROGRAM`` (script mode if set), ``SAGEMAKER_SUBMIT_DIRECTORY``,
``SAGEMAKER_BATCH``, ``SAGEMAKER_BIND_TO_PORT``... -- plus ``LOCAL_TWIN_CODE_DIR`` (its /opt/ml/code), builds the
algorithm-mode or script-mode app and serves it on 127.0.0.1. A model that cannot be loaded ends the process, as the
image's server does not start then; the caller sees the error in the process's output.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return  # request lines would drown the run's log; errors are still logged


def _create_app(model_dir: Path) -> Flask:
    if "SAGEMAKER_PROGRAM" in os.environ:  # the image's test is ``module_name is None``: even "" is script mode
        from local_twin.serving import script_mode

        return script_mode.create_app(model_dir, Path(os.environ["LOCAL_TWIN_CODE_DIR"]))
    from local_twin.serving import algorithm_mode

    return algorithm_mode.create_app(model_dir)


def main() -> None:
    model_dir = Path(os.environ["SM_MODEL_DIR"])
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
    try:
        app = _create_app(model_dir)
    except Exception as exc:  # noqa: BLE001 - the server does not start; its parent reports this output
        traceback.print_exc()
        # XGBoost appends a long stack trace to its errors: the last line names the failure for the parent's tail
        first_line = (str(exc).splitlines() or [""])[0]
        print(f"the server did not start: {type(exc).__name__}: {first_line}", flush=True)
        sys.exit(1)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler)
    print(f"serving on 127.0.0.1:{server.server_address[1]}", flush=True)  # the parent waits for this line
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
