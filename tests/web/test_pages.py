"""Pages for people: login with CSRF protection, the landing page numbers, languages, the customer page."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.customers import service as customer_service
from patron.importers import import_file
from tests.factories import write_csv
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
    assert "歡迎，王經理" in html and "角色：管理員" in html, "the role by its name, not its code"
    tiles = dict(re.findall(r'data-metric="(\w+)"><span>[^<]+</span><b[^>]*>([^<]+)</b>', html))
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
    assert "找到 1 位顧客" in found.text, "the count says what it counts"
    page = client.get("/customers/C001")
    assert page.status_code == 200
    assert "高山烏龍茶 ×2、濾掛咖啡 ×1" in page.text
    tiles = dict(re.findall(r'data-metric="(\w+)"><span>[^<]+</span><b[^>]*>([^<]+)</b>', page.text))
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


def _visible(page: str) -> str:
    """The text a person reads: no tags, no attributes, no scripts."""
    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)))


def _tables_have_headers(page: str) -> None:
    for table in re.findall(r"<table.*?</table>", page, flags=re.S):
        head = re.search(r"<thead>(.*?)</thead>", table, flags=re.S)
        assert head, f"a table without column headers: {table[:200]}"
        columns = len(re.findall(r"<th\b", head.group(1)))
        for row in re.findall(r"<tbody>\s*<tr>(.*?)</tr>", table, flags=re.S):
            cells = re.findall(r"<td\b[^>]*>", row)
            spanned = sum(int(s) for s in re.findall(r'colspan="(\d+)"', row))
            assert len(cells) + spanned - len(re.findall(r"colspan", row)) == columns, (head.group(1), row)


CUSTOMER_PAGE = {
    "zh-Hant": {"phone": "電話", "email": "行銷電子郵件：已同意", "sms": "簡訊：未同意", "surveys": "問卷調查：已同意",
                "unsubscribed": "（2026年11月20日 已取消訂閱）", "labels": ["VIP 顧客", "已完成", "已取消", "官網",
                "門市", "瀏覽商品", "聯絡客服", "線上客服"], "headers": ["訂單編號", "下單時間", "狀態", "管道", "金額",
                "品項", "時間", "互動類型", "相關訂單或商品", "備註"]},
    "zh-Hans": {"phone": "电话", "email": "营销邮件：已同意", "sms": "短信：未同意", "surveys": "问卷调查：已同意",
                "unsubscribed": "（2026年11月20日 已退订）", "labels": ["VIP 顾客", "已完成", "已取消", "官网", "门店",
                "浏览商品", "联系客服", "在线客服"], "headers": ["订单编号", "下单时间", "状态", "管道", "金额", "商品",
                "时间", "互动类型", "相关订单或商品", "备注"]},
    "en": {"phone": "Phone", "email": "Marketing email: agreed", "sms": "Text messages (SMS): not agreed",
           "surveys": "Surveys: agreed", "unsubscribed": "(unsubscribed on Nov 20, 2026)", "labels": ["VIP",
           "Completed", "Cancelled", "Website", "Store", "Viewed a product", "Contacted support", "Chat"],
           "headers": ["Order", "Ordered at", "Status", "Channel", "Amount", "Items", "When", "What happened",
           "Order or product", "Note"]},
}  # fmt: skip


def test_customer_page_shows_phone_consent_labels_and_column_headers(
    client: TestClient, tenant: Tenant, engine: Engine, tmp_path: Path
) -> None:
    """The page promises consent and phone: both shown, an unsubscribe winning over the imported yes; every
    table has its column headers; statuses, channels, interaction types and the segment read as words."""
    more = write_csv(tmp_path / "more.csv", ("external_id", "phone", "segment", "consent_email", "consent_sms",
                                             "consent_surveys"),
                     [("C001", "0912-345-678", "vip", "yes", "no", "yes"), ("C002", "", "", "no", "no", "yes")])  # fmt: skip
    import_file(engine, workspace_slug=tenant.workspace.slug, kind="customers", path=more)
    with transaction(engine) as session:
        customer = customer_service.get_customer(
            session, workspace_id=tenant.workspace.id, external_id="C002"
        )
        customer.surveys_unsubscribed_at = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    login(client, tenant)
    for lang, expected in CUSTOMER_PAGE.items():
        page = client.get(f"/customers/C001?lang={lang}").text
        text = _visible(page)
        assert re.search(rf'<dt>{expected["phone"]}</dt><dd data-field="phone">0912345678</dd>', page), lang
        for kind in ("email", "sms", "surveys"):
            assert expected[kind] in text, (lang, kind)
        for word in [*expected["labels"], *expected["headers"]]:
            assert word in text, (lang, word)
        for code in ("completed", "cancelled", "product_view", "support_contact", "vip", "chat", "web"):
            assert not re.search(rf"\b{code}\b", text), (lang, code, "a raw code on the page")
        _tables_have_headers(page)
        other = _visible(client.get(f"/customers/C002?lang={lang}").text)
        assert expected["unsubscribed"] in other and expected["surveys"] not in other, lang


def test_the_customer_list_pages_forward_and_back_and_says_where_it_is(
    client: TestClient, tenant: Tenant, engine: Engine, tmp_path: Path
) -> None:
    rows = [(f"P{i:03d}", f"p{i}@example.com") for i in range(1, 121)]
    import_file(engine, workspace_slug=tenant.workspace.slug, kind="customers",
                path=write_csv(tmp_path / "many.csv", ("external_id", "email"), rows))  # fmt: skip
    login(client, tenant)
    total = client.get("/customers?lang=en").text
    count = int(re.search(r'data-total="(\d+)"', total).group(1))  # type: ignore[union-attr]
    first = html.unescape(client.get("/customers?lang=en").text)
    assert f"1–50 of {count:,}" in first and 'rel="prev"' not in first and "offset=50" in first
    middle = html.unescape(client.get("/customers?q=&offset=50&lang=zh-Hant").text)
    assert f"第 51–100 位，共 {count:,} 位" in middle
    assert 'rel="prev" href="?q=&offset=0"' in middle and "上一頁" in middle and "下一頁" in middle
    last = html.unescape(client.get(f"/customers?q=&offset={count - 1}&lang=zh-Hans").text)
    assert 'rel="next"' not in last and "上一页" in last


def test_an_order_line_without_a_product_is_named_by_its_line_number(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    """A line whose product is unknown shows "line 3", never "None"."""
    from sqlalchemy import select

    from patron.commerce.models import Order, OrderLine

    with transaction(engine) as session:
        order = session.scalars(
            select(Order).where(Order.workspace_id == tenant.workspace.id, Order.external_id == "O1")
        ).one()
        session.add(OrderLine(workspace_id=tenant.workspace.id, order_id=order.id, line_no=3, product_id=None,
                              quantity=1, unit_price_minor=1000, discount_minor=0, amount_minor=1000))  # fmt: skip
    login(client, tenant)
    page = client.get("/customers/C001").text
    assert "第 3 行 ×1" in page and "None" not in page
    assert "line 3 ×1" in client.get("/customers/C001?lang=en").text
