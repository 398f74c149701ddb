"""Erasing a customer from their page in a real browser: the box must be ticked first, the erasure takes the
admin back to the customer list with a notice, and the customer is gone (docs/privacy.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from tests.browser.conftest import ARTIFACTS
from tests.web.conftest import PASSWORD, make_tenant


def test_an_admin_erases_a_customer_after_ticking_the_box(
    engine: Engine, live_server: str, laptop: Any, tmp_path: Path
) -> None:
    tenant = make_tenant(engine, tmp_path / "tenant")
    page = laptop
    page.goto(f"{live_server}/login")
    page.get_by_label("工作區").fill(tenant.workspace.slug)
    page.get_by_label("電子郵件").fill(tenant.admin_email)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server}/dashboard*")
    page.goto(f"{live_server}/customers/C003?lang=en")
    button = page.get_by_role("button", name="Erase customer")
    button.click()  # not ticked: the browser keeps the form
    assert page.url.endswith("/customers/C003?lang=en")
    page.locator("[data-erase]").screenshot(path=str(ARTIFACTS / f"customer-erase-{engine.dialect.name}.png"))
    page.get_by_label("I understand that customer C003 is erased for good.").check()
    button.click()
    page.wait_for_url("**/customers?erased=1")
    assert "The customer was erased." in page.locator("[data-erased]").inner_text()
    assert page.problems == []
    assert page.goto(f"{live_server}/customers/C003").status == 404  # (its console error is expected)
