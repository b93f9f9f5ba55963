"""`ameyo-mcp receiver` under abuse, as a real process over loopback: a flood of idle and half-sent
connections past its open-file limit, connections that never finish a request, and outsiders
declaring huge bodies. Ameyo's real pushes must still be answered and stored."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.test_http_abuse import open_sockets
from tests.test_receiver import TOKEN, Receiver, start_receiver, stored


def port_of(receiver: Receiver) -> int:
    port = urlsplit(receiver.url).port
    assert port is not None
    return port


def closed_by_server(sock: socket.socket, within_s: float) -> bool:
    sock.settimeout(within_s)
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.mark.slow
def test_a_flood_past_the_open_file_limit_leaves_room_for_real_pushes(tmp_path: Path) -> None:
    """350 idle and half-sent connections against a 256-file limit: without a cap below the limit,
    accept() fails with "Too many open files" and every later push waits unanswered."""
    db = str(tmp_path / "state" / "calls.db")
    running = start_receiver(tmp_path, db, open_files=256)
    try:
        port = port_of(running)
        head = f"POST /ameyo/status?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        half_header = head.encode()
        half_body = (head + "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{").encode()
        flood = open_sockets(port, 120, b"") + open_sockets(port, 115, half_header)
        flood += open_sockets(port, 115, half_body)
        try:
            assert len(flood) == 350
            started = time.monotonic()
            with httpx.Client(timeout=5) as http:
                answer = http.get(running.url, params={"token": TOKEN, "callId": "real-1", "customerId": "7"})
            assert answer.status_code == 200, answer.text
            assert time.monotonic() - started < 2
        finally:
            for sock in flood:
                sock.close()
        assert stored(db) == 1
        assert running.proc.poll() is None
    finally:
        running.proc.terminate()
        running.proc.wait(timeout=10)
    lines = running.log.read_text().splitlines()
    assert len(lines) < 10, lines[:20]
    assert not any("Too many open files" in line for line in lines)


def test_slow_requests_are_cut_off_and_outsiders_refused_before_their_body(tmp_path: Path) -> None:
    running = start_receiver(tmp_path, str(tmp_path / "state" / "calls.db"), AMEYO_HTTP_READ_TIMEOUT_S="1")
    try:
        port = port_of(running)
        host = f"Host: 127.0.0.1:{port}\r\n"
        # An outsider (wrong or no token) declaring 50 MB is answered 401 at once, its body unread.
        for query in ("?token=wrong-token", ""):
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(
                    f"POST /ameyo/status{query} HTTP/1.1\r\n{host}Content-Type: application/json\r\n"
                    f"Content-Length: 50000000\r\n\r\n{{".encode()
                )
                started = time.monotonic()
                assert sock.recv(100).startswith(b"HTTP/1.1 401 "), query
                assert time.monotonic() - started < 0.5
        # Silent, half a header, half a body (with the right token): each is closed once the read
        # timeout has passed, not before.
        head = f"POST /ameyo/status?token={TOKEN} HTTP/1.1\r\n{host}"
        slow = open_sockets(port, 1, b"") + open_sockets(port, 1, head.encode())
        slow += open_sockets(port, 1, (head + "Content-Length: 200\r\n\r\ncallId=").encode())
        started = time.monotonic()
        with contextlib.ExitStack() as stack:
            for sock in slow:
                stack.enter_context(sock)
            assert [closed_by_server(sock, within_s=4) for sock in slow] == [True, True, True]
        assert 0.8 < time.monotonic() - started < 3
        with httpx.Client(timeout=5) as http:
            answer = http.get(running.url, params={"token": TOKEN, "callId": "after-1", "customerId": "7"})
        assert answer.status_code == 200, answer.text
    finally:
        running.proc.terminate()
        running.proc.wait(timeout=10)
