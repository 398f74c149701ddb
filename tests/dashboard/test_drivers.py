"""The Drivers tab: the figures of tests/feedback/test_drivers.py's responses as the page and its exports show
them, in three languages; a refusal (too few responses) is said on the page, not an error."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.core.db import transaction
from patron.dashboard import drivers as drivers_view
from patron.dashboard.filters import parse_filters
from tests.feedback.test_drivers import STAFF_OTHER, N, build_drivers, nps, speed
from tests.web.conftest import log_in

WINDOW = "period=custom&since=2026-11-01&until=2026-11-23"


def test_the_drivers_tab_its_table_exports_and_refusals(engine: Engine, client: TestClient) -> None:
    world = build_drivers(engine)
    filters = parse_filters({"period": "custom", "since": "2026-11-01", "until": "2026-11-23", "survey": "drv"},
                            today=date(2026, 11, 24))  # fmt: skip
    with transaction(engine) as session:
        view = drivers_view.key_drivers(session, world.workspace, filters, "en", outcome="nps")
    assert view.reason is None and view.report is not None and view.report.rows == 39
    rows = {row[0]: row for row in view.tables["drivers"].rows}
    assert set(rows) == {"Delivery", "Staff attitude", "Speed"}
    delivery = rows["Delivery"]
    assert delivery[1] == "theme, negative mention" and delivery[4] == 10 / 39 * 100
    assert delivery[5] == 29 / 10 and delivery[7] is True
    staff = rows["Staff attitude"]
    assert staff[5] == sum(nps(i) for i in STAFF_OTHER) / 8 and staff[7] is False
    assert rows["Speed"][4] is None and rows["Speed"][1] == "rating item"
    by_key = {d.name: d for d in view.report.drivers}
    assert delivery[2] == by_key["Delivery"].importance * 100
    low, high = by_key["Delivery"].importance_low, by_key["Delivery"].importance_high
    assert delivery[3] == f"{low * 100:.1f}–{high * 100:.1f}%"

    log_in(client, world.workspace.slug, world.viewer)
    for language, tab, theme in (("zh-Hant", "驅動因素", "配送"), ("zh-Hans", "驱动因素", "配送"),
                                 ("en", "Drivers", "Delivery")):  # fmt: skip
        page = client.get(f"/dashboard/drivers?{WINDOW}&survey=drv&lang={language}")
        assert page.status_code == 200, page.text
        assert re.search(r'aria-current="page">([^<]+)<', page.text).group(1) == tab  # type: ignore[union-attr]
        assert 'id="chart-drivers"' in page.text and 'data-small-sample="39"' in page.text
        assert theme in page.text and 'name="outcome"' in page.text
    detractors = client.get(f"/dashboard/drivers?{WINDOW}&outcome=detractor&lang=en")
    assert detractors.status_code == 200 and "linear probability model" in detractors.text
    exported = client.get(f"/dashboard/drivers/export?{WINDOW}&survey=drv&table=drivers&format=csv&lang=en")
    lines = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["Driver", "Kind", "Importance (share of R²)"] and len(lines) == 4
    delivery_line = next(line for line in lines if line[0] == "Delivery")
    assert (
        delivery_line[4] == f"{10 / 39 * 100:.2f}" and delivery_line[5] == "2.9" and delivery_line[7] == "1"
    )
    xlsx = client.get(f"/dashboard/drivers/export?{WINDOW}&table=drivers&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    few = client.get(f"/dashboard/drivers?{WINDOW}&segment=vip&lang=en")
    assert few.status_code == 200 and "data-no-drivers" in few.text and "20 complete responses" in few.text
    bad = client.get(f"/dashboard/drivers?{WINDOW}&outcome=revenue&lang=en")
    assert bad.status_code == 400 and "revenue" in bad.text
    assert N == 40 and speed(39) is None
