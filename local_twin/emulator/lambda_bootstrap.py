"""The bootstrap of an emulated Lambda sandbox: run by the function's runtime interpreter (python3.13), not imported.

The emulator starts ``python3.13 -S lambda_bootstrap.py <handler>`` (``-S``: no site-packages of the interpreter
that runs it). ``sys.path`` becomes what it is in Lambda -- the function package (/var/task), its layers
(/opt/python) and the runtime's libraries (/var/runtime) -- then the runtime interface client that AWS's own Python
runtime runs (awslambdaric) takes over: it loads the handler, asks the Runtime API for invocations and reports results
and errors. Standard library only until that point.
"""

import os
import sys


def main() -> None:
    paths = os.environ.pop("LOCAL_TWIN_SYS_PATH").split(os.pathsep)
    # sys.path[0] is this file's folder (part of the emulator): Lambda's code never sees it.
    sys.path[:] = [*paths, *sys.path[1:]]
    from awslambdaric.__main__ import main as run_runtime  # from the runtime's libraries, now on sys.path

    run_runtime(sys.argv)


if __name__ == "__main__":
    main()
