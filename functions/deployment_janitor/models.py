"""Typed requests: the state machine's prune request and CloudFormation's custom-resource request."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

SAGEMAKER_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"


class PruneRequest(BaseModel):
    """Sent by the state machine after a successful deployment; Protect names what must survive (the new config)."""

    model_config = ConfigDict(extra="forbid")

    Operation: Literal["prune"]
    Protect: list[str] = Field(default_factory=list, max_length=10)


class CleanupRequest(BaseModel):
    """The fields of a CloudFormation custom-resource request this function reads."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    request_type: Literal["Create", "Update", "Delete"] = Field(..., alias="RequestType")
    response_url: HttpUrl = Field(..., alias="ResponseURL")
    stack_id: str = Field(..., alias="StackId", min_length=1)
    request_id: str = Field(..., alias="RequestId", min_length=1)
    logical_resource_id: str = Field(..., alias="LogicalResourceId", min_length=1)
    physical_resource_id: str | None = Field(None, alias="PhysicalResourceId")
