"""The `/ameyo/status` endpoint (ASGI): token first, then the fields, then a 200 only once committed."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import PushRejected, StoreFailed
from ..store.records import CallEvent
from .body import MAX_BODY_BYTES, TOKEN_FIELD, body_fields, query_fields
from .fields import PhoneKey, normalise
from .writer import BatchWriter

log = logging.getLogger(__name__)

STATUS_PATH = "/ameyo/status"
Stored = Callable[[CallEvent], Awaitable[None] | None]


class Receiver:
    """Answers pushes at `STATUS_PATH`; any other path goes to `fallback` (the MCP app), or 404."""

    def __init__(
        self,
        token: str,
        writer: BatchWriter,
        *,
        zone: ZoneInfo,
        phone_key: PhoneKey,
        on_stored: Stored | None = None,
        fallback: ASGIApp | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._token = token.encode()
        self._writer = writer
        self._zone = zone
        self._phone_key = phone_key
        self._on_stored = on_stored
        self._fallback = fallback
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != STATUS_PATH:
            if self._fallback is not None:
                await self._fallback(scope, receive, send)
            elif scope["type"] == "http":
                await _answer(send, 404, "Not found: Ameyo pushes go to /ameyo/status\n")
            return
        status, text = await self._handle(scope, receive)
        await _answer(send, status, text)

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, str]:
        method = scope["method"]
        if method not in ("GET", "POST"):
            return 405, "Send the push as GET with a query string or as POST\n"
        headers = dict(scope.get("headers") or [])
        try:
            fields = query_fields(scope.get("query_string") or b"")
        except PushRejected as exc:
            return exc.status, f"{exc}\n"
        # The token is checked before the body is read: an outsider costs us nothing more.
        if not self._authorised(fields.pop(TOKEN_FIELD, None), headers):
            # Ameyo does not send a refused push again: a push URL with a stale or mistyped token
            # loses every call outcome, so the operator must see it in the log and on the page.
            log.warning(
                "refused a push from %s: missing or wrong push token (check the token in the URL "
                "Ameyo calls against AMEYO_PUSH_TOKEN); the call outcome is lost",
                _client(scope),
            )
            return 401, (
                "Missing or wrong push token: give AMEYO_PUSH_TOKEN as ?token=… in the URL, an "
                "X-Ameyo-Token header or Authorization: Bearer …\n"
            )
        try:
            if method == "POST":
                body = await _read_body(headers, receive)
                content_type = headers.get(b"content-type", b"").decode("latin-1")
                for name, value in body_fields(content_type, body).items():
                    if name != TOKEN_FIELD:
                        fields.setdefault(name, value)
            event = normalise(
                fields, zone=self._zone, phone_key=self._phone_key, now=self._clock() if self._clock else None
            )
        except PushRejected as exc:
            # A refused push is an outcome lost for good (Ameyo does not send it again).
            log.warning("refused a push from %s: %s", _client(scope), exc)
            return exc.status, f"{exc}\n"
        try:
            new = await self._writer.add(event)
        except StoreFailed:
            return 503, "The push could not be stored just now; nothing was kept. Send it again.\n"
        if new and self._on_stored is not None:
            try:
                pending = self._on_stored(event)
                if pending is not None:
                    await pending
            except Exception:  # a listener's failure must not turn a stored push into an error
                log.exception("call event listener failed")
        return 200, "OK stored\n" if new else "OK already stored\n"

    def _authorised(self, query_token: str | None, headers: dict[bytes, bytes]) -> bool:
        given: bytes | None = None
        if query_token is not None:
            # A token holds no space (the settings refuse one): a space here is a `+` of a base64
            # token as written in the URL, which a query reads as a space.
            given = query_token.replace(" ", "+").encode()
        elif b"x-ameyo-token" in headers:
            given = headers[b"x-ameyo-token"]
        elif headers.get(b"authorization", b"")[:7].lower() == b"bearer ":  # the scheme in any case
            given = headers[b"authorization"][7:].strip()
        return given is not None and hmac.compare_digest(given, self._token)


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "an unknown client"


async def _read_body(headers: dict[bytes, bytes], receive: Receive) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PushRejected(413, f"The push is over {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise PushRejected(400, "The request ended before its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PushRejected(413, f"The push is over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers: Sequence[tuple[bytes, bytes]] = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})
