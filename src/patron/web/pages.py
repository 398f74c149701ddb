"""Server-rendered pages for people: login, the workspace landing page, customer search and the 360° view."""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.commerce import service as commerce_service
from patron.core import security
from patron.core import service as core_service
from patron.core.errors import NotFound, PatronError, Unauthorized
from patron.core.i18n import LOCALES, normalize_locale
from patron.core.models import Role, User, Workspace
from patron.core.settings import get_settings
from patron.core.throttle import LoginThrottle
from patron.customers import erasure
from patron.customers import service as customer_service
from patron.dashboard import service as dashboard_service
from patron.feedback import service as feedback_service
from patron.loyalty import tiers as loyalty_tiers
from patron.loyalty.member_view import member_card
from patron.surveys.models import Survey
from patron.web.deps import ReadSessionDep, SessionDep, client_address, page_locale
from patron.web.openapi import INT64_MAX
from patron.web.templating import render

router = APIRouter(include_in_schema=False)
LANG_COOKIE = "patron_lang"
log = logging.getLogger("patron.auth")


def new_login_throttle() -> LoginThrottle:
    """One per app (``app.state.login_throttle``), made when the app is."""
    settings = get_settings()
    return LoginThrottle(
        per_account=settings.login_failures_per_account, per_address=settings.login_failures_per_address
    )


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to the login form."""


@dataclass
class Viewer:
    user: User
    workspace: Workspace
    locale: str


def _csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return str(token)


def check_csrf(request: Request, token: str) -> None:
    if not token or not secrets.compare_digest(token, str(request.session.get("csrf", ""))):
        raise PatronError("request.invalid", status=400, details="csrf")


def current_viewer(request: Request, session: SessionDep) -> Viewer:
    return _viewer(request, session)


def current_reader(request: Request, session: ReadSessionDep) -> Viewer:
    """The logged-in person, for pages that only read (their session is a read-only snapshot)."""
    return _viewer(request, session)


def _viewer(request: Request, session: Session) -> Viewer:
    token = request.session.get("sid")
    if not isinstance(token, str):
        raise LoginRequired
    user = core_service.login_session_user(session, token=token)
    workspace = None if user is None else session.get(Workspace, user.workspace_id)
    if user is None or workspace is None:
        request.session.clear()
        raise LoginRequired
    return Viewer(user, workspace, page_locale(request, user, workspace))


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
ReaderDep = Annotated[Viewer, Depends(current_reader)]


def _remember_language(request: Request, response: Response) -> Response:
    chosen = normalize_locale(request.query_params.get("lang"))
    if chosen in LOCALES:
        response.set_cookie(
            LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax", secure=get_settings().cookies_secure()
        )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    locale = page_locale(request)
    context = {
        "csrf": _csrf_token(request),
        "next": next,
        "workspace": get_settings().default_workspace,
        "error": None,
    }
    return _remember_language(request, render(request, "login.html", context, locale=locale))


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    workspace: Annotated[str, Form(max_length=64)],
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    check_csrf(request, csrf)
    locale = page_locale(request)
    throttle: LoginThrottle = request.app.state.login_throttle
    address = client_address(request)
    account = LoginThrottle.account(workspace, email)
    context: dict[str, object] = {
        "csrf": _csrf_token(request),
        "next": next,
        "workspace": workspace,
        "email": email,
    }
    wait = throttle.retry_after(account, address)
    if wait:
        log.warning("login refused (locked %d s): workspace=%r email=%r address=%s", wait, *account, address)
        context |= {"error": "auth.too_many_attempts", "error_params": {"minutes": -(-wait // 60)}}
        response = render(request, "login.html", context, locale=locale, status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        try:
            ws = core_service.get_workspace(session, workspace.strip())
        except NotFound:
            security.waste_password_time(password)  # an unknown workspace answers as slowly as a known one
            raise
        user = core_service.authenticate_user(session, workspace_id=ws.id, email=email, password=password)
    except (NotFound, Unauthorized):
        throttle.failed(account, address)
        log.warning("login failed: workspace=%r email=%r address=%s", *account, address)
        context["error"] = "auth.bad_credentials"
        return render(request, "login.html", context, locale=locale, status_code=401)
    throttle.succeeded(account)
    log.info("login: workspace=%r email=%r address=%s", *account, address)
    token = core_service.start_login_session(session, user=user)
    request.session.clear()
    request.session.update({"sid": token, "csrf": secrets.token_urlsafe(24)})
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
def logout(
    request: Request, session: SessionDep, csrf: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """Ends the login on the server too: a saved copy of the cookie no longer opens any page."""
    check_csrf(request, csrf)
    token = request.session.get("sid")
    if isinstance(token, str):
        core_service.end_login_session(session, token=token)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, viewer: ReaderDep) -> Response:
    """People land on the dashboard; the language choice travels with them."""
    return RedirectResponse(
        "/dashboard" + (f"?{request.url.query}" if request.url.query else ""), status_code=303
    )


@router.get("/workspace", response_class=HTMLResponse)
def workspace_data(request: Request, session: ReadSessionDep, viewer: ReaderDep) -> Response:
    """What data the workspace holds and for which period."""
    totals = commerce_service.workspace_totals(session, workspace=viewer.workspace)
    return render_page(request, viewer, "home.html", {"totals": totals})


@router.get("/customers", response_class=HTMLResponse)
def customers(
    request: Request,
    session: ReadSessionDep,
    viewer: ReaderDep,
    q: Annotated[str, Query(max_length=200)] = "",
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Response:
    rows, total = customer_service.search_customers(
        session, workspace_id=viewer.workspace.id, query=q or None, limit=50, offset=offset
    )
    return render_page(
        request,
        viewer,
        "customers.html",
        {"q": q, "rows": rows, "total": total, "offset": offset, "erased": "erased" in request.query_params},
    )


@router.get("/customers/{external_id}", response_class=HTMLResponse)
def customer_page(external_id: str, request: Request, session: ReadSessionDep, viewer: ReaderDep) -> Response:
    story = customer_service.customer_story(session, workspace=viewer.workspace, external_id=external_id)
    customer = customer_service.get_customer(
        session, workspace_id=viewer.workspace.id, external_id=external_id
    )
    answered, answered_total = dashboard_service.responses(
        session, viewer.workspace.id, None, customer_id=customer.id, limit=100, display_locale=viewer.locale
    )
    card = member_card(
        session, workspace_id=viewer.workspace.id, customer_id=customer.id, locale=viewer.locale
    )
    context = {"story": story, "rows": answered, "responses_total": answered_total, "loyalty": card,
               "can_erase": viewer.user.role == Role.ADMIN.value and customer.erased_at is None, "unconfirmed": "unconfirmed" in request.query_params,
               **_feedback(session, viewer, customer.id), **_scores(session, viewer, external_id)}  # fmt: skip
    if card is not None:  # the member's tier and its benefits (loyalty.tiers), none without tiers
        context["loyalty_tier"] = loyalty_tiers.benefits(
            session, workspace_id=viewer.workspace.id, customer_id=customer.id, locale=viewer.locale
        )
    return render_page(request, viewer, "customer.html", context)


@router.post("/customers/{external_id}/erase")
def erase_customer(
    external_id: str, request: Request, session: SessionDep, viewer: ViewerDep,
    csrf: Annotated[str, Form(max_length=100)] = "", confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:  # fmt: skip
    """Erase the customer (admins only), once the confirmation box is ticked; back to the customer list."""
    check_csrf(request, csrf)
    if viewer.user.role != Role.ADMIN.value:
        raise PatronError("auth.forbidden", status=403, role=viewer.user.role)
    if confirm != "yes":
        return RedirectResponse(
            f"/customers/{quote(external_id, safe='')}?unconfirmed=1#erase", status_code=303
        )
    erasure.erase_customer(
        session, workspace_id=viewer.workspace.id, external_id=external_id, actor=viewer.user.email
    )
    return RedirectResponse("/customers?erased=1", status_code=303)


def _feedback(session: Session, viewer: Viewer, customer_id: int) -> dict[str, object]:
    """The customer's feedback items from every channel (newest 100), each with its analysis as the page shows it:
    sentiment, and themes named in the page's language."""
    page = feedback_service.items_for_customer(
        session, workspace_id=viewer.workspace.id, customer_id=customer_id
    )
    names = feedback_service.theme_names(session, viewer.workspace.id, viewer.locale) if page.items else {}
    shown = [
        (item, feedback_service.ShownAnalysis(item.sentiment, [
            feedback_service.ShownTheme(m.theme, names.get(m.theme, m.theme), m.sentiment) for m in item.themes]))
        for item in page.items
    ]  # fmt: skip
    # A survey comment's source is its survey's key: shown as the survey's name in the page's language.
    keys = {item.source for item in page.items if item.channel == "survey"}
    surveys = session.scalars(
        select(Survey).where(Survey.workspace_id == viewer.workspace.id, Survey.key.in_(keys))
    )
    names_of = (
        {survey.key: dashboard_service.survey_name(survey, viewer.locale) for survey in surveys}
        if keys
        else {}
    )
    return {"feedback_items": shown, "feedback_total": page.total, "survey_names": names_of}


def _scores(session: Session, viewer: Viewer, external_id: str) -> dict[str, object]:
    """The customer's stored CLV and churn risk (with its reasons in the page's language), None where not scored."""
    from patron.analytics import churn_service
    from patron.analytics import service as clv_service

    found: dict[str, object] = {"clv": None, "risk": None}
    ws = viewer.workspace.id
    with contextlib.suppress(NotFound):
        found["clv"] = clv_service.customer_score(session, workspace_id=ws, external_id=external_id)
    with contextlib.suppress(NotFound):
        found["risk"] = churn_service.customer_risk(
            session, workspace_id=ws, external_id=external_id, locale=viewer.locale
        )
    return found


def render_page(
    request: Request, viewer: Viewer, name: str, context: dict[str, object], *, status_code: int = 200
) -> Response:
    full = {"viewer": viewer, "csrf": _csrf_token(request),
            "label": customer_service.code_labels(viewer.workspace, viewer.locale), **context}  # fmt: skip
    response = render(
        request, name, full, locale=viewer.locale, timezone=viewer.workspace.timezone, status_code=status_code
    )
    return _remember_language(request, response)


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
