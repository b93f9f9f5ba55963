"""The HTTP transport under abuse, in a real `ameyo-mcp --transport http` process over loopback:
floods of silent and half-sent connections, sessions never closed, event streams held open,
garbage that would flood the log, the bearer scheme's spelling, oversized bodies, and a server bound
to every address."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from tests.conftest import listening, logged_port
from tests.test_http_security import HEADERS, INIT
from tests.test_transports import clean_env

TOKEN = "t0ken-for-abuse-tests-0123456789"


@contextlib.contextmanager
def server(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, open_files: int | None = None
) -> Iterator[tuple[int, Path]]:
    """`ameyo-mcp --demo --transport http` on a port it chose; yields the port and its stderr file."""
    log = tmp_path / f"server-{len(list(tmp_path.glob('server-*.log')))}.log"
    host = args[args.index("--host") + 1] if "--host" in args else "127.0.0.1"

    def limit_open_files() -> None:  # the common default limit of 1024 open files
        import resource

        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ameyo_mcp", "--demo", "--transport", "http", "--port", "0", *args],
            env=clean_env(tmp_path) | (env or {}),
            cwd=str(tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=limit_open_files,
        )
    try:
        port = logged_port(log, proc, f"serving streamable HTTP at http://{host}:".encode())
        listening(port, proc, log.read_text)
        yield port, log
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def open_sockets(port: int, count: int, first_bytes: bytes) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        sockets.append(sock)
        with contextlib.suppress(OSError):  # the server may have closed it to make room already
            sock.sendall(first_bytes)
    return sockets


async def list_tools(url: str, timeout_s: float) -> set[str]:
    with anyio.fail_after(timeout_s):
        async with Client(url) as client:
            return {tool.name for tool in (await client.list_tools()).tools}


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_flood_of_idle_and_half_sent_connections_starves_nobody(tmp_path: Path) -> None:
    """1,100 connections that send nothing or half a request, against the usual 1,024-file limit:
    a real client is still served at once, and the log stays quiet."""
    with server(tmp_path, open_files=1024) as (port, log):
        half = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 500\r\n\r\n{{".encode()
        flood = open_sockets(port, 550, b"") + open_sockets(port, 550, half)
        try:
            assert len(flood) > 1000
            names = await list_tools(f"http://127.0.0.1:{port}/mcp", timeout_s=15)
            assert "ameyo_get_contacts" in names
        finally:
            for sock in flood:
                sock.close()
        lines = log.read_text().splitlines()
    assert len(lines) < 20, lines[:40]


def test_silent_and_half_sent_connections_are_closed(tmp_path: Path) -> None:
    with server(tmp_path, env={"AMEYO_HTTP_READ_TIMEOUT_S": "1"}) as (port, _):
        half = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
        silent, partial = open_sockets(port, 1, b"") + open_sockets(port, 1, half)
        started = time.monotonic()
        for sock in (silent, partial):
            sock.settimeout(6)
            with sock, contextlib.suppress(ConnectionResetError):  # closed or reset by the server
                assert sock.recv(100) == b""
        assert time.monotonic() - started < 4


def initialize(http: httpx.Client, url: str) -> str:
    answer = http.post(url, json=INIT, headers=HEADERS)
    assert answer.status_code == 200, answer.text
    return answer.headers["mcp-session-id"]


def ping(http: httpx.Client, url: str, session_id: str) -> int:
    headers = HEADERS | {"mcp-session-id": session_id, "mcp-protocol-version": "2025-06-18"}
    return http.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=headers).status_code


@pytest.mark.slow
def test_sessions_never_closed_make_room_and_expire(tmp_path: Path) -> None:
    env = {"AMEYO_HTTP_MAX_SESSIONS": "5", "AMEYO_HTTP_SESSION_IDLE_S": "3"}
    with server(tmp_path, env=env) as (port, _), httpx.Client(timeout=10) as http:
        url = f"http://127.0.0.1:{port}/mcp"
        sessions = [initialize(http, url) for _ in range(8)]  # none locked out at the cap
        assert ping(http, url, sessions[3]) == 200  # in use again: not the next to go
        sessions.append(initialize(http, url))
        alive = [ping(http, url, s) == 200 for s in sessions]
        # The least recently used made room, oldest first; the one used again stayed.
        assert alive == [False, False, False, True, False, True, True, True, True], alive
        time.sleep(3.5)
        assert ping(http, url, sessions[-1]) == 404  # expired while idle


def test_repeated_errors_do_not_flood_the_log(tmp_path: Path) -> None:
    with server(tmp_path) as (port, log):
        for sock in open_sockets(port, 300, b"NOT HTTP AT ALL\r\n\r\n"):
            with sock, contextlib.suppress(OSError):
                sock.recv(1000)
        # The server logs as it gets to them: on a loaded machine, a while after the last answer.
        deadline = time.monotonic() + 10
        while "more like this are held back" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        text = log.read_text()
    assert 1 <= text.count("Invalid HTTP request") <= 5, text[-2000:]
    assert "more like this are held back" in text


def test_bearer_scheme_is_case_insensitive(tmp_path: Path) -> None:
    with server(tmp_path, env={"AMEYO_HTTP_TOKEN": TOKEN}) as (port, _), httpx.Client(timeout=10) as http:
        url = f"http://127.0.0.1:{port}/mcp"
        for given, status in [
            (f"bearer {TOKEN}", 200),
            (f"BEARER  {TOKEN}", 200),
            (f"Bearer {TOKEN}", 200),
            (f"Basic {TOKEN}", 401),
            ("bearer wrong-token", 401),
        ]:
            answer = http.post(url, json=INIT, headers=HEADERS | {"Authorization": given})
            assert answer.status_code == status, (given, answer.text)


@pytest.mark.anyio
async def test_an_oversized_request_is_answered_with_the_limit(tmp_path: Path) -> None:
    with server(tmp_path, env={"AMEYO_MAX_REQUEST_BYTES": "4096"}) as (port, _):
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            with pytest.raises(MCPError) as caught:
                await client.call_tool("ameyo_get_contacts", {"campaign": "x" * 10_000})
            assert "4096 bytes" in str(caught.value) and "AMEYO_MAX_REQUEST_BYTES" in str(caught.value)
            assert (await client.list_tools()).tools  # the session goes on


def test_a_server_bound_to_every_address_answers_its_own(tmp_path: Path) -> None:
    """Bound to 0.0.0.0, it answers requests addressed to any of its own IPs (127.0.0.2 here,
    still loopback), refuses other names with a 421 that says what to set, and says so at start."""
    env = {"AMEYO_HTTP_TOKEN": TOKEN}
    with server(tmp_path, "--host", "0.0.0.0", env=env) as (port, log), httpx.Client(timeout=10) as http:
        headers = HEADERS | {"Authorization": f"Bearer {TOKEN}"}
        own = http.post(f"http://127.0.0.2:{port}/mcp", json=INIT, headers=headers)
        assert own.status_code == 200, own.text
        other = http.post(
            f"http://127.0.0.2:{port}/mcp", json=INIT, headers=headers | {"Host": f"rebound.example:{port}"}
        )
        assert other.status_code == 421 and "AMEYO_ALLOWED_HOSTS" in other.text
        started = log.read_text()
    assert "AMEYO_ALLOWED_HOSTS" in started and TOKEN not in started
    assert json.dumps(TOKEN) not in own.text


def hold_event_stream(port: int, session_id: str) -> tuple[socket.socket, bytes]:
    """The session's GET stream (the standalone SSE stream), held open on a socket of its own; the
    answer's head, and its body unless it is the stream (b"" when the server closed the connection
    instead)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    sock.sendall(
        f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        f"Mcp-Session-Id: {session_id}\r\nMcp-Protocol-Version: 2025-06-18\r\n\r\n".encode()
    )
    answer = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        while not answer.startswith(b"HTTP/1.1 200 ") and (chunk := sock.recv(4096)):
            answer += chunk  # a refusal, read to its end
    return sock, answer


