"""Wrong tokens at the operator's page are limited per client address, through the transport's own
ASGI app: a few a minute, then 429 with Retry-After and a sentence saying so (the right token too,
for that minute and from that address only); a right sign-in forgets the count, and a flood from
many addresses is remembered within bounds. Wrong tries are logged with their address, never with
the token tried."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from ameyo_mcp.server.http import http_app
from ameyo_mcp.server.page import app as page_app
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
    monkeypatch.setattr(page_app, "monotonic", clock, raising=False)
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
    monkeypatch.setattr(page_app, "WRONG_ADDRESSES", 8, raising=False)
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
