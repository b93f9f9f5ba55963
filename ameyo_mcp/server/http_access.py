"""Who may reach the HTTP transport: the `Host` and `Origin` a request names (DNS-rebinding
protection, on every bind), and the bearer token (AMEYO_HTTP_TOKEN), one check for /mcp and the
operator's page alike."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from .http_answers import header, plain

log = logging.getLogger(__name__)

# Wrong tokens a client may send in a window, wherever it sends them (a bearer header at /mcp or at
# the operator's page, the page's sign-in form), and how many clients are remembered at most.
WRONG_TRIES = 5
WRONG_WINDOW_S = 60.0
WRONG_ADDRESSES = 4096
# The wrong tries' clock (a module name, so that a test can move it on a minute).
monotonic = time.monotonic


def too_many(wait_s: float) -> str:
    return f"Too many wrong tokens from this address: try again in {math.ceil(wait_s)} seconds."


def retry_after(wait_s: float) -> bytes:
    """The Retry-After of a client held back for `wait_s`: the seconds `too_many` says."""
    return str(math.ceil(wait_s)).encode()


def client_key(scope: Scope) -> str:
    """The client wrong tries are counted by: its address (behind a proxy on loopback, the one its
    X-Forwarded-For names, as uvicorn takes it by default), and on IPv6 its /64, which one host
    usually holds whole: counted address by address, it would guess on from each of them."""
    client = scope.get("client")
    if not client:
        return "an unknown address"
    host = str(client[0])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        if address in _NAT64:  # an IPv4 client seen through a NAT64 gateway: that client
            return str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.is_loopback:
            return host
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return host


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


class WrongTries:
    """The wrong tokens each client (`client_key`) sent in the last `window_s`: after `allowed` of
    them, its tries are refused until the oldest is `window_s` old. A guesser gets a few tries a
    minute; the right token is refused at most that minute, from that client only, and a sign-in
    with it forgets the client's count. At most `addresses` are remembered, those whose last wrong
    try is oldest going first, so a flood from many addresses costs bounded memory (and each of them
    a few tries)."""

    def __init__(
        self,
        allowed: int,
        window_s: float,
        addresses: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowed = allowed
        self.window_s = window_s
        self.addresses = addresses
        self._clock = clock
        self._tries: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tries)

    def wait_s(self, address: str) -> float:
        """How long `address` must wait before its next try: 0 when it may try now."""
        tries = self._tries.get(address)
        if tries is None or len(tries) < self.allowed:
            return 0.0
        return max(0.0, tries[0] + self.window_s - self._clock())

    def wrong(self, address: str) -> int:
        """Count a wrong try; how many `address` sent in the window, this one included."""
        now = self._clock()
        tries = self._tries.pop(address, None) or deque(maxlen=self.allowed)
        while tries and tries[0] <= now - self.window_s:
            tries.popleft()
        tries.append(now)
        self._tries[address] = tries  # last: the most recent
        while len(self._tries) > self.addresses:
            self._tries.popitem(last=False)
        return len(tries)

    def count(self, address: str) -> int:
        """The wrong tries `address` sent in the window (at most `allowed` are kept)."""
        since = self._clock() - self.window_s
        return sum(1 for at in self._tries.get(address, ()) if at > since)

    def right(self, address: str) -> None:
        self._tries.pop(address, None)


class TokenCheck:
    """The one check of AMEYO_HTTP_TOKEN, in constant time: /mcp's bearer header, and the operator
    page's header, sign-in form and cookie (`ameyo_mcp.server.page`), with one count of the wrong
    tries of each client across them all (`tries`), so that a client held back at one guesses at
    none. The token guards this server only: it is never sent on to Ameyo, and never written to a
    log."""

    def __init__(self, token: str) -> None:
        self._expected = token.encode()
        self.tries = WrongTries(WRONG_TRIES, WRONG_WINDOW_S, WRONG_ADDRESSES, monotonic)

    def wrong(self, scope: Scope, where: str) -> None:
        """Count a wrong token from the request's client, and log it (`log_wrong`)."""
        self.tries.wrong(client_key(scope))
        self.log_wrong(scope, where)

    def log_wrong(self, scope: Scope, where: str) -> None:
        """Log a wrong token already counted: the client, never the token."""
        log.warning(
            "a wrong token in %s from %s (%d in the last %d s; %d allowed)",
            where,
            client_key(scope),
            self.tries.count(client_key(scope)),
            round(self.tries.window_s),
            self.tries.allowed,
        )

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
        if scope["type"] == "http":
            # A client held back for its wrong tokens is refused the right one too: else it would
            # learn which of its guesses was right.
            wait_s = self.check.tries.wait_s(client_key(scope))
            if wait_s > 0:
                await plain(send, 429, too_many(wait_s) + "\n", [(b"retry-after", retry_after(wait_s))])
                return
            if not self.check.bearer(header(scope, b"authorization")):
                if header(scope, b"authorization") is not None:
                    self.check.wrong(scope, "a bearer header at /mcp")
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
