"""Which importer handles which kind of file; the one place that knows every importing domain."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from patron.commerce.importing import InteractionImport, OrderImport, ProductImport
from patron.core import service as core_service
from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.importing import ImportReport, ImportSpec, ProgressCallback, run_import
from patron.customers.importing import CustomerImport
from patron.feedback.importing import FeedbackImport
from patron.loyalty import orders as loyalty
from patron.loyalty.importing import EnrolmentImport

IMPORT_SPECS: dict[str, type[ImportSpec]] = {
    "customers": CustomerImport,
    "products": ProductImport,
    "orders": OrderImport,
    "interactions": InteractionImport,
    "feedback": FeedbackImport,
    "loyalty_members": EnrolmentImport,
}
#: The order a whole data set must be loaded in: later kinds refer to earlier ones.
IMPORT_ORDER = ("customers", "products", "orders", "interactions")


def import_file(
    engine: Engine,
    *,
    workspace_slug: str,
    kind: str,
    path: Path,
    fmt: str | None = None,
    encoding: str | None = None,
    rejects_path: Path | bool | None = True,
    locale: str | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import one file of ``kind`` into the workspace; the whole file lands in one transaction."""
    spec_class = IMPORT_SPECS.get(kind)
    if spec_class is None:
        raise PatronError("import.unknown_kind", kind=kind, choices=list(IMPORT_SPECS))
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, workspace_slug)
        session.expunge(workspace)
    started = utcnow()
    report = run_import(
        engine,
        spec_class(workspace),
        path,
        fmt=fmt,
        encoding=encoding,
        rejects_path=rejects_path,
        locale=locale,
        progress=progress,
    )
    if kind == "orders":
        # Orders that arrived or changed earn (or give back) their points, by the rules of their time. A
        # separate transaction after the import's: should it fail, `patron loyalty sync` catches up.
        with transaction(engine) as session:
            loyalty.sync_orders(session, workspace=workspace, updated_since=started)
    return report
