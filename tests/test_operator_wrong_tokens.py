"""Wrong tokens at the operator's page and at /mcp are limited per client, one count for both,
through the transport's own ASGI app: a few a minute, then 429 with Retry-After and a sentence
saying so (the right token too, for that minute and from that client only; an IPv6 client is its
/64); a right sign-in forgets the count, sign-ins sent together are counted before they are
compared, and a flood from many addresses is remembered within bounds. Wrong tries are logged with
their client, never with the token tried."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ameyo_mcp.server import http_access
from ameyo_mcp.server.http import http_app
from tests.conftest import Simulator, server_of, settings_for

TOKEN = "page-t0ken-0123456789abcdef"
GUESS = "guess-0123456789abcdefghij"
BASE = "http://127.0.0.1:8000"
TRIES = 5  # the wrong tokens an address may send a minute (WRONG_TRIES)

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(http_access, "monotonic", clock)
    return clock


def clients(simulator: Simulator, tmp_path: Path) -> dict[str, httpx.AsyncClient]:
    """Clients of one server, by the address each comes from."""
    settings = settings_for(simulator, tmp_path, AMEYO_HTTP_TOKEN=TOKEN)
    app = http_app(server_of(simulator, settings), settings, "127.0.0.1", 8000)
    return {
        address: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url=BASE
        )
        for address in ("192.0.2.1", "192.0.2.2", *(f"198.51.100.{n}" for n in range(1, 41)))
    }


async def sign_in(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post("/operator/sign-in", data={"token": token})


async def test_a_few_wrong_tokens_a_minute_then_429_from_that_address_only(
    simulator: Simulator, tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    by = clients(simulator, tmp_path)
    one, two = by["192.0.2.1"], by["192.0.2.2"]
    for _ in range(TRIES):
        wrong = await sign_in(one, GUESS)
        assert wrong.status_code == 401 and "not this server" in wrong.text
        clock.now += 1
    for token in (GUESS, TOKEN):  # the right token too: else guessing would go on at full speed
        refused = await sign_in(one, token)
        assert refused.status_code == 429 and "set-cookie" not in refused.headers
        assert refused.headers["retry-after"] == "55"
        assert "Too many wrong tokens from this address: try again in 55 seconds." in refused.text
        assert 'action="/operator/sign-in"' in refused.text  # the form, to try again later
    bearer = await one.get("/operator/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 429 and "Too many wrong tokens" in bearer.json()["error"]
    # Another address is not held back.
    assert (await sign_in(two, TOKEN)).status_code == 303

    clock.now += 55  # the oldest wrong try is a minute old: one more try
    assert (await sign_in(one, GUESS)).status_code == 401
    assert (await sign_in(one, GUESS)).status_code == 429
    clock.now += 1
    assert (await sign_in(one, TOKEN)).status_code == 303
    # A right sign-in forgets the address's wrong tries.
    for _ in range(TRIES):
        assert (await sign_in(one, GUESS)).status_code == 401

    # Wrong bearer headers on the page's paths count as wrong tries too.
    for _ in range(TRIES):
        guessed = await two.get("/operator/status", headers={"Authorization": f"Bearer {GUESS}"})
        assert guessed.status_code == 401
    assert (await sign_in(two, TOKEN)).status_code == 429

    assert "a wrong token in the sign-in form from 192.0.2.1 (5 in the last 60 s; 5 allowed)" in caplog.text
    assert "a wrong token in a bearer header from 192.0.2.2" in caplog.text
    assert GUESS not in caplog.text and TOKEN not in caplog.text
    for http in by.values():
        await http.aclose()


async def test_wrong_tries_are_remembered_for_so_many_addresses_at_most(
    simulator: Simulator, tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_access, "WRONG_ADDRESSES", 8)
    by = clients(simulator, tmp_path)
    first = by["192.0.2.1"]
    for _ in range(TRIES):
        await sign_in(first, GUESS)
    assert (await sign_in(first, TOKEN)).status_code == 429
    for address, http in by.items():
        if address.startswith("198.51.100."):
            assert (await sign_in(http, GUESS)).status_code == 401
    # The address tried longest ago was let go to keep the table at its bound: it may try again.
    assert (await sign_in(first, TOKEN)).status_code == 303
    for http in by.values():
        await http.aclose()


def app_of(simulator: Simulator, tmp_path: Path) -> Any:
    settings = settings_for(simulator, tmp_path, AMEYO_HTTP_TOKEN=TOKEN)
    return http_app(server_of(simulator, settings), settings, "127.0.0.1", 8000)


async def test_sign_ins_sent_together_are_counted_before_their_tokens_are_compared(
    simulator: Simulator, tmp_path: Path
) -> None:
    """A guesser opens many sign-in requests, sends their headers, and only then their bodies: 5 of
    the 30 tokens are compared, and the right one, the 30th, is refused with the rest."""
    app = app_of(simulator, tmp_path)
    n = 30
    go = anyio.Event()
    statuses: list[int] = []

    async def one(token: str) -> None:
        body = f"token={token}".encode()
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await anyio.sleep_forever()
            await go.wait()  # the body arrives once every request's headers are in
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/operator/sign-in",
            "raw_path": b"/operator/sign-in",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1:8000"),
                (b"content-type", b"application/x-www-form-urlencoded"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("203.0.113.9", 40000),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)

    async with anyio.create_task_group() as tg:
        for i in range(n - 1):
            tg.start_soon(one, f"{GUESS}{i}")
        tg.start_soon(one, TOKEN)  # the guesser's lucky guess, the 30th in a second
        await anyio.sleep(0.2)
        go.set()
    compared = [s for s in statuses if s != 429]
    # 5 wrong tries may be compared; every further one must be held back (429), the right one too.
    assert len(compared) <= 5, f"{len(compared)} of {n} tokens compared from one address: {sorted(statuses)}"
    assert 303 not in statuses


async def test_a_client_held_back_at_the_page_is_held_back_at_mcp(
    simulator: Simulator, tmp_path: Path
) -> None:
    """/mcp compares the same token as the page: a client held back at one is held back at the
    other, and its wrong bearer headers at /mcp count as well."""
    app = app_of(simulator, tmp_path)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 40000)), base_url=BASE
    ) as http:
        for _ in range(5):
            assert (await http.post("/operator/sign-in", data={"token": GUESS})).status_code == 401
        assert (await http.post("/operator/sign-in", data={"token": TOKEN})).status_code == 429
        answers = []
        for i in range(50):
            guessed = await http.post(
                "/mcp",
                headers={"Authorization": f"Bearer {GUESS}{i}"},
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            )
            answers.append(guessed.status_code)
        assert set(answers) == {429}, f"50 more guesses at /mcp from the held address: {set(answers)}"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("203.0.113.10", 40000)), base_url=BASE
    ) as other:
        for i in range(TRIES):
            guessed = await other.post("/mcp", headers={"Authorization": f"Bearer {GUESS}{i}"}, json={})
            assert guessed.status_code == 401
        assert (await other.post("/operator/sign-in", data={"token": TOKEN})).status_code == 429


async def test_an_ipv6_host_is_counted_by_its_64(simulator: Simulator, tmp_path: Path) -> None:
    """A host on IPv6 usually holds a whole /64: counted address by address, it would get 5 more
    tries from each."""
    app = app_of(simulator, tmp_path)
    statuses = []
    for n in range(1, 61):
        address = f"2001:db8:1:2::{n:x}"
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url=BASE
        ) as http:
            statuses.append((await http.post("/operator/sign-in", data={"token": f"{GUESS}{n}"})).status_code)
    assert statuses.count(401) <= 5, f"{statuses.count(401)} tokens compared from one /64 in a minute"


def test_a_client_is_its_ipv4_address_its_ipv6_64_or_the_ipv4_client_a_gateway_names() -> None:
    keys = {
        host: http_access.client_key({"client": (host, 40000)})
        for host in ("192.0.2.7", "::ffff:192.0.2.7", "64:ff9b::c000:207", "2001:db8:1:2::9", "::1")
    }
    assert keys == {
        "192.0.2.7": "192.0.2.7",
        "::ffff:192.0.2.7": "192.0.2.7",
        "64:ff9b::c000:207": "192.0.2.7",  # NAT64: each IPv4 client apart, not one /64 for them all
        "2001:db8:1:2::9": "2001:db8:1:2::/64",
        "::1": "::1",
    }
    assert http_access.client_key({"client": None}) == "an unknown address"
