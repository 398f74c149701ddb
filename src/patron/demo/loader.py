"""``patron demo load``: generate the demo, write it as ordinary import files, import them like a user would."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import cast

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.engine import Engine

from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.errors import NotFound, PatronError
from patron.core.i18n import translate
from patron.core.models import User
from patron.core.safecells import SafeCsvWriter
from patron.core.security import hash_password
from patron.core.tenancy import scoped
from patron.customers.models import Customer
from patron.demo.assistant import load_assistant
from patron.demo.catalog import BRAND_NAME
from patron.demo.feedback import load_feedback
from patron.demo.generator import DemoConfig, DemoData, generate
from patron.demo.loyalty import load_loyalty
from patron.demo.loyalty_rewards import load_rewards
from patron.demo.surveys import generate_surveys
from patron.importers import IMPORT_ORDER, import_file
from patron.surveys import service as survey_service
from patron.surveys.answers import check_answers
from patron.surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse

#: How the demo's consenting respondents let a testimonial name them, picked by their id (docs/feedback.md).
PUBLISH_AS = ("full", "initials", "anonymous")
DEMO_ADMIN_EMAIL = "admin@demo.patron.example"
_COLUMNS = {
    "customers": ("external_id", "name", "email", "phone", "birthday", "gender", "locale", "city", "segment",
                  "signup_at", "consent_email", "consent_sms", "consent_surveys"),
    "products": ("external_id", "name", "category", "price", "currency"),
    "orders": ("order_id", "line_no", "customer_id", "ordered_at", "status", "channel", "store", "currency",
               "product_id", "quantity", "unit_price", "discount"),
    "interactions": ("external_id", "customer_id", "occurred_at", "type", "channel", "product_id", "order_id", "detail"),
}  # fmt: skip


def demo_has_data(engine: Engine, slug: str) -> bool:
    with transaction(engine) as session:
        try:
            workspace = core_service.get_workspace(session, slug)
        except NotFound:
            return False
        count = session.scalar(select(func.count()).where(Customer.workspace_id == workspace.id))
        return bool(count)


def write_files(data: DemoData, directory: Path) -> dict[str, Path]:
    """The demo as CSV files a user can open, edit and re-import."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = {"customers": data.customers, "products": data.products, "orders": data.order_lines,
            "interactions": data.interactions}  # fmt: skip
    paths: dict[str, Path] = {}
    for kind, columns in _COLUMNS.items():
        path = directory / f"{kind}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = SafeCsvWriter(handle)
            writer.writerow(columns)
            writer.writerows([row.get(column, "") for column in columns] for row in rows[kind])
        paths[kind] = path
    return paths


def ensure_workspace(engine: Engine, slug: str, admin_password: str) -> None:
    """The demo workspace and its admin exist afterwards; an existing admin gets the new password."""
    with transaction(engine) as session:
        try:
            workspace = core_service.get_workspace(session, slug)
        except NotFound:
            workspace = core_service.create_workspace(
                session, slug=slug, name=BRAND_NAME, timezone="Asia/Taipei", currency="TWD",
                default_locale="zh-Hant", industry="retail",
            )  # fmt: skip
        admin = session.scalar(scoped(User, workspace.id, User.email == DEMO_ADMIN_EMAIL))
        if admin is None:
            core_service.create_user(session, workspace_id=workspace.id, email=DEMO_ADMIN_EMAIL,
                                     password=admin_password, role="admin", display_name="Demo admin")  # fmt: skip
        else:
            admin.password_hash = hash_password(admin_password)


