"""The operator's page over HTTP (through the transport's own ASGI app): refused without the token,
a browser signed in by a cookie that never holds the token, and each section of its JSON read from
a real store after real pushes and writes. The page in a real browser: test_operator_browser.py."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from ameyo_mcp.config import Settings
from ameyo_mcp.health import Drain
from ameyo_mcp.index.sync import sync_campaign
from ameyo_mcp.logs import RECENT_ERRORS, stderr_handler
from ameyo_mcp.server.http import http_app
from ameyo_mcp.server.http_access import TokenCheck
from ameyo_mcp.server.page import receiver_page
from ameyo_mcp.server.page.app import COOKIE
from ameyo_mcp.store import Store
from tests.conftest import Simulator, ameyo_of, server_of, settings_for, text_of

TOKEN = "page-t0ken-0123456789abcdef"
PUSH_TOKEN = "push-t0ken-0123456789abcdef"
BASE = "http://127.0.0.1:8000"
HOSTILE = "<img src=x onerror=alert(1)>\u202eevil"

pytestmark = pytest.mark.anyio


@dataclass
class Served:
    http: httpx.AsyncClient
    mcp: Client
    settings: Settings
    simulator: Simulator


@pytest.fixture
async def served(simulator: Simulator, tmp_path: Path) -> AsyncIterator[Served]:
    settings = settings_for(simulator, tmp_path, AMEYO_HTTP_TOKEN=TOKEN, AMEYO_PUSH_TOKEN=PUSH_TOKEN)
    server = server_of(simulator, settings)
    transport = httpx.ASGITransport(app=http_app(server, settings, "127.0.0.1", 8000))
    async with Client(server) as mcp, httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield Served(http, mcp, settings, simulator)


def cookie_of(answer: httpx.Response) -> str:
    found = re.match(rf"{COOKIE}=([^;]*)", answer.headers["set-cookie"])
    assert found, answer.headers["set-cookie"]
    return found.group(1)


async def test_the_page_is_refused_without_the_token_and_a_browser_signs_in_once_for_a_cookie(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http = served.http
    answers: list[httpx.Response] = []

    async def ask(method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = await http.request(method, path, **kwargs)
        answers.append(answer)
        return answer

    refused = await ask("GET", "/")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert 'action="/operator/sign-in"' in refused.text and "Today's pushes" not in refused.text
    for headers in (
        {},
        {"Authorization": "Bearer not-the-token-at-all"},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        assert (await ask("GET", "/operator/status", headers=headers)).status_code == 401
    assert (await ask("POST", "/mcp", json={})).status_code == 401  # /mcp still wants its bearer header
    # The script and style sheet hold nothing of the server's: the sign-in form needs them.
    script = await ask("GET", "/operator/page.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "default-src 'none'" in script.headers["content-security-policy"]
    icon = await ask("GET", "/operator/icon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"

    wrong = await ask("POST", "/operator/sign-in", data={"token": "not-the-token-at-all"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers and "not this server" in wrong.text
    signed = await ask("POST", "/operator/sign-in", data={"token": TOKEN})
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    flags = [f.strip().lower() for f in signed.headers["set-cookie"].split(";")[1:]]
    assert {"httponly", "samesite=strict", "path=/", "max-age=43200"} <= set(flags)
    cookie = cookie_of(signed)
    assert TOKEN not in cookie and len(cookie) > 40

    http.cookies.clear()
    with_cookie = {"Cookie": f"{COOKIE}={cookie}"}
    page = await ask("GET", "/", headers=with_cookie)
    assert page.status_code == 200 and "Today's pushes" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
    assert (await ask("GET", "/operator/status", headers=with_cookie)).status_code == 200
    bearer = await ask("GET", "/operator/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200 and bearer.json()["server"]["transport"] == "streamable HTTP"

    # A cookie that is not the one signed: refused.
    expires, cookie_id, signature = cookie.split(".")[1:]
    for forged in (
        f"v2.{int(expires) + 3600}.{cookie_id}.{signature}",
        f"v2.{expires}.{cookie_id[:-1]}{'A' if cookie_id[-1] != 'A' else 'B'}.{signature}",
        f"v2.{expires}.{cookie_id}.{signature[:-1]}{'0' if signature[-1] != '0' else '1'}",
        # A v1 cookie (no id, so no sign-out could revoke it), signed as v1 was:
        f"v1.{expires}.{TokenCheck(TOKEN).sign(f'operator-page:{expires}'.encode()).decode()}",
        TOKEN,
        "",
    ):
        assert (await ask("GET", "/", headers={"Cookie": f"{COOKIE}={forged}"})).status_code == 401
    # Signed as the server signs, the cookie is good until it expires (12 hours), and not after; signed
    # under another token, never.
    ours, other = TokenCheck(TOKEN), TokenCheck("another-t0ken-0123456789")
    for check, at, status in (
        (ours, time.time() + 60, 200),
        (ours, time.time() - 1, 401),
        (other, time.time() + 60, 401),
    ):
        signature = check.sign(f"operator-page:v2:{int(at)}:{cookie_id}".encode()).decode()
        made = f"v2.{int(at)}.{cookie_id}.{signature}"
        assert (
            await ask("GET", "/operator/status", headers={"Cookie": f"{COOKIE}={made}"})
        ).status_code == status

    # Only this server's own pages may post the form (the Host and Origin checks of /mcp).
    foreign = await ask(
        "POST", "/operator/sign-in", data={"token": TOKEN}, headers={"Origin": "http://evil.example"}
    )
    assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
    rebound = await ask(
        "GET", "/operator/status", headers={"Host": "evil.example", "Authorization": f"Bearer {TOKEN}"}
    )
    assert rebound.status_code == 421
    out = await ask("POST", "/operator/sign-out", headers=with_cookie)
    assert out.status_code == 303 and f"{COOKIE}=;" in out.headers["set-cookie"]
    assert "max-age=0" in out.headers["set-cookie"].lower()

    # The token is in no answer, header or log line.
    logging.getLogger("ameyo_mcp.test").warning("a line that quotes the token: %s", TOKEN)
    for answer in answers:
        assert TOKEN not in answer.text and TOKEN not in str(answer.headers)
    assert TOKEN not in caplog.text and "[redacted]" in caplog.text


async def test_without_a_token_the_page_is_open_on_loopback_and_closed_beyond(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    drain = Drain(1.0)
    for host, status in (("127.0.0.1", 200), ("0.0.0.0", 403)):
        app = receiver_page(settings, host, 8000, drain, {})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            page = await http.get("/")
            assert page.status_code == status
            if status == 200:  # without JavaScript it says where the figures are, not "Loading…" alone
                assert "<noscript>" in page.text and 'href="/operator/status"' in page.text
            answer = await http.get("/operator/status")
            assert answer.status_code == status, answer.text
            if status == 403:
                assert "AMEYO_HTTP_TOKEN" in answer.text
            else:
                assert answer.json()["server"]["transport"] == "receiver"
            assert (await http.get("/somewhere-else")).status_code == 404


def pushed(at: datetime, call_id: str, **fields: str) -> dict[str, str]:
    return {
        "callId": call_id,
        "campaignId": "1",
        "customerId": str(12400 + len(call_id)),
        "callStartTime": at.strftime("%Y-%m-%d %H:%M:%S"),
        **fields,
    }


async def test_the_status_tells_each_section_from_the_store(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    http, mcp, settings = served.http, served.mcp, served.settings
    zone = settings.zone
    now = datetime.now(zone)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    earlier = max(midnight, now - timedelta(hours=1, minutes=5))
    pushes = [
        pushed(earlier, "c1", dispositionName="Sale"),
        pushed(max(midnight, now - timedelta(seconds=30)), "c2", systemDisposition="BUSY"),
        pushed(
            max(midnight, now - timedelta(seconds=20)),
            "c3",
            dispositionName="SALE",
            name=HOSTILE,
            phone="9876500001",
        ),
    ]
    for push in pushes:
        stored = await http.post(f"/ameyo/status?token={PUSH_TOKEN}", data=push)
        assert stored.status_code == 200, stored.text
    # The index: a complete pass over campaign 1, as `ameyo-mcp sync` makes it.
    with Store(settings.resolved_database_url()) as store:
        ameyo = ameyo_of(served.simulator, settings)
        try:
            await sync_campaign(ameyo, store, await ameyo.campaign(1))
        finally:
            await ameyo.aclose()
    # Writes: an upload answered, a callback whose answer was lost (unknown), and its repeat refused.
    uploaded = await mcp.call_tool(
        "ameyo_upload_contacts",
        {"campaign": 1, "lead_id": 21, "records": [{"phone1": "9123499001", "name": "Page Test"}]},
    )
    assert not uploaded.is_error, text_of(uploaded)
    faults = served.simulator.state.faults
    faults.commands = {"addCallback"}
    faults.malformed = 1
    callback = {"campaign": 1, "customer_id": 12458, "callback_time": "2031-02-03T11:00:00"}
    lost = await mcp.call_tool("ameyo_add_callback", callback)
    assert lost.is_error and "unknown" in text_of(lost), text_of(lost)
    again = await mcp.call_tool("ameyo_add_callback", callback)
    assert again.is_error and "allow_repeat" in text_of(again)
    # An error the log shows (with the token masked) is listed.
    handler = stderr_handler()
    noisy = logging.getLogger("ameyo_mcp.page_test")
    noisy.addHandler(handler)
    try:
        noisy.error("the page test's own error, quoting %s", TOKEN)
    finally:
        noisy.removeHandler(handler)

    status = (await http.get("/operator/status", headers={"Authorization": f"Bearer {TOKEN}"})).json()

    server = status["server"]
    assert server["ready"] is True and server["checks"] == {"store": True, "ameyo": True}
    assert server["read_only"] is False and server["version"] and server["uptime_s"] >= 0

    ameyo = status["ameyo"]
    assert ameyo["reachable"] is True and ameyo["user"] == settings.user_id
    assert ameyo["seats"] == 1 and ameyo["processes"] >= 1 and ameyo["logged_in"]["ago"] == "just now"

    indexed = {c["id"]: c for c in status["index"]["campaigns"]}
    assert indexed[1]["contacts"] > 100 and indexed[1]["synced"]["ago"] == "just now"
    assert indexed[1]["sync"] is None and indexed[1]["interrupted"] is False

    today = status["today"]
    assert today["pushes"] == 3
    assert today["by_outcome"] == {"Sale": 2, "BUSY": 1}  # "SALE" and "Sale" are one outcome, as in tools
    hours = {h["hour"]: h["counts"] for h in today["by_hour"] if h["counts"]}
    assert sum(sum(c.values()) for c in hours.values()) == 3
    assert hours[f"{now.hour:02d}:00"]["BUSY"] == 1
    assert hours[f"{earlier.hour:02d}:00"].get("Sale", 0) >= 1
    newest = today["last"][0]
    assert newest["outcome"] == "SALE" and newest["phone"] == "9876500001"
    assert newest["name"] == "‹img src=x onerror=alert(1)›evil"  # made inert as tool answers make it
    assert today["writes"]["upload"] == {"answered": 1}
    assert today["writes"]["callback"] == {"unknown": 1}
    assert today["repeats_refused"] >= 1

    unknown = status["unknown"]["writes"]
    assert len(unknown) == 1 and unknown[0]["kind"] == "callback"
    assert "12458" in unknown[0]["what"] and "allow_repeat=true" in unknown[0]["check"]

    mine = [e for e in status["errors"] if "page test's own error" in e["message"]]
    assert mine and TOKEN not in mine[0]["message"] and "[redacted]" in mine[0]["message"]
    assert mine[0]["level"] == "ERROR" and mine[0]["when"]["ago"] == "just now"
    assert any(e.message == mine[0]["message"] for e in RECENT_ERRORS.entries())


async def test_the_page_says_the_calls_dated_after_now_that_todays_count_leaves_out(served: Served) -> None:
    """A call pushed dated two days ahead (a clock or a zone off) is left out of today's count, which
    ameyo://calls/today and the call history say; the page showed "1 call outcome pushed" alone."""
    http, zone = served.http, served.settings.zone
    now = datetime.now(zone)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for push in (
        pushed(max(midnight, now - timedelta(seconds=10)), "c1", systemDisposition="BUSY"),
        pushed(now + timedelta(days=2), "c2", systemDisposition="BUSY"),
    ):
        stored = await http.post(f"/ameyo/status?token={PUSH_TOKEN}", data=push)
        assert stored.status_code == 200, stored.text
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    today = (await http.get("/operator/status", headers=bearer)).json()["today"]
    resource = json.loads((await served.mcp.read_resource("ameyo://calls/today")).contents[0].text)  # type: ignore[union-attr]
    assert today["pushes"] == 1, today
    said = today.get("dated_after_now")
    assert said is not None and said == resource["dated_after_now"], (today, resource)
    assert said["note"].startswith("1 call pushed to this server is dated after now (the latest at"), said
    script = (await http.get("/operator/page.js", headers=bearer)).text
    assert "today.dated_after_now.note" in script


