"""The emulator's resource-policy evaluation (local_twin.emulator.policies): principals, actions, resources,
conditions, and an explicit Deny winning -- as the IAM user guide's evaluation logic describes."""

from __future__ import annotations

from typing import Any

import pytest

from local_twin.emulator.policies import Caller, access_denied_message, allows

GROUP = "arn:aws:sagemaker:us-east-1:111111111111:model-package-group/abalone"
PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/abalone/3"
STAGING = Caller("222222222222", "arn:aws:sts::222222222222:assumed-role/deployer/session-1")


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, action: Any = "sagemaker:DescribeModelPackage", resource: Any = PACKAGE, **extra: Any) -> Any:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        ({"AWS": "222222222222"}, True),
        ({"AWS": "arn:aws:iam::222222222222:root"}, True),
        ({"AWS": ["arn:aws:iam::333333333333:root", "arn:aws:iam::222222222222:root"]}, True),
        ({"AWS": "arn:aws:iam::222222222222:role/deployer"}, True),
        ({"AWS": "arn:aws:iam::222222222222:role/someone-else"}, False),
        ({"AWS": "arn:aws:iam::333333333333:root"}, False),
        ({"Service": "sagemaker.amazonaws.com"}, False),
        ("*", True),
    ],
)
def test_principals_name_an_account_its_root_or_one_of_its_roles(principal: Any, allowed: bool) -> None:
    assert allows(policy(allow(principal)), STAGING, "sagemaker:DescribeModelPackage", PACKAGE) is allowed


def test_actions_ignore_case_and_both_take_wildcards() -> None:
    document = policy(allow({"AWS": "222222222222"}, "SageMaker:Describe*", PACKAGE.rsplit("/", 1)[0] + "/*"))

    assert allows(document, STAGING, "sagemaker:DescribeModelPackage", PACKAGE)
    assert not allows(document, STAGING, "sagemaker:UpdateModelPackage", PACKAGE)
    assert not allows(document, STAGING, "sagemaker:DescribeModelPackageGroup", GROUP)


def test_a_null_condition_holds_only_when_the_request_leaves_the_key_out() -> None:
    statement = allow(
        {"AWS": "222222222222"},
        "sagemaker:UpdateModelPackage",
        Condition={"Null": {"sagemaker:ModelApprovalStatus": "true", "sagemaker:ModelLifeCycle:Stage": "true"}},
    )
    document = policy(statement)

    assert allows(document, STAGING, "sagemaker:UpdateModelPackage", PACKAGE, {"sagemaker:ModelApprovalStatus": None})
    assert not allows(
        document, STAGING, "sagemaker:UpdateModelPackage", PACKAGE, {"sagemaker:ModelApprovalStatus": "Approved"}
    )


def test_string_conditions_compare_the_request_context() -> None:
    document = policy(
        allow(
            {"AWS": "222222222222"},
            "s3:ListBucket",
            "arn:aws:s3:::bucket",
            Condition={"StringLike": {"s3:prefix": "runs/*/test/*"}},
        )
    )
    assert allows(document, STAGING, "s3:ListBucket", "arn:aws:s3:::bucket", {"s3:prefix": "runs/r1/test/"})
    assert not allows(document, STAGING, "s3:ListBucket", "arn:aws:s3:::bucket", {"s3:prefix": "runs/"})
    assert not allows(document, STAGING, "s3:ListBucket", "arn:aws:s3:::bucket", {})


def test_an_explicit_deny_wins_and_an_unsupported_condition_never_widens_access() -> None:
    granted = allow({"AWS": "222222222222"})
    denied = {**granted, "Effect": "Deny"}
    unsupported = {**granted, "Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}

    assert not allows(policy(granted, denied), STAGING, "sagemaker:DescribeModelPackage", PACKAGE)
    assert not allows(policy(unsupported), STAGING, "sagemaker:DescribeModelPackage", PACKAGE)
    deny_unless_unsupported = {**unsupported, "Effect": "Deny"}  # applies: an unknown operator refuses, never allows
    assert not allows(policy(granted, deny_unless_unsupported), STAGING, "sagemaker:DescribeModelPackage", PACKAGE)
    assert not allows(None, STAGING, "sagemaker:DescribeModelPackage", PACKAGE)


def test_the_denial_message_has_aws_wording() -> None:
    assert access_denied_message(STAGING, "sagemaker:CreateModel", PACKAGE) == (
        "User: arn:aws:sts::222222222222:assumed-role/deployer/session-1 is not authorized to perform: "
        f"sagemaker:CreateModel on resource: {PACKAGE} because no resource-based policy allows the "
        "sagemaker:CreateModel action"
    )
