"""Tiers, birthday rewards and the member's page through the API, the CLI and the signed link."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.db import transaction
from patron.web.app import create_app
from tests.loyalty.conftest import Program
from tests.loyalty.test_tiers import TIERS, coffee, import_at

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_tiers_api_cli_and_member_page(program: Program, client: TestClient, tmp_path: Path) -> None:
    with transaction(program.engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=program.workspace.id, name="tests")
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "zh-TW"}
    base = "/api/v1/loyalty"
    no_tiers = client.get(f"{base}/members/C001/tier", headers=headers)
    assert (no_tiers.status_code, no_tiers.json()["error"]["code"]) == (404, "loyalty.no_tiers")
    unnamed = {**TIERS, "tiers": [{**TIERS["tiers"][0], "names": {"en": "Member"}}, *TIERS["tiers"][1:]]}
    refused = client.post(f"{base}/tiers", headers=headers, json=unnamed)
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "loyalty.tier_names")
    assert "「member」" in refused.json()["error"]["message"]
    malformed = client.post(f"{base}/tiers", headers=headers, json={**TIERS, "window_months": "a year"})
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "loyalty.invalid_tiers")
    created = client.post(f"{base}/tiers", headers=headers, json=TIERS)
    assert created.status_code == 201 and [t["name"] for t in created.json()["tiers"]] == [
        "一般會員",
        "高級會員",
        "VIP",
    ]
    import_at(
        program, "2026-11-01T10:00:00+08:00", [coffee("O1", "C001", "2026-10-31T10:00:00+08:00", 40)], "o.csv"
    )
    tier = client.get(f"{base}/members/C001/tier", headers=headers).json()
    assert (tier["tier"]["code"], tier["qualifying"], tier["to_next"]) == ("premium", "10020.00", "19980.00")
    assert client.get(f"{base}/members/C999/tier", headers=headers).status_code == 404
    assert client.post(f"{base}/tiers/review", headers=headers).json()["members"] in (0, 1)
    link = client.post(f"{base}/members/C001/link", headers=headers).json()
    assert link["url"].endswith("/m/" + link["token"])

    # The member's page: no login, three languages; a tampered link is a friendly 404 page.
    page = client.get(f"/m/{link['token']}?lang=zh-Hant")
    assert page.status_code == 200 and "高級會員" in page.text and "<script" not in page.text
    assert "再消費" in page.text and "VIP" in page.text  # progress to the next tier
    assert "Spend" in client.get(f"/m/{link['token']}?lang=en").text
    assert "高级会员" in client.get(f"/m/{link['token']}?lang=zh-Hans").text
    tampered = client.get(f"/m/{link['token'][:-2]}xx?lang=en")
    assert tampered.status_code == 404 and "member link is not valid" in tampered.text

    ws = ["--workspace", program.workspace.slug, "--lang", "en"]
    tiers_file = tmp_path / "tiers.yaml"
    tiers_file.write_text(
        yaml.safe_dump({**TIERS, "effective_from": "2027-01-01T00:00:00+08:00"}), encoding="utf-8"
    )
    added = runner.invoke(app, ["loyalty", "tiers", "add", str(tiers_file), *ws])
    assert added.exit_code == 0 and "Tier version 2 added" in added.output
    tiers_file.write_text("tiers: [\n", encoding="utf-8")
    broken = runner.invoke(app, ["loyalty", "tiers", "add", str(tiers_file), *ws])
    assert broken.exit_code == 2 and "Cannot read the tiers" in broken.output
    listed = runner.invoke(app, ["loyalty", "tiers", "list", *ws])
    assert listed.exit_code == 0 and "Premium" in listed.output
    shown = runner.invoke(app, ["loyalty", "tiers", "show", "C001", *ws])
    assert (
        shown.exit_code == 0
        and "C001: Premium" in shown.output
        and "19980.00 TWD more to reach VIP" in shown.output
    )
    unknown = runner.invoke(app, ["loyalty", "tiers", "show", "C999", "--workspace", program.workspace.slug,
                                  "--lang", "zh-Hant"])  # fmt: skip
    assert unknown.exit_code == 2 and len(unknown.output.strip().splitlines()) == 1
    assert runner.invoke(app, ["loyalty", "tiers", "review", *ws]).exit_code == 0
    assert runner.invoke(app, ["loyalty", "birthday", *ws]).exit_code == 0
    minted = runner.invoke(app, ["loyalty", "link", "C001", *ws])
    assert minted.exit_code == 0 and link["url"] in minted.output
