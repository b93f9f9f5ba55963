"""The operator's page in a real browser: Debian's chromium, driven by Playwright, against a real
server process whose Ameyo is the simulator in a process of its own, its dialer pushing calls.

Skipped where chromium or Playwright is missing, unless AMEYO_REQUIRE_BROWSER is set (CI sets it:
there it runs or fails). Screenshots are kept in tests/output/ (git-ignored), CI's artifacts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.conftest import free_port, http_process, listening, text_of
from tests.test_transports import clean_env

pytestmark = [pytest.mark.slow, pytest.mark.network, pytest.mark.anyio]

CHROMIUM = Path(os.environ.get("AMEYO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).parent / "output"
TOKEN = "browser-t0ken-0123456789abcdef"
PUSH_TOKEN = "browser-push-t0ken-0123456789"
SIM_PASSWORD = "simulated-pw-for-the-page"
HOSTILE = '<img src=x id=injected onerror="document.title=`owned`">'
WAIT_MS = 20_000


def browser_or_skip() -> Any:
    """Playwright's async API, or a skip (a failure with AMEYO_REQUIRE_BROWSER) saying what is missing."""
    reason = None
    try:
        from playwright import async_api
    except ImportError:
        reason = "Playwright is not installed (pip install -e '.[browser]')"
    else:
        if not CHROMIUM.exists():
            reason = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("AMEYO_REQUIRE_BROWSER"):
            pytest.fail(f"{reason}, and AMEYO_REQUIRE_BROWSER is set")
        pytest.skip(reason)
    return async_api


@contextmanager
def simulator_process(tmp_path: Path, port: int, push_url: str) -> Iterator[None]:
    """`ameyo-mcp simulator` on `port`, dialling a call every two seconds, pushing each outcome to
    `push_url`."""
    log = (tmp_path / "simulator.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ameyo_mcp", "simulator", "--port", str(port), "--password", SIM_PASSWORD,
         "--push-url", push_url, "--push-rate", "0.5"],
        env=clean_env(tmp_path),
        cwd=str(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )  # fmt: skip
    try:
        listening(port, proc, (tmp_path / "simulator.log").read_text)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


