"""The streamable HTTP transport, locked down: Host/Origin checks on every bind, a bearer token
required off loopback, and a request body limit enforced before anything reaches a tool. With
AMEYO_PUSH_TOKEN set, Ameyo's call-outcome receiver answers at /ameyo/status beside it."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from .config import Settings
from .errors import SettingsError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BearerAuth:
    """Answers 401 to any request without `Authorization: Bearer <AMEYO_HTTP_TOKEN>`.
    The token guards this server only: it is never sent on to Ameyo."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": b"Missing or wrong bearer token\n"})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer[Any], settings: Settings, host: str, port: int) -> ASGIApp:
    if not is_loopback(host) and settings.http_token is None:
        raise SettingsError(
            f"Refusing to serve on {host}: off loopback the server needs AMEYO_HTTP_TOKEN "
            "(a long random string clients send as a bearer token)"
        )
    names = {host, "127.0.0.1", "localhost", "[::1]", *settings.allowed_hosts}
    allowed_hosts = sorted({f"{name}:{port}" for name in names} | set(settings.allowed_hosts))
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed_hosts,
        allowed_origins=sorted({f"{scheme}://{h}" for h in allowed_hosts for scheme in ("http", "https")}),
    )
    app: ASGIApp = server.streamable_http_app(
        max_request_body_size=settings.max_request_bytes, transport_security=security, host=host
    )
    if settings.http_token is not None:
        app = BearerAuth(app, settings.http_token.get_secret_value())
    if settings.push_token is not None:
        # Ameyo's pushes carry their own token in the URL (Ameyo can send no bearer header), so
        # /ameyo/status is answered before the bearer check; every other path goes on to it.
        from .calls_today import feed_of
        from .receiver.service import build_receiver
        from .store import open_store

        feed = feed_of(server)
        app, _ = build_receiver(
            settings, open_store(settings), fallback=app, on_stored=feed.stored if feed else None
        )
    return app
