"""Model package groups shared across accounts with a resource policy, as SageMaker documents it (moto 5.2.5 has
neither the policy APIs nor any cross-account lookup: a group or package ARN of another account is "not found").

Sources: SageMaker API reference, "PutModelPackageGroupPolicy", "GetModelPackageGroupPolicy",
"DeleteModelPackageGroupPolicy"; SageMaker developer guide, "Cross-account discoverability" (model-registry-ram) and
"Deploy a Model Version from a Different Account" (the owner attaches a policy naming the consumer account and the
actions ``sagemaker:DescribeModelPackageGroup`` on the group, ``sagemaker:DescribeModelPackage``,
``sagemaker:ListModelPackages``, ``sagemaker:UpdateModelPackage``, ``sagemaker:CreateModel`` on
``model-package/<group>/*``; the consumer then calls with the group's or the package's ARN).

- PutModelPackageGroupPolicy (group name; the policy as a JSON string) → ``{"ModelPackageGroupArn"}``; a second call
  replaces the policy. GetModelPackageGroupPolicy → ``{"ResourcePolicy"}``. DeleteModelPackageGroupPolicy → ``{}``.
  A group that does not exist: ValidationException "ModelPackageGroup <arn> does not exist." (moto's wording for
  DescribeModelPackageGroup); a group without a policy: ValidationException [I: wording].
- A request from another account naming the group or a package by ARN -- DescribeModelPackageGroup,
  DescribeModelPackage, ListModelPackages (``ModelPackageGroupName`` = the group's ARN), UpdateModelPackage, and
  CreateModel whose container's ``ModelPackageName`` is another account's package -- is allowed only when the owning
  group's policy allows the caller (its account, its root, or its role) that action on that resource
  (:mod:`~local_twin.emulator.policies`); otherwise ``AccessDeniedException`` with AWS's cross-account wording
  ("User: <caller arn> is not authorized to perform: sagemaker:<Action> on resource: <arn> because no resource-based
  policy allows the sagemaker:<Action> action"). The resource of ListModelPackages is ``model-package/<group>/*``
  [I: the documented policies grant it there]. UpdateModelPackage's request carries the condition keys the Service
  Authorization Reference lists for it: ``sagemaker:ModelApprovalStatus``, ``sagemaker:ModelLifeCycle:Stage``,
  ``sagemaker:ModelLifeCycle:StageStatus`` (present only when the request sets them), so a policy's ``Null`` condition
  on them is evaluated.
- Allowed requests act on the owner's registry: UpdateModelPackage changes the owner's package, and the owner's
  account sends the "Model Package State Change" event. A model created from another account's package is the
  caller's (CreateModel acts in the caller's account).
- Not evaluated: the caller's identity policies (tests/integration/security checks them with the policy simulator),
  AWS RAM resource shares (only the policy is needed to use a group by ARN).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sts.models import sts_backends

from local_twin.emulator.policies import Caller, access_denied_message, allows

ADDED_ACTIONS = (
    "put_model_package_group_policy",
    "get_model_package_group_policy",
    "delete_model_package_group_policy",
)
POLICY_ATTRIBUTE = "local_twin_resource_policy"  # kept on moto's ModelPackageGroup, so it goes with the group
ARN = re.compile(
    r"arn:(?P<partition>[^:]+):sagemaker:(?P<region>[^:]+):(?P<account>\d{12}):(?P<type>[^/]+)/(?P<rest>.+)"
)


class AccessDeniedException(ServiceException):
    code = "AccessDeniedException"


@dataclass(frozen=True)
class _Target:
    """A registry resource named by ARN in another account than the caller's."""

    account: str
    region: str
    group: str
    arn: str


def caller_of(response: Any) -> Caller:
    """The request's caller: an assumed-role session's ARN, or the account's root for other credentials."""
    account = str(response.current_account)
    role = sts_backends[account]["aws"].get_assumed_role_from_access_key(response.access_key)
    return Caller(account, str(role.arn) if role is not None else f"arn:aws:iam::{account}:root")


def _foreign(response: Any, name_or_arn: Any, kind: str) -> _Target | None:
    """The resource behind an ARN of another account (None: a name, or an ARN of the caller's own account)."""
    match = ARN.fullmatch(str(name_or_arn or ""))
    if match is None or match["account"] == response.current_account or match["type"] != kind:
        return None
    group = match["rest"].split("/")[0]
    return _Target(match["account"], match["region"], group, str(name_or_arn))


def _group_policy(target: _Target) -> str | None:
    backend: SageMakerModelBackend = sagemaker_backends[target.account][target.region]
    group = backend.model_package_groups.get(target.group)
    return getattr(group, POLICY_ATTRIBUTE, None) if group is not None else None


def authorize(
    response: Any, action: str, target: _Target, resource: str, context: dict[str, str | None] | None = None
) -> None:
    caller = caller_of(response)
    if not allows(_group_policy(target), caller, f"sagemaker:{action}", resource, context):
        raise AccessDeniedException(access_denied_message(caller, f"sagemaker:{action}", resource))


def _as_owner(response: Any, target: _Target, handler: Callable[[Any], ActionResult]) -> ActionResult:
    """Run the handler against the owner's registry (moto picks the backend from the request's account)."""
    own = response.current_account
    response.current_account = target.account
    try:
        return handler(response)
    finally:
        response.current_account = own


