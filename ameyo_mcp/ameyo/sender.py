"""How a command's request reaches Ameyo: one `httpx.AsyncClient`, and, unless the environment names
a proxy, our own pool of connections (`pool.OneOriginTransport`) with each request handed to it
directly.

Directly: httpx's client adds, on every request, a merge of URLs, headers, cookies and timeouts, an
auth flow, a redirect loop and a cookie jar pass over each response, about an eighth of a whole tool
call's CPU (bench/bench_calls.py). Every command goes to one URL with the same headers and neither
auth nor redirects, so the request is built from parts made once; cookies are still kept and sent
back, as the client would (a load balancer's stickiness, a servlet container's session).

With HTTP_PROXY, HTTPS_PROXY or ALL_PROXY set, httpx's own transport and client path are used, so
that it applies the proxy and NO_PROXY by its rules.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

# Every connection that may be open is also kept alive: with fewer idle slots than open ones, a
# burst of calls closes the surplus and the next burst opens them again (a TLS handshake each).
MAX_CONNECTIONS = 16
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def proxied_by_environment() -> bool:
    """Whether the environment names a proxy, which httpx then applies (with NO_PROXY) itself."""
    return any(os.environ.get(name) or os.environ.get(name.lower()) for name in _PROXY_VARIABLES)


class Sender:
    """POSTs bodies to one URL with the same headers: `await sender.post(body, timeout_s)`."""

    def __init__(
        self, url: str, headers: dict[str, str], transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        import httpx

        from .pool import OneOriginTransport

        if transport is None and not proxied_by_environment():
            transport = OneOriginTransport(limit=MAX_CONNECTIONS)
        self.http = httpx.AsyncClient(
            headers=headers,
            follow_redirects=False,
            transport=transport,
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
        )
        # None: a proxy may apply, and the client decides per request.
        self._direct = transport
        self._url = httpx.URL(url)
        self._headers = list(self.http.headers.multi_items())
        self._timeouts: tuple[float, httpx.Timeout, dict[str, Any]] | None = None

    async def post(self, body: bytes, timeout_s: float) -> httpx.Response:
        """The response, read whole; httpx's exceptions as its client raises them."""
        timeout, as_dict = self._timeout(timeout_s)
        if self._direct is None:
            return await self.http.post(self._url, content=body, timeout=timeout)
        import httpx

        request = httpx.Request(
            "POST", self._url, headers=self._headers, content=body, extensions={"timeout": as_dict}
        )
        cookies = self.http.cookies
        if len(cookies.jar):
            cookies.set_cookie_header(request)
        response = await self._direct.handle_async_request(request)
        response.request = request
        try:
            await response.aread()
        finally:
            await response.aclose()
        if "set-cookie" in response.headers:
            cookies.extract_cookies(response)
        return response

    def _timeout(self, seconds: float) -> tuple[httpx.Timeout, dict[str, Any]]:
        if self._timeouts is None or self._timeouts[0] != seconds:
            import httpx

            timeout = httpx.Timeout(seconds)
            self._timeouts = (seconds, timeout, timeout.as_dict())
        return self._timeouts[1], self._timeouts[2]

    async def aclose(self) -> None:
        await self.http.aclose()
