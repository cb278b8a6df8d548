"""Names in the rendered pipeline definition that other parts of the system look up.

Standard library only, so the state machine's helpers, the upsert Lambda and the local runner can import these
without the SageMaker SDK; ml_code/pipeline.py builds the pipeline with exactly these names (and re-exports them).
"""

from __future__ import annotations

PIPELINE_NAME = "AbalonePipeline"

PREPROCESS_STEP = "PreprocessAbaloneData"
# Model Monitor's data-quality baseline of the train records (a QualityCheck step): statistics.json, constraints.json.
BASELINE_STEP = "BaselineDataQuality"
TRAIN_STEP = "TrainAbaloneModel"
# The trained model as the serving container loads it (SDK v2's ModelStep appends "-CreateModel"), and the batch
# transform of the test split through it: the quality gate judges the served model.
SERVING_MODEL_STEP_BASE = "CreateServingModel"
SERVING_MODEL_STEP = f"{SERVING_MODEL_STEP_BASE}-CreateModel"
TRANSFORM_STEP = "ScoreTestSplit"
EVALUATE_STEP = "EvaluateAbaloneModel"
CONDITION_STEP = "CheckMseThreshold"
REGISTER_STEP_BASE = "RegisterAbaloneModel"
# SDK v2's ModelStep appends "-RegisterModel" to the name it is given: this is the name in the definition and in
# ListPipelineExecutionSteps (its Metadata.RegisterModel.Arn is the new model package).
REGISTER_STEP = f"{REGISTER_STEP_BASE}-RegisterModel"
FAIL_STEP = "FailOnHighMse"
STEP_NAMES = (
    PREPROCESS_STEP,
    BASELINE_STEP,
    TRAIN_STEP,
    SERVING_MODEL_STEP,
    TRANSFORM_STEP,
    EVALUATE_STEP,
    CONDITION_STEP,
    REGISTER_STEP,
    FAIL_STEP,
)

# Pipeline parameters and their defaults (the definition's "Parameters").
PARAMETER_DEFAULTS: dict[str, str | int | float] = {
    "ProcessingInstanceType": "ml.m5.large",
    "ProcessingInstanceCount": 1,
    "TrainingInstanceType": "ml.m5.large",
    "TransformInstanceType": "ml.m5.large",
    "ModelApprovalStatus": "PendingManualApproval",
    "InputDataUrl": "s3://{{ArtifactsBucket}}/data/abalone.csv",
    "MseThreshold": 6.0,
}
DATA_KEY = "data/abalone.csv"  # where InputDataUrl points by default, inside the artifacts bucket

# How the registered model serves (ml_code/inference.py, in the model artifact): raw records in these types.
SERVING_ENVIRONMENT = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
SERVING_CONTENT_TYPES = ("text/csv", "application/json", "application/jsonlines")

# The evaluation report: a PropertyFile of the evaluate step, read by the condition.
EVALUATION_REPORT = "EvaluationReport"
EVALUATION_OUTPUT = "evaluation"
EVALUATION_FILE = "evaluation.json"
MSE_JSON_PATH = "regression_metrics.mse.value"

# Every step output lives under s3://{{ArtifactsBucket}}/pipeline-runs/<execution id>/<step>/<output>; the training
# job writes s3://{{ArtifactsBucket}}/pipeline-runs/training/<job name>/output/model.tar.gz.
RUNS_PREFIX = "pipeline-runs"
