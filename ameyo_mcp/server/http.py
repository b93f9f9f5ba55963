"""The streamable HTTP transport, locked down: Host/Origin checks on every bind, a bearer token
required off loopback, a request body limit enforced before anything reaches a tool, and bounds on
connections, sessions and event streams (see `..listener`, `http_sessions`, `http_streams`). Beside
it: the operator's page at `/` (`page`), behind the same token and Host checks, and, with
AMEYO_PUSH_TOKEN set, Ameyo's call-outcome receiver at /ameyo/status. `/healthz` and `/readyz`
answer a load balancer before any of that, and SIGTERM drains the server (`health`, `DrainGate`)."""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..errors import SettingsError
from ..health import Drain
from ..listener import is_loopback
from .http_access import BearerAuth, HostCheck, TokenCheck
from .http_answers import header, refuse
from .http_streams import LISTEN, StreamCap, stream_cap, stream_note


class BodyLimitAnswer:
    """The SDK refuses an oversized body with a bare 413 text, which an MCP client reports only as
    "Server returned an error response"; this makes it a JSON-RPC error that states the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        error = {
            "code": -32600,
            "message": f"Request too large: this server accepts at most {limit} bytes per request "
            "(AMEYO_MAX_REQUEST_BYTES). Send less at once, e.g. fewer records per call.",
        }
        self._body = json.dumps({"jsonrpc": "2.0", "id": None, "error": error}).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replacing = False

        async def answer(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] == 413:
                replacing = True
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self._body)).encode()),
                ]
                await send({"type": "http.response.start", "status": 413, "headers": headers})
            elif not replacing:
                await send(message)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                await send({"type": "http.response.body", "body": self._body})

        await self.app(scope, receive, answer)


# Requests answered at once from what the process holds, which a draining server still answers: a
# client checks a call's result against the tool list, and must not be told that call failed.
_INSTANT = frozenset(
    {"ping", "tools/list", "prompts/list", "resources/list", "resources/templates/list", "server/discover"}
)
DRAINING = (
    "This server is shutting down and did not run the request. Send it again: a load balancer gives it "
    "to another replica."
)


class DrainGate:
    """In front of /mcp: counts the requests in flight, which a drain waits for (every POST, once its
    body is in, but a `subscriptions/listen` stream, which would never end by itself), and while
    draining refuses every request that starts work (a tool call, a read, a new session or
    stream…) with 503 and a JSON-RPC error saying to send it again. What clients of calls in flight
    still need goes through: their answers to the server's questions (elicitation), their
    notifications (a cancellation), requests answered at once (a tool list) and the end of a
    session (DELETE)."""

    def __init__(self, app: ASGIApp, drain: Drain, max_bytes: int) -> None:
        self.app = app
        self.drain = drain
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.drain.draining:
            refused, receive = await self._screen(scope, receive)
            if refused:
                await refuse(send, refused[0], DRAINING, retry_after_s=1)
                return
        if scope["method"] != "POST" or header(scope, b"mcp-method") == LISTEN:
            await self.app(scope, receive, send)
            return
        # Counted once its body is in: a request still arriving has started nothing, and one that
        # never arrives (its client stalled) must not hold the drain.
        arrived = False

        async def counting() -> Message:
            nonlocal arrived
            message = await receive()
            if not arrived and message["type"] == "http.request" and not message.get("more_body", False):
                arrived = True
                self.drain.enter()
            return message

        try:
            await self.app(scope, counting, send)
        finally:
            if arrived:
                self.drain.leave()

    async def _screen(self, scope: Scope, receive: Receive) -> tuple[list[object], Receive]:
        """While draining: the ids of the requests a message carries that would start work (a GET
        stream counts as one), and the message's body to be read again by whoever it goes on to."""
        method = scope["method"]
        if method == "GET":
            return [None], receive
        if method != "POST":
            return [], receive
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return [None], receive  # the client left: nothing to run
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return [None], receive
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None  # the SDK answers what it cannot read
        items = parsed if isinstance(parsed, list) else [parsed]
        ids = [
            i.get("id")
            for i in items
            if isinstance(i, dict) and "id" in i and "method" in i and i["method"] not in _INSTANT
        ]
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return ids, replay


