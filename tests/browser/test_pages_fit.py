"""Numbers stay inside their tiles, on a laptop and on a phone, in every language (a revenue of a hundred
million overflowed its tile on /workspace)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from patron.importers import import_file
from tests.browser.conftest import ARTIFACTS, _watched
from tests.factories import ORDER_HEADER, write_csv
from tests.web.conftest import PASSWORD, Tenant, tenant

__all__ = ["tenant"]

#: For every tile: how far its number's text reaches past the tile's inner edges (≤ 0 when it fits).
OVERFLOW = """() => [...document.querySelectorAll('.tile')].map(tile => {
  const number = tile.querySelector('b'), range = document.createRange();
  range.selectNodeContents(number);
  const text = range.getBoundingClientRect(), box = tile.getBoundingClientRect();
  const padding = parseFloat(getComputedStyle(tile).paddingRight);
  return [tile.dataset.metric, number.innerText, Math.round(text.right - (box.right - padding)),
          range.getClientRects().length];
})"""


@pytest.fixture
def rich_tenant(engine: Engine, tenant: Tenant, tmp_path: Any) -> Tenant:
    """The tenant's C002 buys for 128,606,129.00 TWD: revenue 128,607,679.50."""
    orders = write_csv(tmp_path / "big.csv", ORDER_HEADER,
                       [("O9", 1, "C002", "2025-05-01T10:00:00+08:00", "completed", "web", "P1", 2, "64303064.50", "")])  # fmt: skip
    import_file(engine, workspace_slug=tenant.workspace.slug, kind="orders", path=orders)
    return tenant


@pytest.mark.parametrize("width", [1280, 390])
def test_numbers_stay_inside_their_tiles(
    engine: Engine, live_server: str, chromium: Any, rich_tenant: Tenant, width: int
) -> None:
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="zh-TW")
    page = _watched(context)
    page.goto(f"{live_server}/login")
    page.fill("input[name=workspace]", rich_tenant.workspace.slug)
    page.fill("input[name=email]", rich_tenant.admin_email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard*")
    for lang in ("zh-Hant", "zh-Hans", "en"):
        for path in ("/workspace", "/customers/C002"):
            page.goto(f"{live_server}{path}?lang={lang}")
            tiles = page.evaluate(OVERFLOW)
            assert len(tiles) >= 3
            for metric, text, past_edge, lines in tiles:
                assert past_edge <= 0, (
                    f"{path} {lang} at {width}px: {metric} {text} is {past_edge}px past its tile"
                )
                assert lines == 1, f"{path} {lang} at {width}px: {metric} {text} wraps"
            if path == "/workspace":
                assert {m: t for m, t, _, _ in tiles}["revenue"] in (
                    "$128,607,679.50",
                    "NT$128,607,679.50",
                )
        page.screenshot(path=str(ARTIFACTS / f"tiles-{lang}-{width}.png"), full_page=True)
    assert page.problems == [], page.problems
    context.close()
