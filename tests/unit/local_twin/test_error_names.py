"""The error names a Task can report, per integration (the Step Functions guide's rules; see error_names' docstring)."""

from __future__ import annotations

import pytest

from local_twin.emulator.error_names import LAMBDA_TRANSIENT, UnnamedService, task_error_names

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:deploy-steps"


def test_an_aws_sdk_task_reports_its_operations_declared_errors_and_the_service_base_exception() -> None:
    errors = task_error_names("arn:aws:states:::aws-sdk:sagemaker:describePipelineExecution")

    assert errors.can_report("SageMaker.ResourceNotFoundException")  # declared by DescribePipelineExecution
    assert errors.can_report("SageMaker.SageMakerException")  # throttling, validation: undeclared
    assert not errors.can_report("SageMaker.AmazonSageMakerException")  # the optimised integrations' name
    assert not errors.can_report("SageMaker.ResourceLimitExceededException")  # not declared by this operation
    assert errors.transient == {"SageMaker.SageMakerException"}


def test_an_optimised_task_reports_service_wide_declared_errors_and_the_v1_base_exception() -> None:
    errors = task_error_names("arn:aws:states:::sagemaker:createEndpoint")

    assert errors.can_report("SageMaker.ResourceLimitExceededException")  # the guide's own retry example
    assert errors.can_report("SageMaker.AmazonSageMakerException")
    assert not errors.can_report("SageMaker.SageMakerException")
    assert errors.transient == {"SageMaker.AmazonSageMakerException"}


def test_a_lambda_task_reports_service_errors_and_any_error_type_of_its_function() -> None:
    errors = task_error_names(FUNCTION)

    assert all(errors.can_report(name) for name in LAMBDA_TRANSIENT | {"Lambda.Unknown", "Sandbox.Timedout"})
    assert errors.can_report("InvalidInput")  # the function's own exception class
    assert not errors.can_report("Lambda.NoSuchThingException")
    assert errors.transient == LAMBDA_TRANSIENT


@pytest.mark.parametrize("name", ["States.ALL", "States.TaskFailed", "States.Timeout"])
def test_every_task_can_match_the_documented_states_errors(name: str) -> None:
    assert task_error_names("arn:aws:states:::aws-sdk:sagemaker:deleteEndpoint").can_report(name)


def test_an_invented_states_error_is_not_reportable() -> None:
    assert not task_error_names(FUNCTION).can_report("States.Throttled")


def test_a_service_whose_names_are_not_in_the_tables_is_refused_by_name() -> None:
    with pytest.raises(UnnamedService, match="aws-sdk:dynamodb"):
        task_error_names("arn:aws:states:::aws-sdk:dynamodb:getItem")