def http_app(
    server: MCPServer[Any], settings: Settings, host: str, port: int, *, max_streams: int | None = None
) -> ASGIApp:
    """The transport's ASGI app; `max_streams` defaults to the cap that AMEYO_HTTP_MAX_CONNECTIONS
    allows (`serve_http` gives the one that the open-file limit allows)."""
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
    from mcp.server.transport_security import TransportSecuritySettings
    from starlette.applications import Starlette
    from starlette.routing import Route

    from ..health import HealthRoutes, counted
    from .app import checks_of, drain_of
    from .http_sessions import EvictingSessionManager

    if not is_loopback(host) and settings.http_token is None:
        raise SettingsError(
            f"Refusing to serve on {host}: off loopback the server needs AMEYO_HTTP_TOKEN "
            "(a long random string clients send as a bearer token)"
        )
    manager = EvictingSessionManager(
        server._lowlevel_server,  # the SDK's own streamable_http_app() builds its manager the same way
        # Host and Origin are checked by HostCheck, which also knows the address a request came to.
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        max_request_body_size=settings.max_request_bytes,
        session_idle_timeout=settings.http_session_idle_s,
        max_sessions=settings.http_max_sessions,
        # A 2025-11-25 request on any replica, without an MCP session (2026-07-28 requests need none).
        stateless=settings.http_stateless,
    )
    drain = drain_of(server)
    app: ASGIApp = Starlette(
        routes=[Route("/mcp", endpoint=StreamableHTTPASGIApp(manager))],
        lifespan=lambda _: manager.run(),
    )
    app = BodyLimitAnswer(app, settings.max_request_bytes)
    if max_streams is None:
        max_streams = stream_cap(settings, settings.http_max_connections)
    app = StreamCap(app, max_streams)
    app = DrainGate(app, drain, settings.max_request_bytes)
    app = HostCheck(app, host, port, settings.allowed_hosts)
    check = TokenCheck(settings.http_token.get_secret_value()) if settings.http_token is not None else None
    if check is not None:
        app = BearerAuth(app, check)
    # The operator's page signs a browser in with the same token, and holds it by a cookie.
    from .page import Mounted, operator_page

    page = operator_page(
        settings,
        host,
        port,
        transport="streamable HTTP",
        read_only=settings.read_only,
        drain=drain,
        checks=checks_of(server),
        check=check,
    )
    app = Mounted(app, page)
    if settings.push_token is not None:
        # Ameyo's pushes carry their own token in the URL (Ameyo can send no bearer header), so
        # /ameyo/status is answered before the bearer check; every other path goes on to it.
        from ..receiver.app import STATUS_PATH
        from ..receiver.service import build_receiver
        from ..store import open_store
        from .calls_today import feed_of

        feed = feed_of(server)
        app, _ = build_receiver(
            settings, open_store(settings), fallback=app, on_stored=feed.stored if feed else None
        )
        app = counted(app, drain, path=STATUS_PATH)  # a push being stored is waited for, not refused
    # A balancer's probes address the server by whatever name it knows, and carry no token: they are
    # answered first, and say nothing a stranger may not know.
    return HealthRoutes(app, drain, checks_of(server))


# What the MCP server opens besides its connections: the listening socket, the Ameyo client's
# connections, the store and session cache, the audit trail, the demo's simulator.
OWN_FILES = 128


def serve_http(server: MCPServer[Any], settings: Settings, host: str, sock: socket.socket) -> None:
    """Serve on `sock`, already bound to `host` (`listener.server_socket`): a port in use was
    told before this says it serves."""
    from ..health import DrainingServer
    from ..listener import cap_note, connection_cap, listener_config
    from .app import drain_of

    port = int(sock.getsockname()[1])
    cap = connection_cap(settings.http_max_connections, OWN_FILES)
    streams = stream_cap(settings, cap)
    app = http_app(server, settings, host, port, max_streams=streams)
    shown = f"[{host}]" if ":" in host else host
    notes = [cap_note(cap, settings.http_max_connections), stream_note(streams, settings)]
    if settings.http_stateless:
        notes.append("stateless: no MCP sessions")
    if not is_loopback(host):
        notes.append(
            "bearer token required; requests must be addressed to this machine's own IP, a loopback name "
            "or a name in AMEYO_ALLOWED_HOSTS"
        )
    print(
        f"ameyo-mcp: serving streamable HTTP at http://{shown}:{port}/mcp ({'; '.join(notes)}); the "
        f"operator's page at http://{shown}:{port}/",
        file=sys.stderr,
    )
    config = listener_config(
        app, host, port, max_connections=cap, read_timeout_s=settings.http_read_timeout_s
    )
    DrainingServer(config, drain_of(server), name="the MCP server").run(sockets=[sock])
