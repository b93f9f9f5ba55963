"""The HTTP transport in a real process: bearer token, Host checks, body limit, refusal off loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import http_process
from tests.test_transports import clean_env, run_cli

TOKEN = "t0ken-for-tests-0123456789"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def guarded_server(tmp_path: Path) -> Iterator[str]:
    env = clean_env(tmp_path) | {"AMEYO_HTTP_TOKEN": TOKEN, "AMEYO_MAX_REQUEST_BYTES": "4096"}
    with http_process(env, tmp_path, "--demo") as (url, _):
        yield url


def test_token_host_and_size_are_enforced(guarded_server: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(timeout=10) as http:
        assert http.post(guarded_server, json=INIT, headers=HEADERS).status_code == 401
        wrong = http.post(guarded_server, json=INIT, headers=HEADERS | {"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        rebound = http.post(guarded_server, json=INIT, headers=HEADERS | auth | {"Host": "evil.example:80"})
        assert rebound.status_code in (400, 403, 421)
        origin = http.post(
            guarded_server, json=INIT, headers=HEADERS | auth | {"Origin": "http://evil.example"}
        )
        assert origin.status_code in (400, 403)
        big = dict(INIT, params=dict(INIT["params"], padding="x" * 10_000))  # type: ignore[call-overload]
        assert http.post(guarded_server, content=json.dumps(big), headers=HEADERS | auth).status_code == 413
        ok = http.post(guarded_server, json=INIT, headers=HEADERS | auth)
        assert ok.status_code == 200, ok.text
        assert TOKEN not in ok.text


def test_refuses_to_serve_off_loopback_without_token(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--demo", "--transport", "http", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    assert "AMEYO_HTTP_TOKEN" in done.stderr
