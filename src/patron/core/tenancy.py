"""The single workspace-scoping helper every query goes through."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select

from patron.core.db import WorkspaceScoped

ModelT = TypeVar("ModelT", bound=WorkspaceScoped)


def scoped(model: type[ModelT], workspace_id: int, *criteria: Any) -> Select[ModelT]:
    """``SELECT model WHERE workspace_id = :ws AND criteria``: the only way services read tenant rows."""
    return select(model).where(model.workspace_id == workspace_id, *criteria)
