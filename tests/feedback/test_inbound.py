"""The signed inbound webhook on SQLite and PostgreSQL, through the real server paths: sources managed by the API
and ``patron feedback inbound``, signed deliveries stored once and matched by social listening, every refusal
named and storing nothing, the body bounded before it is read, and the documented signature computations."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.cli import app
from patron.core import service as core_service
from patron.core.clock import utcnow
from patron.core.db import transaction
from patron.core.errors import PatronError
from patron.core.models import Workspace
from patron.core.settings import get_settings
from patron.feedback import inbound
from patron.feedback.models import FeedbackItem
from patron.web.app import create_app
from tests.factories import make_workspace
from tests.web.test_hostile_uploads import _call

runner = CliRunner(env={"LANG": "en_US.UTF-8", "LC_ALL": None, "LC_MESSAGES": None})
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def shop(engine: Engine) -> tuple[Workspace, dict[str, str]]:
    workspace = make_workspace(engine)
    with transaction(engine) as session:
        _, key = core_service.create_api_key(session, workspace_id=workspace.id, name="tests")
    return workspace, {"Authorization": f"Bearer {key}"}


def _now() -> int:
    return int(utcnow().timestamp())


def _post(n: int, text: str, **more: Any) -> dict[str, Any]:
    return {"source_id": f"post-{n}", "text": text, "occurred_at": "2026-11-23T04:00:00Z", **more}


def _deliver(
    client: TestClient,
    path: str,
    payload: Any,
    secret: str,
    *,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    signed = inbound.sign(secret, _now() if timestamp is None else timestamp, body)
    return client.post(path, content=body, headers={"Content-Type": "application/json",
                                                     "X-Patron-Signature": signed, **(headers or {})})  # fmt: skip


def _items(engine: Engine, workspace: Workspace) -> int:
    with transaction(engine) as session:
        counted: int = session.scalar(
            select(func.count()).select_from(FeedbackItem).where(FeedbackItem.workspace_id == workspace.id)
        )
    return counted


def test_signed_deliveries_are_stored_once_and_matched_by_social_listening(
    engine: Engine, client: TestClient, shop: tuple[Workspace, dict[str, str]]
) -> None:
    workspace, headers = shop
    assert client.post("/api/v1/social/terms", headers=headers, json={"term": "鼎泰豐"}).status_code == 201
    added = client.post("/api/v1/feedback/inbound", headers=headers, json={"name": "Brandwatch"})
    assert added.status_code == 201, added.text
    source = added.json()
    assert source["channel"] == "social" and source["secret"].startswith("whin_") and source["active"]
    assert source["path"] == f"/api/v1/feedback/inbound/{source['public_id']}"
    listed = client.get("/api/v1/feedback/inbound", headers=headers).json()
    assert [s["public_id"] for s in listed] == [source["public_id"]] and "secret" not in listed[0]
    assert listed[0]["received_at"] is None

    batch = {"items": [_post(1, "鼎泰丰的小笼包很好吃"), _post(2, "星巴克排隊好久", channel="review")]}
    first = _deliver(client, source["path"], batch, source["secret"])
    assert first.status_code == 200, first.text
    assert (first.json()["stored"], first.json()["duplicates"]) == (2, 0)
    # The sender did not hear the answer and sends the same delivery again, signed anew: nothing stored twice.
    again = _deliver(client, source["path"], batch, source["secret"])
    assert (again.status_code, again.json()["stored"], again.json()["duplicates"]) == (200, 0, 2)
    assert [i["id"] for i in again.json()["items"]] == [i["id"] for i in first.json()["items"]]
    one = _deliver(client, source["path"], _post(3, "鼎泰豐 還是一樣好", source="threads"), source["secret"])
    assert (one.status_code, one.json()["stored"]) == (200, 1)
    assert _items(engine, workspace) == 3
    with transaction(engine) as session:
        stored = session.execute(
            select(FeedbackItem.source_id, FeedbackItem.channel, FeedbackItem.source)
            .where(FeedbackItem.workspace_id == workspace.id)
            .order_by(FeedbackItem.source_id)
        ).all()
    assert [tuple(row) for row in stored] == [
        ("post-1", "social", "Brandwatch"),  # the source's channel and name unless the item gives its own
        ("post-2", "review", "Brandwatch"),
        ("post-3", "social", "threads"),
    ]
    terms = client.get("/api/v1/social/terms", headers=headers).json()
    assert [(t["term"], t["mentions"]) for t in terms] == [("鼎泰豐", 2)]
    mentions = client.get("/api/v1/social/mentions?since=2026-11-23", headers=headers).json()
    assert [(d["day"], d["mentions"]) for d in mentions] == [("2026-11-23", 2)]
    assert client.get("/api/v1/feedback/inbound", headers=headers).json()[0]["received_at"] is not None
    # Within the tolerance either way is accepted.
    early = _deliver(client, source["path"], _post(4, "ok"), source["secret"], timestamp=_now() - 280)
    late = _deliver(client, source["path"], _post(5, "ok"), source["secret"], timestamp=_now() + 290)
    assert (early.status_code, late.status_code) == (200, 200)


def test_every_refusal_is_named_in_three_languages_and_stores_nothing(
    engine: Engine, client: TestClient, shop: tuple[Workspace, dict[str, str]]
) -> None:
    workspace, headers = shop
    source = client.post("/api/v1/feedback/inbound", headers=headers, json={"name": "Zapier"}).json()
    path, secret = source["path"], source["secret"]
    item = _post(1, "鼎泰豐")
    body = json.dumps(item).encode()
    now = _now()
    refused = {
        "no header": client.post(path, content=body, headers={"Content-Type": "application/json"}),
        "malformed": client.post(path, content=body, headers={"X-Patron-Signature": "sha256=abc"}),
        "an API key instead": client.post(path, content=body, headers=headers),
        "other secret": _deliver(client, path, item, "whin_not-the-secret"),
        "body changed": client.post(
            path,
            content=body.replace(b"1", b"2"),
            headers={"X-Patron-Signature": inbound.sign(secret, now, body)},
        ),
        # Times read when each is sent, with a margin: the server reads its clock a moment later.
        "stale": _deliver(client, path, item, secret, timestamp=_now() - 310),
        "future": _deliver(client, path, item, secret, timestamp=_now() + 310),
        "unknown source": _deliver(client, "/api/v1/feedback/inbound/in_nosuchsource0000", item, secret),
        "bad shape": _deliver(client, path, {"items": []}, secret),
        "not JSON": _deliver(client, path, b"{not json", secret),
    }
    codes = {name: (r.status_code, r.json()["error"]["code"]) for name, r in refused.items()}
    assert codes == {
        "no header": (401, "inbound.signature_missing"),
        "malformed": (401, "inbound.signature_missing"),
        "an API key instead": (401, "inbound.signature_missing"),
        "other secret": (401, "inbound.bad_signature"),
        "body changed": (401, "inbound.bad_signature"),
        "stale": (401, "inbound.stale_timestamp"),
        "future": (401, "inbound.future_timestamp"),
        "unknown source": (404, "inbound.not_found"),
        "bad shape": (422, "request.invalid"),
        "not JSON": (422, "request.invalid"),
    }
    stale = _deliver(client, path, item, secret, timestamp=_now() - 400, headers={"Accept-Language": "zh-TW"})
    # The server reads its clock a moment later than the test: 400 or 401 seconds old, 400 or 399 ahead.
    assert re.fullmatch(r"簽章時間已過 40[01] 秒，超過容許的 300 秒：.*。", stale.json()["error"]["message"])
    future = _deliver(
        client, path, item, secret, timestamp=_now() + 400, headers={"Accept-Language": "zh-CN"}
    )
    assert re.fullmatch(
        r"签名时间比服务器快 (400|399) 秒，超过允许的 300 秒：请检查发送端的时钟。",
        future.json()["error"]["message"],
    )
    assert "seconds old" in refused["stale"].json()["error"]["message"]
    off = client.post(f"/api/v1/feedback/inbound/{source['public_id']}/disable", headers=headers)
    assert (off.status_code, off.json()["active"], off.json()["disabled_at"] is not None) == (
        200,
        False,
        True,
    )
    disabled = _deliver(client, path, item, secret, headers={"Accept-Language": "zh-TW"})
    assert (disabled.status_code, disabled.json()["error"]["code"]) == (401, "inbound.disabled")
    assert disabled.json()["error"]["message"].startswith("接收來源「Zapier」已停用")
    assert _items(engine, workspace) == 0
    # Managing sources needs the API key, and names its refusals too.
    assert client.post("/api/v1/feedback/inbound", json={"name": "x"}).status_code == 401
    assert client.get("/api/v1/feedback/inbound").status_code == 401
    twice = client.post("/api/v1/feedback/inbound", headers=headers, json={"name": " Zapier "})
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "inbound.name_taken")
    gone = client.post("/api/v1/feedback/inbound/in_nosuchsource0000/rotate", headers=headers)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "inbound.not_found")
    # Another workspace's key cannot manage this workspace's source.
    other = make_workspace(engine)
    with transaction(engine) as session:
        _, other_key = core_service.create_api_key(session, workspace_id=other.id, name="tests")
    stranger = {"Authorization": f"Bearer {other_key}"}
    rotated = client.post(f"/api/v1/feedback/inbound/{source['public_id']}/rotate", headers=stranger)
    assert rotated.status_code == 404


def test_rotation_makes_the_old_secret_fail(
    engine: Engine, client: TestClient, shop: tuple[Workspace, dict[str, str]]
) -> None:
    workspace, headers = shop
    source = client.post(
        "/api/v1/feedback/inbound", headers=headers, json={"name": "Trustpilot", "channel": "review"}
    ).json()
    assert _deliver(client, source["path"], _post(1, "good"), source["secret"]).status_code == 200
    rotated = client.post(f"/api/v1/feedback/inbound/{source['public_id']}/rotate", headers=headers)
    assert rotated.status_code == 200 and rotated.json()["rotated_at"] is not None
    new_secret = rotated.json()["secret"]
    assert new_secret != source["secret"]
    old = _deliver(client, source["path"], _post(2, "old"), source["secret"])
    assert (old.status_code, old.json()["error"]["code"]) == (401, "inbound.bad_signature")
    new = _deliver(client, source["path"], _post(2, "new"), new_secret)
    assert (new.status_code, new.json()["stored"]) == (200, 1)
    # A sender changing over may sign with both: one matching v1 is enough.
    body = json.dumps(_post(3, "both")).encode()
    now = _now()
    both = f"{inbound.sign(source['secret'], now, body)},v1={inbound.sign(new_secret, now, body).split('v1=')[1]}"
    answer = client.post(
        source["path"], content=body, headers={"X-Patron-Signature": both, "Content-Type": "application/json"}
    )
    assert (answer.status_code, answer.json()["stored"]) == (200, 1), answer.text
    with transaction(engine) as session:
        texts = session.scalars(
            select(FeedbackItem.text).where(
                FeedbackItem.workspace_id == workspace.id, FeedbackItem.channel == "review"
            )
        ).all()
    assert sorted(texts) == ["both", "good", "new"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    engine: Engine,
    client: TestClient,
    shop: tuple[Workspace, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workspace, headers = shop
    source = client.post("/api/v1/feedback/inbound", headers=headers, json={"name": "Big"}).json()
    monkeypatch.setattr(get_settings(), "max_body_bytes", 64 * 1024)
    big = (
        [b'{"text": "' + b"x" * (16 * 1024)]
        + [b"x" * (16 * 1024)] * 7
        + [b'", "occurred_at": "2026-11-23T04:00:00Z"}']
    )
    body = b"".join(big)
    signed = {
        "Content-Type": "application/json",
        "X-Patron-Signature": inbound.sign(source["secret"], _now(), body),
    }
    declared = {**signed, "Content-Length": str(len(body))}
    status, answer, asked = _call(source["path"], declared, big)
    assert (status, answer["error"]["code"], asked) == (413, "request.body_too_large", 0)
    # Sent without a length: counted as it comes, refused once past the limit.
    status, answer, asked = _call(source["path"], signed, big)
    assert (status, answer["error"]["code"]) == (
        413,
        "request.body_too_large",
    ) and asked == 4  # 4 × 16 KB + 10 > 64 KB
    # The headers are checked before any byte: unsigned, unknown or disabled, nothing is read.
    for path, sent in (
        (source["path"], {"Content-Type": "application/json"}),
        ("/api/v1/feedback/inbound/in_nosuchsource0000", signed),
    ):
        status, answer, asked = _call(path, sent, big)
        assert status in (401, 404) and asked == 0, answer
    # Within the limit the same route stores it.
    small = json.dumps(_post(1, "small")).encode()
    small_signed = {"Content-Type": "application/json",
                    "X-Patron-Signature": inbound.sign(source["secret"], _now(), small)}  # fmt: skip
    status, answer, _ = _call(source["path"], small_signed, [small[:10], small[10:]])
    assert (status, answer["stored"]) == (200, 1)
    assert _items(engine, workspace) == 1


def test_cli_adds_lists_rotates_and_disables_sources(engine: Engine, client: TestClient) -> None:
    workspace = make_workspace(engine)
    added = runner.invoke(
        app, ["feedback", "inbound", "add", "Brand24", "--channel", "review", "-w", workspace.slug]
    )
    assert added.exit_code == 0, added.output
    url = re.search(r"POSTs to (\S+)", added.output)
    secret = re.search(r"store it now\): (whin_\S+)", added.output)
    assert url and secret, added.output
    public_id = url.group(1).rsplit("/", 1)[1]
    assert url.group(1) == f"{get_settings().base_url()}/api/v1/feedback/inbound/{public_id}"
    assert (
        _deliver(client, f"/api/v1/feedback/inbound/{public_id}", _post(1, "hi"), secret.group(1)).status_code
        == 200
    )
    listed = runner.invoke(app, ["feedback", "inbound", "list", "-w", workspace.slug, "--json"])
    sources = json.loads(listed.output)
    assert [(s["name"], s["channel"], s["active"]) for s in sources] == [("Brand24", "review", True)]
    assert "secret" not in sources[0] and sources[0]["received_at"] is not None
    rotated = runner.invoke(
        app, ["feedback", "inbound", "rotate", public_id, "-w", workspace.slug, "--lang", "zh-Hant"]
    )
    assert rotated.exit_code == 0 and "已為「Brand24」產生新密鑰" in rotated.output
    new_secret = re.search(r"(whin_\S+)", rotated.output)
    assert new_secret and new_secret.group(1) != secret.group(1)
    path = f"/api/v1/feedback/inbound/{public_id}"
    assert _deliver(client, path, _post(2, "old"), secret.group(1)).status_code == 401
    assert _deliver(client, path, _post(2, "new"), new_secret.group(1)).status_code == 200
    off = runner.invoke(
        app, ["feedback", "inbound", "disable", public_id, "-w", workspace.slug, "--lang", "zh-Hans"]
    )
    assert off.exit_code == 0 and "已停用接收来源“Brand24”" in off.output
    assert (
        _deliver(client, path, _post(3, "late"), new_secret.group(1)).json()["error"]["code"]
        == "inbound.disabled"
    )
    table = runner.invoke(app, ["feedback", "inbound", "list", "-w", workspace.slug])
    assert table.exit_code == 0 and "disabled" in table.output and "Brand24" in table.output
    twice = runner.invoke(app, ["feedback", "inbound", "add", "Brand24", "-w", workspace.slug])
    assert twice.exit_code == 2 and "already has an inbound source named Brand24" in twice.output
    missing = runner.invoke(
        app, ["feedback", "inbound", "rotate", "in_nosuchsource0000", "-w", workspace.slug]
    )
    assert missing.exit_code == 2 and "There is no inbound source in_nosuchsource0000." in missing.output
    assert _items(engine, workspace) == 2


def _documented(language: str) -> str:
    text = (ROOT / "docs" / "feedback.md").read_text(encoding="utf-8")
    section = text.split("## Signed inbound webhook", 1)[1].split("\n## ", 1)[0]
    found = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert found, language
    return found.group(1)


def test_the_documented_signature_computations_are_accepted(
    engine: Engine, client: TestClient, shop: tuple[Workspace, dict[str, str]], tmp_path: Path
) -> None:
    workspace, headers = shop
    source = client.post("/api/v1/feedback/inbound", headers=headers, json={"name": "Docs"}).json()
    # The Python: run as written (it signs with the real clock), then its function with the server's.
    namespace: dict[str, Any] = {"SECRET": source["secret"]}
    exec(compile(_documented("python"), "docs/feedback.md", "exec"), namespace)
    body: bytes = namespace["body"]
    assert namespace["headers"]["X-Patron-Signature"].startswith("t=")
    now = _now()
    header = namespace["signature_header"](source["secret"], body, now)
    assert header == inbound.sign(source["secret"], now, body)
    answer = client.post(source["path"], content=body,
                         headers={"Content-Type": "application/json", "X-Patron-Signature": header})  # fmt: skip
    assert (answer.status_code, answer.json()["stored"]) == (200, 1), answer.text
    # The shell: its signing line with openssl, the body from a file, the server's time.
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    shell = _documented("sh")
    signing = next(line for line in shell.splitlines() if line.startswith("SIGNATURE="))
    file_body = json.dumps(_post(7, "鼎泰豐 from the shell"), ensure_ascii=False).encode()
    (tmp_path / "body.json").write_bytes(file_body)
    timestamp = _now()
    script = f'{signing}\nprintf "%s" "$SIGNATURE"'
    computed = subprocess.run(["sh", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True,
                              env={"PATH": "/usr/bin:/bin", "SECRET": source["secret"], "TIMESTAMP": str(timestamp)})  # fmt: skip
    assert computed.stdout == inbound.sign(source["secret"], timestamp, file_body).split("v1=")[1]
    sent = client.post(source["path"], content=file_body, headers={"Content-Type": "application/json",
                       "X-Patron-Signature": f"t={timestamp},v1={computed.stdout}"})  # fmt: skip
    assert (sent.status_code, sent.json()["stored"]) == (200, 1), sent.text
    assert _items(engine, workspace) == 2


def test_two_adds_of_one_name_at_once_the_second_is_told(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = make_workspace(engine)
    with transaction(engine) as session:
        inbound.add_source(session, workspace_id=ws.id, name="vendor", channel="social", actor="test")
    with transaction(engine) as session:
        # The other add committed after this one looked for the name: only the unique key can tell.
        monkeypatch.setattr(session, "scalar", lambda *args, **kwargs: None)
        with pytest.raises(PatronError) as refused:
            inbound.add_source(session, workspace_id=ws.id, name="vendor", channel="review", actor="test")
        assert (refused.value.code, refused.value.status) == ("inbound.name_taken", 409)
        monkeypatch.undo()
        assert [s.channel for s in inbound.list_sources(session, workspace_id=ws.id)] == ["social"]
