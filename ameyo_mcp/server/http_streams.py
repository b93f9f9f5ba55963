"""A cap on the event streams held open over HTTP: a 2025-11-25 session's GET stream and a
2026-07-28 `subscriptions/listen` stream. Each holds a connection for as long as its client likes,
and a GET stream keeps its session from ever being idle, so without a cap enough of them leave no
connection and no session for anyone else. The cap is at most half the connections and half the
sessions: requests always find both.

Past the cap a new stream is refused at once (503 with Retry-After); the streams already open stay.
A client without its stream still works, its requests answered each on its own POST, and only its
unsolicited notices wait until a stream is free. Closing the oldest stream instead would not free
anything for long: its client opens it again, and closes another's."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Settings
from .http_answers import header, refuse

# The one MCP request that lasts as long as its client listens.
LISTEN = b"subscriptions/listen"
RETRY_AFTER_S = 30


def stream_cap(settings: Settings, max_connections: int) -> int:
    """AMEYO_HTTP_MAX_STREAMS, lowered to half of `max_connections` (the cap in force) and half of
    AMEYO_HTTP_MAX_SESSIONS."""
    return max(1, min(settings.http_max_streams, max_connections // 2, settings.http_max_sessions // 2))


def stream_note(cap: int, settings: Settings) -> str:
    """The cap as the startup line states it."""
    if cap < settings.http_max_streams:
        return (
            f"at most {cap} event streams: AMEYO_HTTP_MAX_STREAMS={settings.http_max_streams} lowered to "
            "half the connections and sessions"
        )
    return f"at most {cap} event streams"


class StreamCap:
    """In front of /mcp: counts the event streams open, and refuses one past `cap`."""

    def __init__(self, app: ASGIApp, cap: int) -> None:
        self.app = app
        self.cap = cap
        self.open = 0
        self._full = (
            f"This server already holds its limit of {cap} open event streams (AMEYO_HTTP_MAX_STREAMS), "
            "so it opened none for you. Your requests are still answered, each on its own POST; ask for "
            "the stream again later."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_stream(scope):
            await self.app(scope, receive, send)
            return
        if self.open >= self.cap:
            # The body is left unread: JSON-RPC's null id, which a client pairs with the one
            # request of its POST (a GET carries none).
            await refuse(send, None, self._full, retry_after_s=RETRY_AFTER_S)
            return
        # Counted from its request, not from its answer: streams asked for at the same moment
        # cannot all slip in under the cap. One that is not opened (an unknown session, a second
        # stream for one session) ends at once and gives its place back.
        self.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1


def _is_stream(scope: Scope) -> bool:
    if scope["type"] != "http":
        return False
    method = scope["method"]
    return method == "GET" or (method == "POST" and header(scope, b"mcp-method") == LISTEN)
