"""Signing out of the operator's page revokes its cookie on the server, for every replica on the
store: a copy of the cookie (kept from a shared machine, a backup, a proxy's log) is refused after
the sign-out, not for the rest of its 12 hours. Through the transport's own ASGI app, two of them
(two replicas) on one SQLite file or one PostgreSQL database; and with the store out of reach, a
cookie is refused rather than taken unchecked."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

import httpx
import pytest

from ameyo_mcp.server.http import http_app
from ameyo_mcp.server.page.app import COOKIE
from tests.conftest import Simulator, server_of, settings_for

TOKEN = "page-t0ken-0123456789abcdef"
BASE = "http://127.0.0.1:8000"

pytestmark = pytest.mark.anyio


def replica(simulator: Simulator, tmp_path: Path, database: str) -> httpx.AsyncClient:
    settings = settings_for(simulator, tmp_path, AMEYO_HTTP_TOKEN=TOKEN, AMEYO_DATABASE_URL=database)
    app = http_app(server_of(simulator, settings), settings, "127.0.0.1", 8000)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def sign_in(http: httpx.AsyncClient) -> str:
    answer = await http.post("/operator/sign-in", data={"token": TOKEN})
    assert answer.status_code == 303, answer.text
    found = re.match(rf"{COOKIE}=([^;]*)", answer.headers["set-cookie"])
    assert found
    http.cookies.clear()  # each request below names its cookie itself
    return found.group(1)


async def page(http: httpx.AsyncClient, cookie: str, path: str = "/") -> httpx.Response:
    return await http.get(path, headers={"Cookie": f"{COOKIE}={cookie}"})


def stored_rows(database: str) -> list[tuple[object, ...]]:
    if database.startswith("postgresql"):
        import psycopg

        with psycopg.connect(database) as conn:
            return list(conn.execute("SELECT * FROM page_sign_outs").fetchall())
    with sqlite3.connect(database) as conn:
        return list(conn.execute("SELECT * FROM page_sign_outs").fetchall())


async def test_a_signed_out_cookie_is_refused_by_every_replica_on_the_store(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    async with (
        replica(simulator, tmp_path, database_url) as one,
        replica(simulator, tmp_path, database_url) as two,
    ):
        cookie, other = await sign_in(one), await sign_in(two)
        for http in (one, two):
            assert (await page(http, cookie)).status_code == 200
            assert (await page(http, cookie, "/operator/status")).status_code == 200

        out = await one.post("/operator/sign-out", headers={"Cookie": f"{COOKIE}={cookie}"})
        assert out.status_code == 303 and "max-age=0" in out.headers["set-cookie"].lower()
        for http in (one, two):  # the copy is refused by both replicas, as the browser forgot it
            refused = await page(http, cookie)
            assert refused.status_code == 401 and 'action="/operator/sign-in"' in refused.text
            assert (await page(http, cookie, "/operator/status")).status_code == 401
            # Another browser's sign-in, and the bearer header, are not touched by it.
            assert (await page(http, other)).status_code == 200
            bearer = await http.get("/operator/status", headers={"Authorization": f"Bearer {TOKEN}"})
            assert bearer.status_code == 200

        # A sign-out of a cookie the server never signed records nothing: strangers cannot fill the store.
        forged = cookie.rsplit(".", 1)[0] + "." + "0123456789abcdef" * 4
        stranger = await two.post("/operator/sign-out", headers={"Cookie": f"{COOKIE}={forged}"})
        assert stranger.status_code == 303
        rows = stored_rows(database_url)
        assert len(rows) == 1
        # Only a digest of the cookie's id, and its expiry: never the token, the cookie or its parts.
        expires, cookie_id, signature = cookie.split(".")[1:]
        assert float(rows[0][1]) == float(expires)
        for secret in (TOKEN, cookie, cookie_id, signature):
            assert secret not in repr(rows)


async def test_without_its_store_a_cookie_is_refused_and_a_sign_out_is_kept_until_it_is_back(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the store's folder should be")
    database = str(blocker / "index.db")
    async with replica(simulator, tmp_path, database) as one, replica(simulator, tmp_path, database) as two:
        cookie = await sign_in(one)
        for path, kind in (("/", "text/plain"), ("/operator/status", "application/json")):
            refused = await page(one, cookie, path)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "30"
            assert refused.headers["content-type"].startswith(kind)
            assert "store cannot be reached" in refused.text and "Today's pushes" not in refused.text
        # The token itself needs no store.
        assert (await one.get("/", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200

        out = await one.post("/operator/sign-out", headers={"Cookie": f"{COOKIE}={cookie}"})
        assert out.status_code == 503 and "max-age=0" in out.headers["set-cookie"].lower()
        assert "could not record the sign-out" in out.text and "AMEYO_HTTP_TOKEN" in out.text
        assert (await page(one, cookie)).status_code == 401  # this process refuses it at once

        blocker.unlink()  # the store is back
        fresh = await sign_in(one)
        assert (await page(one, fresh)).status_code == 200  # this check records the sign-out kept
        assert (await page(two, cookie)).status_code == 401
        assert (await page(two, fresh)).status_code == 200
    for secret in (TOKEN, cookie, fresh):
        assert secret not in caplog.text
    assert "could not be recorded in the store" in caplog.text