# --- the policy APIs -------------------------------------------------------------------------------------------------
def _group(response: Any) -> Any:
    name = str(response._get_param("ModelPackageGroupName"))
    backend: SageMakerModelBackend = response.sagemaker_backend
    group = backend.model_package_groups.get(name.rsplit("/", 1)[-1])
    if group is None:
        arn = f"arn:aws:sagemaker:{backend.region_name}:{backend.account_id}:model-package-group/{name}"
        raise ValidationError(message=f"ModelPackageGroup {arn} does not exist.")
    return group


def _put_policy(self: SageMakerResponse) -> ActionResult:
    group = _group(self)
    policy = str(self._get_param("ResourcePolicy"))
    try:
        json.loads(policy)
    except ValueError as error:
        raise ValidationError(message=f"The resource policy is not valid JSON: {error}") from error
    setattr(group, POLICY_ATTRIBUTE, policy)
    return ActionResult({"ModelPackageGroupArn": group.arn})


def _get_policy(self: SageMakerResponse) -> ActionResult:
    group = _group(self)
    policy = getattr(group, POLICY_ATTRIBUTE, None)
    if policy is None:
        raise ValidationError(message=f"ModelPackageGroup {group.arn} has no resource policy.")
    return ActionResult({"ResourcePolicy": policy})


def _delete_policy(self: SageMakerResponse) -> ActionResult:
    group = _group(self)
    if getattr(group, POLICY_ATTRIBUTE, None) is None:
        raise ValidationError(message=f"ModelPackageGroup {group.arn} has no resource policy.")
    setattr(group, POLICY_ATTRIBUTE, None)
    return EmptyResult()


# --- cross-account requests ------------------------------------------------------------------------------------------
Handler = Callable[[Any], ActionResult]


def _describe_group(original: Handler) -> Handler:
    def describe_model_package_group(self: Any) -> ActionResult:
        target = _foreign(self, self._get_param("ModelPackageGroupName"), "model-package-group")
        if target is None:
            return original(self)
        authorize(self, "DescribeModelPackageGroup", target, target.arn)
        self.params = {**self.params, "ModelPackageGroupName": target.group}
        return _as_owner(self, target, original)

    return describe_model_package_group


def _list_packages(original: Handler) -> Handler:
    def list_model_packages(self: Any) -> ActionResult:
        target = _foreign(self, self._get_param("ModelPackageGroupName"), "model-package-group")
        if target is None:
            return original(self)
        resource = f"arn:aws:sagemaker:{target.region}:{target.account}:model-package/{target.group}/*"
        authorize(self, "ListModelPackages", target, resource)
        return _as_owner(self, target, original)

    return list_model_packages


def describe_model_package(original: Handler) -> Handler:
    def handler(self: Any) -> ActionResult:
        target = _foreign(self, self._get_param("ModelPackageName"), "model-package")
        if target is None:
            return original(self)
        authorize(self, "DescribeModelPackage", target, target.arn)
        return _as_owner(self, target, original)

    return handler


def update_model_package(original: Handler) -> Handler:
    def handler(self: Any) -> ActionResult:
        target = _foreign(self, self._get_param("ModelPackageArn"), "model-package")
        if target is None:
            return original(self)
        life_cycle = self._get_param("ModelLifeCycle") or {}
        context = {
            "sagemaker:ModelApprovalStatus": self._get_param("ModelApprovalStatus"),
            "sagemaker:ModelLifeCycle:Stage": life_cycle.get("Stage"),
            "sagemaker:ModelLifeCycle:StageStatus": life_cycle.get("StageStatus"),
        }
        authorize(self, "UpdateModelPackage", target, target.arn, context)
        return _as_owner(self, target, original)

    return handler


def create_model(original: Handler) -> Handler:
    def handler(self: Any) -> ActionResult:
        containers = [self._get_param("PrimaryContainer") or {}, *(self._get_param("Containers") or [])]
        for container in containers:
            target = _foreign(self, container.get("ModelPackageName"), "model-package")
            if target is not None:
                authorize(self, "CreateModel", target, target.arn)
        return original(self)

    return handler


def patches() -> list[tuple[Any, str, Any]]:
    """The policy APIs and the cross-account group lookups; DescribeModelPackage, UpdateModelPackage and CreateModel
    are wrapped by :func:`local_twin.emulator.sagemaker.patches` around its own versions of them."""
    return [
        (SageMakerResponse, "put_model_package_group_policy", _put_policy),
        (SageMakerResponse, "get_model_package_group_policy", _get_policy),
        (SageMakerResponse, "delete_model_package_group_policy", _delete_policy),
        (
            SageMakerResponse,
            "describe_model_package_group",
            _describe_group(SageMakerResponse.describe_model_package_group),
        ),
        (SageMakerResponse, "list_model_packages", _list_packages(SageMakerResponse.list_model_packages)),
    ]


def compatibility_problems() -> list[str]:
    problems = [
        f"moto now implements SageMaker {name}: remove the emulator's version"
        for name in ADDED_ACTIONS
        if name in vars(SageMakerResponse)
    ]
    problems.extend(
        f"SageMakerResponse.{name} is gone"
        for name in ("describe_model_package_group", "list_model_packages", "sagemaker_backend")
        if not hasattr(SageMakerResponse, name)
    )
    if not hasattr(SageMakerModelBackend, "model_package_groups") and "model_package_groups" not in (
        SageMakerModelBackend.__init__.__code__.co_names
    ):
        problems.append("SageMakerModelBackend no longer keeps model_package_groups")
    return problems