@pytest.mark.network
def test_ameyo_mcp_receiver_serves_the_page_behind_the_http_token(tmp_path: Path) -> None:
    from tests.test_receiver import TOKEN as RECEIVER_PUSH_TOKEN
    from tests.test_receiver import start_receiver

    running = start_receiver(tmp_path, str(tmp_path / "calls.db"), AMEYO_HTTP_TOKEN=TOKEN)
    base = running.url.removesuffix("/ameyo/status")
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            assert http.get("/").status_code == 401
            assert http.get("/operator/status").status_code == 401
            pushed = http.post(
                f"/ameyo/status?token={RECEIVER_PUSH_TOKEN}", data={"callId": "r1", "customerId": "7"}
            )
            assert pushed.status_code == 200, pushed.text
            status = http.get("/operator/status", headers={"Authorization": f"Bearer {TOKEN}"}).json()
            assert http.get("/elsewhere").status_code == 404
    finally:
        running.proc.terminate()
        running.proc.wait(timeout=10)
    assert status["server"]["transport"] == "receiver" and status["server"]["read_only"] is None
    assert status["server"]["checks"] == {"store": True} and status["ameyo"]["reachable"] is None
    assert status["today"]["pushes"] == 1
    assert TOKEN not in running.log.read_text()
    assert "the operator's page at http://127.0.0.1:" in running.log.read_text()
    assert "is closed until" not in running.log.read_text()