def load_demo(
    engine: Engine,
    *,
    slug: str,
    customers: int,
    seed: int,
    end: date,
    admin_password: str,
    data_dir: Path,
    log: Callable[[str], None] = lambda _: None,
    locale: str | None = None,
) -> str:
    """Loads the demo and returns what it holds, in ``locale`` (as are the lines given to ``log``)."""
    ensure_workspace(engine, slug, admin_password)
    log(translate("demo.generating", locale, customers=customers, seed=seed, end=end))
    data = generate(DemoConfig(customers=customers, seed=seed, end=end))
    paths = write_files(data, data_dir)
    rows: dict[str, int] = {}
    for kind in IMPORT_ORDER:
        report = import_file(engine, workspace_slug=slug, kind=kind, path=paths[kind], rejects_path=False)
        if report.rejected:
            first = report.errors[0]
            raise PatronError(
                "demo.rejected", kind=kind, count=report.rejected, line=first.line, reason=first.message("en")
            )
        log("  " + translate("demo.imported", locale, kind=translate(f"import.kind_{kind}", locale),
                             rows=report.rows_read, inserted=report.inserted, updated=report.updated))  # fmt: skip
        rows[kind] = report.rows_read
    invited, answered = load_surveys(engine, slug=slug, data=data, seed=seed)
    log("  " + translate("demo.surveys", locale, invited=invited, answered=answered))
    points = load_loyalty(engine, slug=slug, end=end, seed=seed)
    if points is None:
        log("  " + translate("demo.loyalty_kept", locale))
    else:
        log("  " + translate("demo.loyalty", locale, members=points.members, earned=points.earned,
                             redeemed=points.redeemed, expired=points.expired, reversed=points.reversed))  # fmt: skip
        catalog = load_rewards(engine, slug=slug, end=end, seed=seed)
        log("  " + translate("demo.rewards", locale, rewards=catalog.rewards, coupons=catalog.coupons,
                             used=catalog.used, cancelled=catalog.cancelled, referrals=catalog.referrals,
                             rewarded=catalog.rewarded, refused=catalog.refused))  # fmt: skip
    faq = load_assistant(engine, slug=slug, end=end, seed=seed)
    if faq is None:
        log("  " + translate("demo.assistant_kept", locale))
    else:
        log("  " + translate("demo.assistant", locale, entries=faq.entries, questions=faq.questions,
                             handovers=faq.handovers, ratings=faq.ratings))  # fmt: skip
    analysed = load_feedback(engine, slug=slug, end=end, seed=seed,
                             customers=[str(row["external_id"]) for row in data.customers])  # fmt: skip
    log("  " + translate("demo.feedback", locale, items=analysed.analysed, mentions=analysed.mentions))
    # last: the churn model reads the hand-overs and the analysed feedback as well as orders and the ledger
    try:
        scored = load_scores(engine, slug=slug, end=end)
        log("  " + translate("demo.scores", locale, **scored))
    except (
        PatronError
    ) as problem:  # a demo too small to fit still loads; the pages say which command fills them
        log("  " + translate("demo.scores_skipped", locale, reason=problem.message(locale)))
    return translate(
        "demo.summary", locale, customers=rows["customers"], products=rows["products"], lines=rows["orders"],
        orders=data.order_count, interactions=rows["interactions"], invited=invited, answered=answered,
    )  # fmt: skip


DEMO_CLV_MODEL = "pareto"


def load_scores(engine: Engine, *, slug: str, end: date) -> dict[str, str | int]:
    """What a nightly scheduler would run, as of the demo's last day: ``patron clv score``, ``patron clv validate``
    (the last 180 days held out, kept for the calibration plot) and ``patron churn score`` (90-day window), so the
    Customer value and Churn risk tabs and the customer pages have numbers."""
    from patron.analytics import churn_service
    from patron.analytics import service as clv_service
    from patron.metrics.service import operational_connection

    con = operational_connection()
    # Pareto/NBD: on the demo's buying pattern BG/NBD's dropout parameter a is not identified for some holdout
    # windows (180 and 365 days), where Pareto/NBD fits every window tried (90 to 365 days).
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, slug)
        fit, customers = clv_service.score(session, con, workspace, model=DEMO_CLV_MODEL, observation_end=end)
        clv_version = fit.version
        risk, _ = churn_service.score(session, workspace, window_days=90, as_of=end, con=con)
        session.expunge(workspace)
    report = clv_service.validate(con, workspace, model=DEMO_CLV_MODEL, holdout_days=180, observation_end=end)
    with transaction(engine) as session:
        clv_service.save_validation(session, workspace, report, model=DEMO_CLV_MODEL, holdout_days=180)
    auc = float(str(risk.evaluation["auc"]))
    return {"customers": customers, "clv": clv_version, "churn": risk.version, "auc": f"{auc:.2f}",
            "mae": f"{report.mean_absolute_error:.2f}"}  # fmt: skip


