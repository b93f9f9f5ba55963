"""Secrets as other programs echo them: Ameyo's error texts quoting the request that carried the
password (form-encoded, inside JSON), a push token under another field's name, a session id in a
write's answer. None of them reaches a tool result, a log line or the store."""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from mcp import Client

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.config import load_settings
from ameyo_mcp.server.app import create_server
from ameyo_mcp.writes.audit import trail_files
from tests.conftest import read_body, server_of, settings_for, text_of, transport_of

pytestmark = pytest.mark.anyio

PASSWORD = 'PW-canary-7731&k="q\\é'


async def echoing_ameyo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An Ameyo that refuses every request with an error quoting it: the raw form body, its JSON
    `data`, and that JSON quoted once more, as Java servers' messages do."""
    body = await read_body(receive)
    data = parse_qs(body.decode()).get("data", [""])[0]
    reason = f"bad request {body.decode()} data={data} quoted={json.dumps(data)}"
    answer = json.dumps({"status": "error", "reason": reason, "details": reason}).encode()
    await send(
        {"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": answer})


async def test_a_password_ameyo_echoes_encoded_is_masked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(
        {
            "AMEYO_BASE_URL": "http://ameyo.test",
            "AMEYO_USER_ID": "CustomerManager",
            "AMEYO_PASSWORD": PASSWORD,
            "AMEYO_TIMEZONE": "Asia/Kolkata",
            "AMEYO_DATABASE_URL": str(tmp_path / "index.db"),
            "AMEYO_AUDIT_FILE": str(tmp_path / "audit.jsonl"),
            "AMEYO_SYNC_INTERVAL_S": "0",
        },
        env_file=None,
    )
    transport = httpx.ASGITransport(app=echoing_ameyo)
    caplog.set_level(logging.DEBUG)
    async with Client(create_server(settings, ameyo_factory=partial(Ameyo, transport=transport))) as client:
        result = await client.call_tool("ameyo_login", {})
    text = text_of(result) + json.dumps(result.structured_content)
    assert result.is_error
    assert "PW-canary" not in text and "PW-canary" not in caplog.text


class EchoingSession(httpx.AsyncBaseTransport):
    """The simulator, whose addCallback answers quote the request's session id in a customer
    field, as a misconfigured Ameyo (or a proxy's error page) may."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs((await request.aread()).decode())
        response = await self.inner.handle_async_request(request)
        if form.get("command") != ["addCallback"]:
            return response
        body = json.loads(await response.aread())
        session = json.loads(form["data"][0])["sessionId"]
        for row in body["beanResponse"]:
            row["callBackProperties"][0]["name"] = f"sid={session}"
        return httpx.Response(response.status_code, json=body)


async def test_a_session_id_echoed_in_a_writes_answer_is_not_kept(simulator: Any, tmp_path: Path) -> None:
    settings = settings_for(simulator, tmp_path)
    transport = EchoingSession(transport_of(simulator))
    callback = {"campaign": 1, "customer_id": 12458, "callback_time": "2031-05-01T11:00:00"}
    async with Client(create_server(settings, ameyo_factory=partial(Ameyo, transport=transport))) as client:
        result = await client.call_tool("ameyo_add_callback", callback)
    assert not result.is_error, text_of(result)
    (session,) = simulator.state.live_sessions()
    with sqlite3.connect(tmp_path / "index.db") as db:
        kept = "\n".join(str(row) for row in db.execute("SELECT answer FROM write_ledger"))
    assert "sid=[redacted]" in kept and session not in kept
    assert session not in text_of(result) + json.dumps(result.structured_content)


async def test_the_http_and_push_tokens_are_masked_on_stdio_too(simulator: Any, tmp_path: Path) -> None:
    """A server on stdio neither checks a bearer token nor receives pushes, yet its settings file may
    hold both (one file for every transport): quoted in a record, they are masked all the same."""
    bearer, push = f"bearer-{secrets.token_hex(8)}", f"push-{secrets.token_hex(8)}"
    settings = settings_for(simulator, tmp_path, AMEYO_HTTP_TOKEN=bearer, AMEYO_PUSH_TOKEN=push)
    record = {"phone1": "9876512340", "name": bearer, "email": f"{push}@example.com"}
    upload = {"campaign": 1, "lead_id": 21, "records": [record]}
    async with Client(server_of(simulator, settings)) as client:
        result = await client.call_tool("ameyo_upload_contacts", upload)
    assert not result.is_error, text_of(result)
    trail = "".join(file.read_text() for file in trail_files(tmp_path / "audit.jsonl"))
    assert "[redacted]" in trail and bearer not in trail and push not in trail


async def test_a_password_that_spells_a_number_in_an_answer_keeps_the_ledger_readable(tmp_path: Path) -> None:
    """A password of digits that is also the id Ameyo gives a new customer: the kept answer is
    masked value by value, and stays JSON. Masked in its text, it was `"customerId": [redacted]`,
    which no read of the ledger could parse: the repeat was refused as "ledger cannot be used",
    and the operator's page failed."""
    from ameyo_mcp.server.page.today import today
    from ameyo_mcp.simulator import SimulatorConfig
    from ameyo_mcp.store import open_store
    from tests.conftest import InProcessSimulator

    next_id = InProcessSimulator(SimulatorConfig()).state._next_customer_id
    simulator = InProcessSimulator(SimulatorConfig(password=str(next_id)))
    settings = settings_for(simulator, tmp_path)
    args = {"campaign": 1, "lead_id": 1, "records": [{"phone1": "9876500000", "name": "Zed"}]}
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool("ameyo_upload_contacts", args)
        again = await client.call_tool("ameyo_upload_contacts", args)
    assert not first.is_error and f"#{next_id}" not in text_of(first), text_of(first)
    assert not again.is_error and text_of(again).startswith("REPEAT:"), text_of(again)
    assert simulator.state.executed["uploadContacts"] == 1
    store = open_store(settings)
    try:
        assert [w.state for w in store.writes_since(0)] == ["answered"]
        today(store, settings.zone, datetime.now(settings.zone))
    finally:
        store.close()
    lines = [line for path in trail_files(settings.audit_file) for line in path.read_text().splitlines()]
    assert len(lines) >= 2 and all(json.loads(line) for line in lines)