@pytest.mark.network
def test_the_receiver_beyond_loopback_without_a_token_says_its_page_is_closed(tmp_path: Path) -> None:
    """It advertised "the operator's page at http://0.0.0.0:…/", which then answered 403."""
    from tests.test_receiver import start_receiver

    running = start_receiver(tmp_path, str(tmp_path / "calls.db"), host="0.0.0.0")
    try:
        with httpx.Client(base_url=running.url.removesuffix("/ameyo/status"), timeout=10) as http:
            assert http.get("/").status_code == 403
    finally:
        running.proc.terminate()
        running.proc.wait(timeout=10)
    said = running.log.read_text()
    assert "is closed until AMEYO_HTTP_TOKEN is set (it listens beyond this machine)" in said, said


@pytest.mark.slow
def test_a_built_wheel_ships_the_page(tmp_path: Path) -> None:
    """`pip install .` (not editable) must serve the page as a checkout does: its files are package data."""
    import subprocess
    import sys
    import zipfile

    from ameyo_mcp.server.page.app import FILES

    root = Path(__file__).parent.parent
    assert all((root / "ameyo_mcp" / "server" / path).is_file() for path in FILES)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "--wheel-dir",
            str(tmp_path),
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("ameyo_mcp-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert {f"ameyo_mcp/server/{path}" for path in FILES} <= shipped
