"""Who may reach the HTTP transport: the `Host` and `Origin` a request names (DNS-rebinding
protection, on every bind), and the bearer token (AMEYO_HTTP_TOKEN), one check for /mcp and the
operator's page alike."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from .http_answers import header, plain

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


class TokenCheck:
    """The one check of AMEYO_HTTP_TOKEN, in constant time: /mcp's bearer header, and the operator
    page's header, sign-in form and cookie (`ameyo_mcp.server.page`). The token guards this server
    only: it is never sent on to Ameyo, and never written to a log."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()

    def matches(self, given: bytes) -> bool:
        return hmac.compare_digest(given, self._expected)

    def bearer(self, authorization: bytes | None) -> bool:
        """Whether an `Authorization` header carries the token (the scheme is case-insensitive, RFC 7235)."""
        scheme, _, token = (authorization or b"").strip().partition(b" ")
        # compared even for a wrong scheme, so the answer takes the same time either way
        matches = self.matches(token.strip())
        return scheme.lower() == b"bearer" and matches

    def sign(self, text: bytes) -> bytes:
        """An HMAC of `text` under the token: what a cookie may carry instead of the token itself."""
        return hmac.new(self._expected, text, hashlib.sha256).hexdigest().encode()

    def signed(self, text: bytes, signature: bytes) -> bool:
        """Whether `signature` is `sign(text)`, compared in constant time."""
        return hmac.compare_digest(self.sign(text), signature)


class BearerAuth:
    """Answers 401 to any request without `Authorization: Bearer <AMEYO_HTTP_TOKEN>`."""

    def __init__(self, app: ASGIApp, check: TokenCheck) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.check.bearer(header(scope, b"authorization")):
            await plain(send, 401, "Missing or wrong bearer token\n", [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)


def _split_host(value: str) -> tuple[str, int | None]:
    """`name[:port]` or `[v6][:port]` -> (lower-case name without brackets, port or None)."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return name, int(port) if port.isdigit() else None


class HostCheck:
    """DNS-rebinding protection: the `Host` (and any `Origin`) must name this server.

    Accepted: the loopback names and the bound address at the bound port; the address the request
    actually arrived at (so a server bound to 0.0.0.0 answers requests to any of its own IPs, which
    a rebinding attack, using a host name, cannot forge); and AMEYO_ALLOWED_HOSTS entries (`name`
    for any port, or `name:port`)."""

    def __init__(self, app: ASGIApp, bind_host: str, port: int, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.port = port
        names = set(_LOOPBACK_NAMES)
        if not _is_wildcard(bind_host):
            names.add(_split_host(bind_host)[0] if bind_host.startswith("[") else bind_host.lower())
        self._own = names
        self._any_port: set[str] = set()
        self._exact: set[tuple[str, int]] = set()
        for entry in allowed:
            name, entry_port = _split_host(entry)
            if entry_port is None:
                self._any_port.add(name)
            else:
                self._exact.add((name, entry_port))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = (header(scope, b"host") or b"").decode("latin-1")
            if not self._accepts(host, None, scope):
                await plain(
                    send,
                    421,
                    f"Host {host!r} is not a name this server answers to: address it by this machine's own "
                    "IP or a loopback name, or add the name to AMEYO_ALLOWED_HOSTS on the server.\n",
                )
                return
            origin = header(scope, b"origin")
            if origin is not None and not self._origin_ok(origin.decode("latin-1"), scope):
                await plain(
                    send,
                    403,
                    f"Origin {origin.decode('latin-1')!r} is not allowed: add its host to "
                    "AMEYO_ALLOWED_HOSTS on the server if it should be.\n",
                )
                return
        await self.app(scope, receive, send)

    def _origin_ok(self, origin: str, scope: Scope) -> bool:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        return self._accepts(parts.netloc, 443 if parts.scheme == "https" else 80, scope)

    def _accepts(self, value: str, default_port: int | None, scope: Scope) -> bool:
        if not value:
            return False
        name, port = _split_host(value)
        port = port if port is not None else (default_port or 80)
        if name in self._any_port or (name, port) in self._exact:
            return True
        if name in self._own and port == self.port:
            return True
        server = scope.get("server")
        return server is not None and name == str(server[0]).lower() and port == server[1]
