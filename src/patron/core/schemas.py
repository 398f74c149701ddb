"""In/out shapes for workspaces, users and API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class WorkspaceRead(ReadModel):
    slug: str
    name: str
    timezone: str
    currency: str
    default_locale: str
    industry: str | None = None


class UserRead(ReadModel):
    id: int
    email: str
    display_name: str
    role: str
    locale: str | None = None


class ApiKeyRead(ReadModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The full key. Shown once; store it now.")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, object]] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: ErrorBody
