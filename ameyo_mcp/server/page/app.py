"""The operator's page over HTTP: `/` (the page, or its sign-in form), `/operator/status` (the JSON
it polls), `/operator/sign-in` and `/operator/sign-out`, and its script and style sheet, all from
the package (no CDN: deployments are often offline).

Behind the same token as /mcp (`TokenCheck`): an `Authorization: Bearer` header, or a cookie got by
posting the token once to the sign-in form. The cookie is HttpOnly and SameSite=Strict, and holds an
expiry, a random id and an HMAC of both under the token, never the token; the token never travels in
a URL, so no log or browser history holds it. Signing out records the cookie's id (a digest of it) in
the store until the cookie expires (`SignOuts`), so a copy of it is refused by every replica on the
store, not only forgotten by the browser. Without a token the page is open where /mcp is (a loopback
bind), and closed elsewhere (`ameyo-mcp receiver` serves off loopback without one). Wrong tokens are
limited per client (`http_access.WrongTries`, one count with /mcp's): a few a minute, then 429 for
the rest of that minute.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from ...errors import StoreError
from ..http_access import TokenCheck, client_key, retry_after, too_many
from ..http_answers import header

if TYPE_CHECKING:
    from ...store import Store

log = logging.getLogger(__name__)

PAGE = "/"
PREFIX = "/operator/"
STATUS = "/operator/status"
SIGN_IN = "/operator/sign-in"
SIGN_OUT = "/operator/sign-out"
# Files of the server's package (`ameyo_mcp/server`), answered without the token: they hold nothing of
# the server's, and the sign-in form needs them. The icon is the server's own (`icons.py`).
ASSETS = {
    "/operator/page.js": ("page/page.js", "text/javascript; charset=utf-8"),
    "/operator/page.css": ("page/page.css", "text/css; charset=utf-8"),
    "/operator/icon.svg": ("assets/ameyo-mcp.svg", "image/svg+xml"),
}
INDEX, SIGN_IN_FORM = "page/index.html", "page/sign-in.html"
# Every file of the package the page reads (a wheel must ship them all).
FILES = (INDEX, SIGN_IN_FORM, *(path for path, _ in ASSETS.values()))
COOKIE = "ameyo_operator"
COOKIE_S = 12 * 3600
# `v2.<expires>.<id>.<hmac>`: the id is what a sign-out revokes. A v1 cookie (no id) could not be
# revoked, so it is refused: its browser signs in once more.
COOKIE_VERSION = "v2"
_COOKIE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Sign-outs the store could not take yet, kept in this process until it does (`SignOuts`).
MAX_PENDING_SIGN_OUTS = 1000
MAX_FORM_BYTES = 4096

# Only the page's own script, style sheet and JSON: customer text can never run as code here.
_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: with no-referrer a browser posts the sign-in form with `Origin: null`,
    # which the Host and Origin checks refuse.
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
NO_TOKEN = (
    "The operator's page needs AMEYO_HTTP_TOKEN on a server that listens beyond this machine: set it, "
    "then sign in with it.\n"
)
WRONG_TOKEN = "That is not this server's token (AMEYO_HTTP_TOKEN). Try again."
NO_STORE = (
    "The server's store cannot be reached, so this browser's sign-in cannot be checked against "
    "sign-outs: try again in a minute, or send Authorization: Bearer <AMEYO_HTTP_TOKEN>."
)
SIGN_OUT_UNRECORDED = (
    "Signed out of this browser, but the server's store could not record the sign-out: this process "
    "refuses the cookie now and records it when the store is back; until then another replica may "
    "still take a copy of it. Rotate AMEYO_HTTP_TOKEN to end every cookie at once.\n"
)

StatusSource = Callable[[], Awaitable[dict[str, Any]]]


def is_page_path(path: str) -> bool:
    return path == PAGE or path.startswith(PREFIX)


class Mounted:
    """The page at its paths in front of `app`, which gets every other request."""

    def __init__(self, app: ASGIApp, page: ASGIApp) -> None:
        self.app = app
        self.page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_page_path(scope["path"]):
            await self.page(scope, receive, send)
        else:
            await self.app(scope, receive, send)


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await _answer(send, 404, b"Not found\n", "text/plain; charset=utf-8", scope["method"])


def _asset(path: str) -> bytes:
    return resources.files("ameyo_mcp.server").joinpath(path).read_bytes()


def cookie_digest(cookie_id: str) -> str:
    """What the store keeps of a signed-out cookie: a digest of its id, which no one can turn back
    into the id (and a cookie would also need its HMAC under the token)."""
    return hashlib.sha256(f"operator-page-cookie:{cookie_id}".encode()).hexdigest()


class SignOuts:
    """The page's cookies signed out before they expire, in the store every process on it shares
    (`Store.revoke_page_cookie`), so that a copy of one is refused everywhere. A sign-out the store
    cannot take is kept here (at most `MAX_PENDING_SIGN_OUTS`, until they expire): this process
    refuses the cookie, and records it with its next check that reaches the store. Every method may
    raise `StoreError`: a cookie is then refused, never taken unchecked."""

    def __init__(self, store: Callable[[], Store], clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._pending: dict[str, float] = {}
        self._lock = threading.Lock()

    async def revoked(self, cookie_id: str) -> bool:
        digest = cookie_digest(cookie_id)
        with self._lock:
            if digest in self._pending:
                return True
        return await anyio.to_thread.run_sync(self._revoked, digest)

    async def revoke(self, cookie_id: str, expires: float) -> None:
        with self._lock:
            self._pending[cookie_digest(cookie_id)] = expires
        await anyio.to_thread.run_sync(self._record)

    def _revoked(self, digest: str) -> bool:
        self._record()
        return self._store().page_cookie_revoked(digest)

    def _record(self) -> None:
        """Write the pending sign-outs to the store; those it took are no longer pending."""
        now = self._clock()
        with self._lock:
            pending = {d: e for d, e in self._pending.items() if e > now}
            # The soonest to expire go first: a cookie past its expiry is refused anyway.
            kept = sorted(pending.items(), key=lambda item: item[1])[-MAX_PENDING_SIGN_OUTS:]
            self._pending = dict(kept)
        for digest, expires in kept:
            self._store().revoke_page_cookie(digest, expires=expires, now=now)
            with self._lock:
                self._pending.pop(digest, None)


class OperatorPage:
    """The page's ASGI app. `check`: the token's check, None without a token; `open_without_token`:
    whether it is served then (bound to loopback, as /mcp is)."""

    def __init__(
        self,
        status: StatusSource,
        check: TokenCheck | None,
        *,
        open_without_token: bool,
        sign_outs: SignOuts | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.status = status
        self.check = check
        self.sign_outs = sign_outs
        self.open = check is not None or open_without_token
        self._clock = clock
        self._files = {path: (_asset(name), kind) for path, (name, kind) in ASSETS.items()}
        self._page = _asset(INDEX)
        self._sign_in = _asset(SIGN_IN_FORM).decode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path in self._files:
            if method not in ("GET", "HEAD"):
                await _answer(send, 405, b"GET only\n", "text/plain; charset=utf-8", method)
                return
            body, kind = self._files[path]
            await _answer(send, 200, body, kind, method, cache=b"max-age=300")
            return
        if not self.open:
            await _answer(send, 403, NO_TOKEN.encode(), "text/plain; charset=utf-8", method)
            return
        if path == SIGN_IN:
            await self._signing_in(scope, receive, send)
            return
        if path == SIGN_OUT:
            await self._signing_out(scope, send)
            return
        if self.check is not None and header(scope, b"authorization") is not None:
            wait_s = self.check.tries.wait_s(client_key(scope))
            if wait_s > 0:
                body, kind = _error_body(path, too_many(wait_s)), _error_kind(path)
                await self._too_many(send, method, wait_s, body, kind)
                return
        try:
            allowed = await self._allowed(scope)
        except StoreError as exc:
            log.warning("operator page: a cookie could not be checked against sign-outs: %s", exc.message)
            body, kind = _error_body(path, NO_STORE), _error_kind(path)
            await _answer(send, 503, body, kind, method, retry_after=b"30")
            return
        if not allowed:
            if path == PAGE:
                await self._form(send, method, "")
            else:
                body = json.dumps({"error": "Sign in with the server's token (AMEYO_HTTP_TOKEN)."}).encode()
                await _answer(send, 401, body, "application/json", method, bearer=True)
            return
        if method not in ("GET", "HEAD"):
            await _answer(send, 405, b"GET only\n", "text/plain; charset=utf-8", method)
        elif path == PAGE:
            await _answer(send, 200, self._page, "text/html; charset=utf-8", method)
        elif path == STATUS:
            body = json.dumps(await self.status(), ensure_ascii=False).encode()
            await _answer(send, 200, body, "application/json", method)
        else:
            await _answer(send, 404, b"Not found\n", "text/plain; charset=utf-8", method)

    async def _allowed(self, scope: Scope) -> bool:
        """Whether the request carries the token or a good cookie; `StoreError` when a good cookie
        cannot be checked against the sign-outs."""
        if self.check is None:
            return self.open
        if header(scope, b"authorization") is not None:
            if self.check.bearer(header(scope, b"authorization")):
                return True
            self.check.wrong(scope, "a bearer header")
            return False
        signed = self._signed_cookie(scope)
        if signed is None:
            return False
        return self.sign_outs is None or not await self.sign_outs.revoked(signed[0])

    def _signed_cookie(self, scope: Scope) -> tuple[str, int] | None:
        """The id and expiry of the request's cookie, when it is one this server signed and it has
        not expired (whether it was signed out is the store's to say)."""
        assert self.check is not None
        value = _cookie_value(header(scope, b"cookie"), COOKIE)
        parts = (value or "").split(".")
        if len(parts) != 4:
            return None
        version, expires, cookie_id, signature = parts
        if version != COOKIE_VERSION or not expires.isdigit() or not _COOKIE_ID.fullmatch(cookie_id):
            return None
        fits = self.check.signed(_signed_text(expires, cookie_id), signature.encode())
        return (cookie_id, int(expires)) if fits and int(expires) > self._clock() else None

    def _cookie(self, value: str, max_age: int, scope: Scope) -> bytes:
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        return f"{COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}".encode()

    async def _signing_in(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _answer(send, 405, b"POST only\n", "text/plain; charset=utf-8", scope["method"])
            return
        if self.check is None:  # open without a token: nothing to sign in with
            await _redirect(send, None)
            return
        address = client_key(scope)
        wait_s = self.check.tries.wait_s(address)
        if wait_s > 0:  # refused before the token is even compared: nothing is learnt by trying
            page = self._sign_in.replace("<!--message-->", html.escape(too_many(wait_s))).encode()
            await self._too_many(send, "POST", wait_s, page, "text/html; charset=utf-8")
            return
        # Counted as wrong before its body is read, and forgiven if right: sign-ins sent together
        # each wait for their bodies, and would all be compared had none been counted yet.
        self.check.tries.wrong(address)
        body = await _form_body(receive)
        given = (parse_qs(body.decode("utf-8", "replace"), max_num_fields=4).get("token") or [""])[0]
        if not self.check.matches(given.strip().encode()):
            self.check.log_wrong(scope, "the sign-in form")
            await self._form(send, "POST", WRONG_TOKEN)
            return
        self.check.tries.right(address)
        expires = str(int(self._clock()) + COOKIE_S)
        cookie_id = secrets.token_urlsafe(18)
        signature = self.check.sign(_signed_text(expires, cookie_id)).decode()
        value = f"{COOKIE_VERSION}.{expires}.{cookie_id}.{signature}"
        await _redirect(send, self._cookie(value, COOKIE_S, scope))

    async def _signing_out(self, scope: Scope, send: Send) -> None:
        """Forget the cookie in the browser, and revoke it for every process on the store: a copy of
        it (a shared machine, a stolen backup) is refused from now on, not for the rest of its
        12 hours. Only a cookie this server signed is recorded: strangers cannot fill the store."""
        method = scope["method"]
        if method != "POST":
            await _answer(send, 405, b"POST only\n", "text/plain; charset=utf-8", method)
            return
        cleared = self._cookie("", 0, scope)
        signed = self._signed_cookie(scope) if self.check is not None else None
        if signed is not None and self.sign_outs is not None:
            try:
                await self.sign_outs.revoke(*signed)
            except StoreError as exc:
                log.warning("operator page: a sign-out could not be recorded in the store: %s", exc.message)
                body = SIGN_OUT_UNRECORDED.encode()
                kind = "text/plain; charset=utf-8"
                await _answer(send, 503, body, kind, method, cookie=cleared, retry_after=b"30")
                return
        await _redirect(send, cleared)

    async def _too_many(self, send: Send, method: str, wait_s: float, body: bytes, kind: str) -> None:
        await _answer(send, 429, body, kind, method, retry_after=retry_after(wait_s))

    async def _form(self, send: Send, method: str, message: str) -> None:
        page = self._sign_in.replace("<!--message-->", html.escape(message))
        await _answer(send, 401, page.encode(), "text/html; charset=utf-8", method, bearer=True)


def _signed_text(expires: str, cookie_id: str) -> bytes:
    return f"operator-page:{COOKIE_VERSION}:{expires}:{cookie_id}".encode()


def _error_body(path: str, message: str) -> bytes:
    """`message` as the page's own address answers it (text), or as its JSON does."""
    return (message + "\n").encode() if path == PAGE else json.dumps({"error": message}).encode()


def _error_kind(path: str) -> str:
    return "text/plain; charset=utf-8" if path == PAGE else "application/json"


def _cookie_value(cookies: bytes | None, name: str) -> str | None:
    for part in (cookies or b"").decode("latin-1").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip()
    return None


async def _form_body(receive: Receive) -> bytes:
    """The sign-in form's body, at most `MAX_FORM_BYTES` (a token is far shorter)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return b""
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _redirect(send: Send, cookie: bytes | None) -> None:
    headers = [(b"location", PAGE.encode()), (b"content-length", b"0"), *_HEADERS]
    if cookie is not None:
        headers.append((b"set-cookie", cookie))
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    kind: str,
    method: str,
    *,
    bearer: bool = False,
    cache: bytes | None = None,
    cookie: bytes | None = None,
    retry_after: bytes | None = None,
) -> None:
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k, cache) if cache is not None and k == b"cache-control" else (k, v) for k, v in _HEADERS]
    if bearer:
        headers.append((b"www-authenticate", b"Bearer"))
    if cookie is not None:
        headers.append((b"set-cookie", cookie))
    if retry_after is not None:
        headers.append((b"retry-after", retry_after))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
