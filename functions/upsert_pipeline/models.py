"""Typed inputs of the upsert function."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.utilities.parser.models import CloudFormationCustomResourceBaseModel
from pydantic import BaseModel, ConfigDict, Field


class UpsertRequest(BaseModel):
    """Direct invocation by the state machine (first state of a training run)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    operation: Literal["upsert"] = Field("upsert", alias="Operation")
    reason: str = Field("training run", alias="Reason", max_length=256)


class CustomResourceRequest(CloudFormationCustomResourceBaseModel):
    """Create, Update or Delete from CloudFormation; PhysicalResourceId is absent on Create."""

    request_type: Literal["Create", "Update", "Delete"] = Field(..., alias="RequestType")
    physical_resource_id: str | None = Field(None, alias="PhysicalResourceId")
