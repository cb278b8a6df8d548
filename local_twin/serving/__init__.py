"""SageMaker's serving containers on one machine: the XGBoost 3.0-5 image's server in algorithm and script mode
(:mod:`~local_twin.serving.algorithm_mode`, :mod:`~local_twin.serving.script_mode`), run as a process per model
(:mod:`~local_twin.serving.endpoint`), called as an endpoint is (:mod:`~local_twin.serving.client`), and batch
transform jobs run through it (:mod:`~local_twin.serving.batch_transform`)."""

from local_twin.serving.client import Invocation, InvocationError, invoke, predictions_from, score_rows
from local_twin.serving.endpoint import ContainerError, ServingContainer, extract_model_archive

__all__ = [
    "ContainerError",
    "Invocation",
    "InvocationError",
    "ServingContainer",
    "extract_model_archive",
    "invoke",
    "predictions_from",
    "score_rows",
]
