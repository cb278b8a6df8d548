"""SageMaker Model Monitor (data quality) on one machine: the ``sagemaker-model-monitor-analyzer`` image's baseline and
monitoring analysis (:mod:`~local_twin.monitor.analyzer`, on Deequ's sketch and distances ported in
:mod:`~local_twin.monitor.kll`) and endpoint data capture's record format (:mod:`~local_twin.monitor.capture`).

Used by the pipeline runner's QualityCheck step and by the emulator's monitoring schedules and InvokeEndpoint.
"""

from local_twin.monitor.analyzer import (
    NAMESPACE,
    Analysis,
    AnalyzerError,
    Baseline,
    Dataset,
    analyze,
    cloudwatch_metrics,
    read_csv,
    read_dataset,
    statistics,
    suggest_baseline,
    suggest_constraints,
)
from local_twin.monitor.capture import CapturedRow, CaptureFormatError

__all__ = [
    "NAMESPACE",
    "Analysis",
    "AnalyzerError",
    "Baseline",
    "CaptureFormatError",
    "CapturedRow",
    "Dataset",
    "analyze",
    "cloudwatch_metrics",
    "read_csv",
    "read_dataset",
    "statistics",
    "suggest_baseline",
    "suggest_constraints",
]
