"""``python -m local_twin.pipeline_runner --help``."""

from local_twin.pipeline_runner.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
