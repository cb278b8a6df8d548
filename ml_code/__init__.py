"""The abalone pipeline: the container scripts (preprocess, train, evaluate) and the pipeline factory (pipeline.py,
render.py). The SDK-free contract modules the Lambda functions share with it live in ``mlops_shared``."""

from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent  # where the container scripts are, in the repository and in a package