async def mcp_calls(url: str) -> None:
    """What a model would do: look at the campaigns (the server logs in) and upload a contact."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        listed = await client.call_tool("ameyo_list_campaigns", {})
        assert not listed.is_error, text_of(listed)
        uploaded = await client.call_tool(
            "ameyo_upload_contacts",
            {"campaign": 1, "lead_id": 21, "records": [{"phone1": "9123499002", "name": "Browser Test"}]},
        )
        assert not uploaded.is_error, text_of(uploaded)


def garbled(url: str) -> None:
    """A request that is not HTTP: the server's log warns of it, and the page lists the warning."""
    address = url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    with socket.create_connection((address[0], int(address[1])), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")


async def test_the_page_in_a_browser_shows_each_section_and_follows_the_pushes(tmp_path: Path) -> None:
    playwright = browser_or_skip()
    OUTPUT.mkdir(exist_ok=True)
    ameyo_port = free_port()
    env = clean_env(tmp_path) | {
        "AMEYO_BASE_URL": f"http://127.0.0.1:{ameyo_port}",
        "AMEYO_USER_ID": "CustomerManager",
        "AMEYO_PASSWORD": SIM_PASSWORD,
        "AMEYO_TIMEZONE": "Asia/Kolkata",
        "AMEYO_SESSION_FILE": "none",
        "AMEYO_DATABASE_URL": str(tmp_path / "index.db"),
        "AMEYO_AUDIT_FILE": str(tmp_path / "audit.jsonl"),
        "AMEYO_HTTP_TOKEN": TOKEN,
        "AMEYO_PUSH_TOKEN": PUSH_TOKEN,
        "AMEYO_SYNC_INTERVAL_S": "3",  # the background sync indexes the campaigns 3 s after start
    }
    # The server first (it contacts Ameyo only when asked), then the simulator dialling it.
    with http_process(env, tmp_path) as (mcp_url, server):
        base = mcp_url.removesuffix("/mcp")
        with simulator_process(tmp_path, ameyo_port, f"{base}/ameyo/status?token={PUSH_TOKEN}"):
            # Refused without the token, at the HTTP level.
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                assert (await http.get("/")).status_code == 401
                assert (await http.get("/operator/status")).status_code == 401
            await mcp_calls(mcp_url)
            garbled(mcp_url)
            await drive(playwright, base)
        server.terminate()
        server.wait(timeout=10)
        logged = server.stderr.read().decode() if server.stderr else ""
    assert TOKEN not in logged and PUSH_TOKEN not in logged


async def drive(playwright: Any, base: str) -> None:
    async with playwright.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            await signed_in_page(browser, base)
            for scheme, viewport, name in (
                ("dark", {"width": 1280, "height": 900}, "dark"),
                ("light", {"width": 390, "height": 844}, "phone"),
            ):
                context = await browser.new_context(color_scheme=scheme, viewport=viewport)
                page = await context.new_page()
                await sign_in(page, base)
                await page.locator("#pushes svg.chart").first.wait_for(timeout=WAIT_MS)
                await page.screenshot(path=str(OUTPUT / f"operator-page-{name}.png"), full_page=True)
                await context.close()
        finally:
            await browser.close()


async def sign_in(page: Any, base: str) -> None:
    await page.goto(base + "/")
    await page.fill("#token", TOKEN)
    await page.click("form button[type=submit]")
    await page.locator("#push-count").wait_for(timeout=WAIT_MS)


async def signed_in_page(browser: Any, base: str) -> None:
    context = await browser.new_context(color_scheme="light", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    refused = await page.goto(base + "/")
    assert refused is not None and refused.status == 401
    assert await page.locator("#token").is_visible()
    assert (await page.request.get(base + "/operator/status")).status == 401
    problems.clear()  # the refusal itself is logged by the browser as a failed load
    await page.fill("#token", "not-the-token-at-all")
    await page.click("form button[type=submit]")
    await page.get_by_role("alert").filter(has_text="not this server's token").wait_for(timeout=WAIT_MS)
    problems.clear()
    await page.fill("#token", TOKEN)
    await page.click("form button[type=submit]")
    cookies = await page.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
        ("ameyo_operator", True, "Strict")
    ]
    assert TOKEN not in cookies[0]["value"]

    # Each section, as the server, its store and the simulator's dialer fill it.
    server = page.locator("#server")
    await server.get_by_text("streamable HTTP").wait_for(timeout=WAIT_MS)
    assert "reads and writes" in await server.inner_text()
    ameyo = page.locator("#ameyo")
    await ameyo.get_by_text("CustomerManager").wait_for(timeout=WAIT_MS)
    assert "1, shared by 1 process" in await ameyo.inner_text()
    index = page.locator("#index")
    await index.get_by_text("MoviStarSurvey (1)").wait_for(timeout=WAIT_MS)
    writes = page.locator("#writes")
    await writes.get_by_role("cell", name="upload", exact=True).wait_for(timeout=WAIT_MS)
    assert "No write has an unknown outcome." in await writes.inner_text()
    await page.locator("#errors").get_by_text("Invalid HTTP request received.").wait_for(timeout=WAIT_MS)
    pushes = page.locator("#pushes")
    await pushes.locator("svg.chart").first.wait_for(timeout=WAIT_MS)
    assert await pushes.locator("svg.chart").count() == 2
    assert await pushes.locator("svg.chart rect").count() >= 2
    calls = pushes.locator(".customer-data tbody tr")
    assert await calls.count() >= 1

    # Pushes arrive (the dialer's, and one whose customer name is markup): the page shows them
    # without being reloaded, the name as text, made safe as tool answers make it, never run.
    before = int((await page.locator("#push-count").inner_text()).replace(",", ""))
    now = datetime.now(ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%d %H:%M:%S")
    hostile = {"callId": "hostile-1", "customerId": "12458", "callStartTime": now, "name": HOSTILE}
    async with httpx.AsyncClient(timeout=10) as http:
        stored = await http.post(f"{base}/ameyo/status?token={PUSH_TOKEN}", data=hostile)
        assert stored.status_code == 200, stored.text
    await page.wait_for_function(
        "n => Number(document.getElementById('push-count').textContent.replace(/,/g, '')) > n",
        arg=before,
        timeout=WAIT_MS,
    )
    await calls.filter(has_text="‹img src=x id=injected").wait_for(timeout=WAIT_MS)
    assert await page.locator("#injected").count() == 0 and await page.title() != "owned"
    assert page.url == base + "/"
    await page.screenshot(path=str(OUTPUT / "operator-page-light.png"), full_page=True)
    # Keyboard: the skip link comes first, and the pause button is reached and worked by keys.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "pause"
    await page.keyboard.press("Enter")
    assert await page.locator("#pause").get_attribute("aria-pressed") == "true"
    assert problems == [], problems
    await context.close()