def load_surveys(engine: Engine, *, slug: str, data: DemoData, seed: int) -> tuple[int, int]:
    """Install the survey templates and write the generated invitations, responses and answers. The demo's
    earlier survey data is replaced, so loading twice gives the same result."""
    generated = generate_surveys(data, seed)
    rng = random.Random(seed)
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, slug)
        for model in (SurveyAnswer, SurveyResponse, SurveyInvitation):
            session.execute(delete(model).where(model.workspace_id == workspace.id))
        heads = {}
        for key, definition in survey_service.templates().items():
            survey, _ = survey_service.save_survey(session, workspace_id=workspace.id, definition=definition)
            heads[key] = (survey.id, survey.version, definition)
        # .all() first: a Result has keys(), so dict() would take the Result itself for a mapping.
        rows = session.execute(
            select(Customer.external_id, Customer.id).where(Customer.workspace_id == workspace.id)
        ).all()
        customer_ids = dict(rows)
        invitations = []
        for row in generated.invitations:
            survey_id, _, definition = heads[str(row["survey"])]
            sent = row["sent_at"]
            assert isinstance(sent, datetime)
            invitations.append({
                "workspace_id": workspace.id, "survey_id": survey_id, "customer_id": customer_ids[str(row["customer_id"])],
                "subject": row["subject"], "touchpoint": definition.touchpoint.value, "order_external_id": row["order_id"],
                "nonce": f"{rng.getrandbits(128):032x}", "locale": row["locale"],
                "status": "answered" if row["answered_at"] else "sent", "send_after": sent,
                "expires_at": sent + timedelta(days=definition.settings.expires_after_days), "sent_at": sent,
                "reminded_at": row["reminded_at"], "answered_at": row["answered_at"], "created_at": sent, "updated_at": sent,
            })  # fmt: skip
        if invitations:
            session.execute(insert(SurveyInvitation), invitations)
        responses, answer_sets = [], []
        for row in generated.responses:
            survey_id, version, definition = heads[str(row["survey"])]
            answers = row["answers"]
            assert isinstance(answers, dict)
            checked, problems = check_answers(definition, answers)
            if problems:
                raise PatronError(
                    "demo.rejected",
                    kind="survey responses",
                    count=len(problems),
                    line=0,
                    reason=problems[0].code,
                )
            done = row["completed_at"]
            assert isinstance(done, datetime)
            responses.append({
                "workspace_id": workspace.id, "survey_id": survey_id, "survey_version": version,
                "customer_id": customer_ids[str(row["customer_id"])], "client_key": f"demo:{row['survey']}:{row['customer_id']}:{row['subject']}",
                "touchpoint": definition.touchpoint.value, "channel": definition.channel.value, "locale": row["locale"],
                "order_external_id": row["order_id"], "status": "completed", "publish_consent": "testimonial" in answers,
                "publish_as": PUBLISH_AS[zlib.crc32(str(row["customer_id"]).encode()) % len(PUBLISH_AS)],
                "started_at": done - timedelta(minutes=2), "completed_at": done, "created_at": done, "updated_at": done,
            })  # fmt: skip
            answer_sets.append((survey_id, checked))
        table = cast(Table, SurveyResponse.__table__)
        ids = (
            list(
                session.scalars(insert(table).returning(table.c.id, sort_by_parameter_order=True), responses)
            )
            if responses
            else []
        )
        answer_rows = [
            survey_service.answer_values(workspace.id, survey_id, response_id, answer)
            for response_id, (survey_id, checked) in zip(ids, answer_sets, strict=True)
            for answer in checked
        ]
        if answer_rows:
            session.execute(insert(SurveyAnswer), answer_rows)
    return len(invitations), len(responses)
