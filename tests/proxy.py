"""A round-robin HTTP proxy for tests: each request to the next replica, as a load balancer without
sticky sessions does, with streamed answers (server-sent events) passed through as they come."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn

from ameyo_mcp.listener import server_socket
from tests.conftest import read_body

# Hop-by-hop headers are the proxy's own business on each side.
_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"trailer", b"upgrade", b"host"}


class RoundRobin:
    """The ASGI app: `/mcp` (and anything else) forwarded to `backends` in turn."""

    def __init__(self, backends: Sequence[str]) -> None:
        self.backends = list(backends)
        self._next = itertools.cycle(range(len(self.backends)))
        self.sent_to: list[int] = []  # which backend took each request, in order
        self._http: httpx.AsyncClient | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            if self._http is not None:
                await self._http.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, read=None))
        body = await read_body(receive)
        query = ("?" + scope["query_string"].decode()) if scope.get("query_string") else ""
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP]
        # A replica that refuses connections is skipped, as a balancer that retries elsewhere does.
        for _ in self.backends:
            which = next(self._next)
            base = self.backends[which]
            request = self._http.build_request(
                scope["method"],
                base + scope["path"] + query,
                headers=[*headers, (b"host", urlsplit(base).netloc.encode())],
                content=body,
            )
            try:
                answer = await self._http.send(request, stream=True)
            except httpx.ConnectError:
                continue
            self.sent_to.append(which)
            break
        else:
            await send({"type": "http.response.start", "status": 502, "headers": []})
            await send({"type": "http.response.body", "body": b"no replica answers"})
            return
        try:
            out = [(k, v) for k, v in answer.headers.raw if k.lower() not in _HOP]
            await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
            async for chunk in answer.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await answer.aclose()


@contextmanager
def round_robin(backends: Sequence[str]) -> Iterator[tuple[str, RoundRobin]]:
    """The proxy on a free loopback port: its base URL (`http://127.0.0.1:PORT`) and its app."""
    app = RoundRobin(backends)
    sock = server_socket("127.0.0.1", 0)  # bound here, so that no other process takes its port
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="round-robin-proxy"
    )
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the proxy did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
