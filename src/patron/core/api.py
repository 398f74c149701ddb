"""REST: the caller's workspace, and bulk import over HTTP for integrators."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from patron.core.db import get_engine
from patron.core.errors import PatronError
from patron.core.importing import ImportReport
from patron.core.schemas import WorkspaceRead
from patron.core.settings import get_settings
from patron.importers import IMPORT_SPECS, import_file
from patron.web.deps import ApiWorkspaceDep, LocaleDep
from patron.web.openapi import errors

router = APIRouter(prefix="/api/v1", tags=["workspace"], responses=errors(401))


class ImportErrorRead(BaseModel):
    line: int
    column: str | None
    code: str
    message: str


class ImportReportRead(BaseModel):
    kind: str
    format: str
    encoding: str | None
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    removed: int
    rejected: int
    ignored_columns: list[str]
    errors: list[ImportErrorRead]

    @classmethod
    def from_report(cls, report: ImportReport, locale: str) -> ImportReportRead:
        errors = [
            ImportErrorRead(line=e.line, column=e.column, code=e.code, message=e.message(locale))
            for e in report.errors
        ]
        fields: dict[str, Any] = {
            name: getattr(report, name) for name in cls.model_fields if name != "errors"
        }
        return cls(**fields, errors=errors)


class PatronPayloadTooLarge(PatronError):
    status = 413


@router.get("/workspace", response_model=WorkspaceRead, operation_id="workspace-read")
def read_workspace(workspace: ApiWorkspaceDep) -> WorkspaceRead:
    return WorkspaceRead.model_validate(workspace)


@router.post(
    "/imports/{kind}",
    response_model=ImportReportRead,
    operation_id="workspace-import",
    responses=errors(400, 413, 422),
)
async def import_upload(
    kind: str,
    request: Request,
    workspace: ApiWorkspaceDep,
    locale: LocaleDep,
    fmt: Annotated[str, Query(alias="format", pattern="^(csv|xlsx|jsonl)$")] = "csv",
    encoding: Annotated[str | None, Query(max_length=40)] = None,
) -> ImportReportRead:
    """Send the file itself as the request body. It is streamed to disk and refused past the size limit
    (``PATRON_MAX_UPLOAD_BYTES``) without being read whole; rejected rows are listed in the answer."""
    if kind not in IMPORT_SPECS:
        raise PatronError("import.unknown_kind", kind=kind, choices=list(IMPORT_SPECS))
    limit = get_settings().max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PatronPayloadTooLarge("import.file_too_large", limit=limit)
    with tempfile.TemporaryDirectory(prefix="patron-import-") as folder:
        path = Path(folder) / f"upload.{fmt}"
        received = 0
        with path.open("wb") as handle:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise PatronPayloadTooLarge("import.file_too_large", limit=limit)
                handle.write(chunk)
        try:
            report = await run_in_threadpool(
                import_file, get_engine(), workspace_slug=workspace.slug, kind=kind, path=path, fmt=fmt,
                encoding=encoding, rejects_path=False, locale=locale,
            )  # fmt: skip
        except PatronError as exc:
            raise _without_server_paths(exc, folder, path.name) from None
    return ImportReportRead.from_report(report, locale)


def _without_server_paths(exc: PatronError, folder: str, shown: str) -> PatronError:
    """The error as the uploader should read it: the file is "the upload", never the server's temporary path
    (which tells an attacker where the server keeps its files)."""
    for name, value in exc.params.items():
        if isinstance(value, str) and folder in value:
            exc.params[name] = value.replace(str(Path(folder) / shown), shown).replace(folder, "")
    return exc
