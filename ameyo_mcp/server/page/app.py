"""The operator's page over HTTP: `/` (the page, or its sign-in form), `/operator/status` (the JSON
it polls), `/operator/sign-in` and `/operator/sign-out`, and its script and style sheet, all from
the package (no CDN: deployments are often offline).

Behind the same token as /mcp (`TokenCheck`): an `Authorization: Bearer` header, or a cookie got by
posting the token once to the sign-in form. The cookie is HttpOnly and SameSite=Strict, and holds an
expiry and an HMAC of it under the token, never the token; the token never travels in a URL, so no
log or browser history holds it. Without a token the page is open where /mcp is (a loopback bind),
and closed elsewhere (`ameyo-mcp receiver` serves off loopback without one).
"""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from ..http_access import TokenCheck
from ..http_answers import header

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


class OperatorPage:
    """The page's ASGI app. `check`: the token's check, None without a token; `open_without_token`:
    whether it is served then (bound to loopback, as /mcp is)."""

    def __init__(
        self,
        status: StatusSource,
        check: TokenCheck | None,
        *,
        open_without_token: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.status = status
        self.check = check
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
            if method != "POST":
                await _answer(send, 405, b"POST only\n", "text/plain; charset=utf-8", method)
                return
            await _redirect(send, self._cookie("", 0, scope))
            return
        if not self._allowed(scope):
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

    def _allowed(self, scope: Scope) -> bool:
        if self.check is None:
            return self.open
        if header(scope, b"authorization") is not None:
            return self.check.bearer(header(scope, b"authorization"))
        value = _cookie_value(header(scope, b"cookie"), COOKIE)
        return value is not None and self._valid_cookie(value)

    def _valid_cookie(self, value: str) -> bool:
        assert self.check is not None
        version, _, rest = value.partition(".")
        expires, _, signature = rest.partition(".")
        if version != "v1" or not expires.isdigit():
            return False
        fits = self.check.signed(f"operator-page:{expires}".encode(), signature.encode())
        return fits and int(expires) > self._clock()

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
        body = await _form_body(receive)
        given = (parse_qs(body.decode("utf-8", "replace"), max_num_fields=4).get("token") or [""])[0]
        if not self.check.matches(given.strip().encode()):
            log.info("operator page: a sign-in with a wrong token")
            await self._form(send, "POST", WRONG_TOKEN)
            return
        expires = int(self._clock()) + COOKIE_S
        signature = self.check.sign(f"operator-page:{expires}".encode()).decode()
        await _redirect(send, self._cookie(f"v1.{expires}.{signature}", COOKIE_S, scope))

    async def _form(self, send: Send, method: str, message: str) -> None:
        page = self._sign_in.replace("<!--message-->", html.escape(message))
        await _answer(send, 401, page.encode(), "text/html; charset=utf-8", method, bearer=True)


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
) -> None:
    headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k, cache) if cache is not None and k == b"cache-control" else (k, v) for k, v in _HEADERS]
    if bearer:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