async def test_the_database_password_is_masked_where_its_driver_quotes_it(
    simulator: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A raw `%` in the password of AMEYO_DATABASE_URL: psycopg refuses the URL quoting the password,
    and that message went into the tool's answer and the log."""
    password = "s3cr%zzet-" + secrets.token_hex(4)
    url = f"postgresql://bob:{password}@127.0.0.1:1/db"
    settings = settings_for(simulator, tmp_path, AMEYO_DATABASE_URL=url)
    with caplog.at_level(logging.DEBUG):
        async with Client(server_of(simulator, settings)) as client:
            result = await client.call_tool("ameyo_call_history", {"phone": "9876500000"})
    said = text_of(result) + json.dumps(result.structured_content) + caplog.text
    assert "cannot be reached" in text_of(result), text_of(result)
    assert password not in said and password.split("%")[1] not in said, said


def with_database(url: str) -> dict[str, str]:
    """Settings of an Ameyo nobody reaches, with AMEYO_DATABASE_URL `url`."""
    return {
        "AMEYO_BASE_URL": "http://ameyo.test",
        "AMEYO_USER_ID": "CustomerManager",
        "AMEYO_PASSWORD": "pw-" + secrets.token_hex(6),
        "AMEYO_TIMEZONE": "Asia/Kolkata",
        "AMEYO_DATABASE_URL": url,
    }


def test_a_database_url_whose_password_ends_its_host_early_is_refused_without_it() -> None:
    """A ? or # in the password ends the URL's host there: every command had ended in "something
    unexpected (ValueError)", with the password's first part in the logged traceback."""
    from ameyo_mcp.errors import SettingsError

    password = "Hunter2?Xy#" + secrets.token_hex(4)
    env = with_database(f"postgresql://app:{password}@127.0.0.1:5432/db")
    with pytest.raises(SettingsError) as refused:
        load_settings(env, env_file=None)
    assert "%3F, %23" in str(refused.value) and "Hunter2" not in str(refused.value)
    from ameyo_mcp.store import Store

    assert "Hunter2" not in Store(env["AMEYO_DATABASE_URL"]).where


def test_the_database_password_is_registered_whatever_else_the_url_holds() -> None:
    from ameyo_mcp.rules.redact import SECRETS

    password = "Pw%zz" + secrets.token_hex(4)
    # An @ after the host (in a parameter) had made everything before it the "password".
    load_settings(
        with_database(f"postgresql://app:{password}@127.0.0.1:1/ameyo?application_name=ops@night"),
        env_file=None,
    )
    assert password not in SECRETS.scrub(f'invalid percent-encoded token: "{password}"')


def refusing_with(shape: str) -> Any:
    """An Ameyo that refuses the login in the documented `{"result": "FAILURE", "comment": [key,
    arg…]}` shape, quoting the request: in the message key itself (form-encoded), or as an argument
    that is the request's JSON echoed as an object, or a list holding it."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await read_body(receive)
        data = parse_qs(body.decode()).get("data", [""])[0]
        comment: list[Any] = {
            "key": [f"login refused for {body.decode()}"],
            "object": ["CustomerManager.login.failed", json.loads(data)],
            "list": ["CustomerManager.login.failed", 7, [data]],
        }[shape]
        answer = json.dumps({"result": "FAILURE", "comment": comment}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    return app


@pytest.mark.parametrize("shape", ["key", "object", "list"])
async def test_a_password_ameyo_echoes_in_a_failures_key_or_arguments_is_masked(
    tmp_path: Path, shape: str
) -> None:
    settings = load_settings(
        {
            "AMEYO_BASE_URL": "http://ameyo.test",
            "AMEYO_USER_ID": "CustomerManager",
            "AMEYO_PASSWORD": "PW-canary-4412-keyed",
            "AMEYO_TIMEZONE": "Asia/Kolkata",
            "AMEYO_DATABASE_URL": str(tmp_path / "index.db"),
            "AMEYO_AUDIT_FILE": str(tmp_path / "audit.jsonl"),
            "AMEYO_SYNC_INTERVAL_S": "0",
        },
        env_file=None,
    )
    transport = httpx.ASGITransport(app=refusing_with(shape))
    async with Client(create_server(settings, ameyo_factory=partial(Ameyo, transport=transport))) as client:
        result = await client.call_tool("ameyo_login", {})
    text = text_of(result) + json.dumps(result.structured_content)
    assert result.is_error and "Ameyo said" in text
    assert "PW-canary" not in text and "[redacted]" in text