def held_streams(port: int, count: int) -> tuple[list[socket.socket], list[bytes]]:
    """`count` sessions, each initialized and asking for its GET stream; what each was answered."""
    url = f"http://127.0.0.1:{port}/mcp"
    sockets: list[socket.socket] = []
    answers: list[bytes] = []
    with httpx.Client(timeout=3) as http:
        for _ in range(count):
            try:
                session_id = initialize(http, url)
                headers = HEADERS | {"mcp-session-id": session_id, "mcp-protocol-version": "2025-06-18"}
                notice = {"jsonrpc": "2.0", "method": "notifications/initialized"}
                assert http.post(url, json=notice, headers=headers).status_code == 202
            except (httpx.HTTPError, AssertionError):
                answers.append(b"")  # locked out before its stream was asked for
                continue
            sock, answer = hold_event_stream(port, session_id)
            sockets.append(sock)
            answers.append(answer)
    return sockets, answers


@pytest.mark.slow
@pytest.mark.anyio
async def test_event_streams_held_open_lock_no_client_out(tmp_path: Path) -> None:
    """More sessions holding their GET stream than the server has connections and sessions for:
    streams past the cap (half of each) are refused at once with 503, listen streams too, and a new
    client still initializes and calls a tool."""
    env = {"AMEYO_HTTP_MAX_CONNECTIONS": "40", "AMEYO_HTTP_MAX_SESSIONS": "40"}
    with server(tmp_path, env=env) as (port, log):
        url = f"http://127.0.0.1:{port}/mcp"
        streams, answers = held_streams(port, 50)
        try:
            with anyio.fail_after(8):
                async with Client(url, mode="legacy") as client:  # initialize, and a session of its own
                    found = await client.call_tool("ameyo_get_contacts", {"campaign": "MoviStarSurvey"})
                    assert not found.is_error, found
                async with Client(url) as client:  # 2026-07-28, whose stream is subscriptions/listen
                    found = await client.call_tool("ameyo_get_contacts", {"campaign": "MoviStarSurvey"})
                    assert not found.is_error, found
                    with pytest.raises(MCPError, match="AMEYO_HTTP_MAX_STREAMS"):
                        async with client.listen(resource_subscriptions=["ameyo://calls/today"]):
                            pass
            held = [a for a in answers if a.startswith(b"HTTP/1.1 200 ")]
            refused = [a for a in answers if a.startswith(b"HTTP/1.1 503 ")]
            assert (len(held), len(refused)) == (20, 30), answers
            assert b"retry-after: " in refused[0].lower() and b"AMEYO_HTTP_MAX_STREAMS" in refused[0]
            for sock in streams[:5]:  # a stream that ends makes room for another
                sock.close()
            await anyio.sleep(0.3)
            with httpx.Client(timeout=3) as http:
                _, again = hold_event_stream(port, initialize(http, url))
            assert again.startswith(b"HTTP/1.1 200 "), again
        finally:
            for sock in streams:
                sock.close()
        started = log.read_text()
    assert "at most 20 event streams" in started, started
