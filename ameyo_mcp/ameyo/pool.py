"""Connections to the one Ameyo server: a stack of idle ones, for `AmeyoClient`'s httpx client.

httpx's default pool (httpcore's) re-plans every connection and every queued request on each request
and each response: with 50 calls in flight that scan, and a `select` per idle connection to see
whether the server closed it, cost a tool call more CPU than the rest of its request
(`bench/bench_calls.py`). This pool does the same job for a client that speaks to one origin: a
request takes the most recently used idle connection (checking only that one for expiry and for a
close by the server), or opens one while fewer than the limit are open, or waits for a slot within
the pool timeout; a response gives its connection back when its body is read. Connections are
httpcore's own, so the HTTP/1.1 handling, timeouts and errors are httpx's as before; its network
stream holds a request's head until its body follows, so that each request leaves in one write
(httpcore writes them separately, and the simulator or a proxy sees two segments).
"""

# httpcore's stream and backend interfaces take their timeouts as parameters.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

import httpcore
import httpx

from ..errors import AmeyoMcpError

# httpx's default: an idle connection older than this is closed rather than reused.
_KEEPALIVE_S = 5.0


class OneOriginTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with `StackPool` in place of httpcore's pool."""

    def __init__(self, *, limit: int) -> None:
        context = httpx.create_ssl_context()
        super().__init__(verify=context, limits=httpx.Limits(max_connections=limit))
        # The one seam httpx leaves for its pool: the transport maps httpcore's errors around it.
        self._pool = StackPool(limit=limit, ssl_context=context)


class StackPool(httpcore.AsyncConnectionPool):
    def __init__(self, *, limit: int, ssl_context: ssl.SSLContext) -> None:
        super().__init__(
            ssl_context=ssl_context,
            max_connections=limit,
            max_keepalive_connections=limit,
            keepalive_expiry=_KEEPALIVE_S,
            network_backend=_OneWrite(httpcore.AnyIOBackend()),
        )
        self._limit = limit
        self._idle: list[httpcore.AsyncConnectionInterface] = []
        self._slots: asyncio.Semaphore | None = None

    @property
    def connections(self) -> list[httpcore.AsyncConnectionInterface]:
        return list(self._idle)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._limit)
        try:
            await asyncio.wait_for(self._slots.acquire(), request.extensions.get("timeout", {}).get("pool"))
        except TimeoutError:
            raise httpcore.PoolTimeout("no connection to Ameyo became free in time") from None
        connection: httpcore.AsyncConnectionInterface | None = None
        try:
            while True:
                connection = await self._connection(request)
                try:
                    response = await connection.handle_async_request(request)
                    break
                except ClosedBeforeSent:
                    # Nothing of the request left: another connection (a new one at last) takes it.
                    await connection.aclose()
                    connection = None
        except BaseException:
            await self._give_back(connection, reuse=False)
            raise
        stream = response.stream
        assert isinstance(stream, AsyncIterable)
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_GivesBack(stream, connection, self),
            extensions=response.extensions,
        )

    async def _connection(self, request: httpcore.Request) -> httpcore.AsyncConnectionInterface:
        """The most recently used idle connection that is still good, or a new one."""
        while self._idle:
            connection = self._idle.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
            await connection.aclose()
        return self.create_connection(request.url.origin)

    async def _give_back(self, connection: httpcore.AsyncConnectionInterface | None, *, reuse: bool) -> None:
        assert self._slots is not None
        self._slots.release()
        if connection is None:
            return
        if reuse and connection.is_idle():
            self._idle.append(connection)
        else:
            await connection.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.aclose()


class _GivesBack:
    """A response body that returns its connection to the pool once it is read and closed."""

    def __init__(
        self, stream: AsyncIterable[bytes], connection: httpcore.AsyncConnectionInterface, pool: StackPool
    ) -> None:
        self._stream = stream
        self._connection = connection
        self._pool: StackPool | None = pool

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        closing = getattr(self._stream, "aclose", None)
        try:
            if closing is not None:
                await closing()
        except BaseException:
            await pool._give_back(self._connection, reuse=False)
            raise
        await pool._give_back(self._connection, reuse=True)


class _OneWrite(httpcore.AsyncNetworkBackend):
    """AnyIO's network backend whose streams send what was written when the answer is read."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _HeldWrites(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _HeldWrites(await self._backend.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class ClosedBeforeSent(AmeyoMcpError):
    """The server closed a kept-alive connection before this request was written on it: it never
    left, so it is sent on another connection, a write too."""


class _HeldWrites(httpcore.AsyncNetworkStream):
    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._held: list[bytes] = []
        self._timeout: float | None = None
        self._reused = False  # a request went out on it before: it idled in the pool since

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # A request is its head, then its body: the head waits for what follows, a read sends all.
        self._held.append(buffer)
        self._timeout = timeout

    async def _flush(self) -> None:
        if self._held:
            # The pool looked whether the server had closed the connection when it took it, but
            # the request's head and body are written awaits later: a loop held up meanwhile (a
            # slow step of another task, a starved CPU) outlived the server's keep-alive, and the
            # request went out on a closed connection, to be told broken with its outcome unknown
            # though the server never read it. Looked at again here, with no await before the
            # write: the race left is the network's own. (Not a new connection's first request:
            # a TLS server's session tickets may be there to read.)
            if self._reused and self._stream.get_extra_info("is_readable"):
                self._held.clear()
                raise ClosedBeforeSent("the server closed the kept-alive connection before the request")
            self._reused = True
            data = b"".join(self._held)
            self._held.clear()
            await self._stream.write(data, self._timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        await self._flush()
        return await self._stream.read(max_bytes, timeout)

    async def aclose(self) -> None:
        self._held.clear()
        await self._stream.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        await self._flush()
        return _HeldWrites(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)
