"""Pages for people: login with CSRF protection, the landing page numbers, languages, the customer page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, Tenant, csrf_of, log_in


def login(client: TestClient, tenant: Tenant) -> str:
    return log_in(client, tenant.workspace.slug, tenant.admin_email)


def test_pages_need_a_login(client: TestClient) -> None:
    answer = client.get("/customers?q=x", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/customers%3Fq%3Dx"


def test_wrong_password_says_so_in_the_users_language(client: TestClient, tenant: Tenant) -> None:
    client.cookies.set("patron_lang", "zh-Hans")
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "workspace": tenant.workspace.slug,
            "email": tenant.admin_email,
            "password": "wrong!!",
            "csrf": csrf_of(form.text),
        },
    )
    assert answer.status_code == 401 and "电子邮件或密码错误。" in answer.text


def test_login_without_csrf_token_is_refused(client: TestClient, tenant: Tenant) -> None:
    client.get("/login")
    answer = client.post(
        "/login", data={"workspace": tenant.workspace.slug, "email": tenant.admin_email, "password": PASSWORD}
    )
    assert answer.status_code in (400, 422)


def test_landing_page_shows_the_workspace_numbers(client: TestClient, tenant: Tenant) -> None:
    landing = login(client, tenant)
    assert '<html lang="zh-Hant">' in landing and 'data-page="overview"' in landing, (
        "people land on the dashboard"
    )
    html = client.get("/workspace").text
    assert "歡迎，王經理" in html
    tiles = dict(re.findall(r'data-metric="(\w+)"><span>[^<]+</span><b>([^<]+)</b>', html))
    assert tiles == {
        "customers": "3",
        "orders": "2",
        "order_lines": "3",
        "products": "2",
        "interactions": "2",
        "revenue": "$1,550.50",
    }
    assert "資料期間 2025年3月1日 至 2025年3月1日" in html, (
        "first and last purchase, in Taipei time (the cancelled order is not one)"
    )


def test_language_switch_is_remembered_and_formats_follow(client: TestClient, tenant: Tenant) -> None:
    login(client, tenant)
    english = client.get("/workspace?lang=en")
    assert '<html lang="en">' in english.text and "Workspace overview" in english.text
    assert "NT$1,550.50" in english.text, "en-US shows TWD with its own symbol"
    assert '<html lang="en">' in client.get("/").text, "the choice is kept in a cookie"
    assert "工作区总览" in client.get("/workspace?lang=zh-Hans").text


def test_customer_search_and_story_page(client: TestClient, tenant: Tenant) -> None:
    login(client, tenant)
    found = client.get("/customers?q=顧客2")
    assert 'href="/customers/C002"' in found.text and 'href="/customers/C001"' not in found.text
    page = client.get("/customers/C001")
    assert page.status_code == 200
    assert "高山烏龍茶 ×2、濾掛咖啡 ×1" in page.text
    tiles = dict(re.findall(r'data-metric="(\w+)"><span>[^<]+</span><b>([^<]+)</b>', page.text))
    assert tiles == {"orders": "1", "spent": "$1,550.50", "interactions": "2"}, (
        "the cancelled order is not counted"
    )
    assert "2025/3/1" in page.text, "times are shown in the workspace zone and the user's locale"
    missing = client.get("/customers/NOPE", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "此工作區沒有外部編號為 NOPE 的顧客。" in missing.text


def test_logout_ends_the_session(client: TestClient, tenant: Tenant) -> None:
    html = login(client, tenant)
    client.post("/logout", data={"csrf": csrf_of(html)})
    assert client.get("/", follow_redirects=False).status_code == 303
