"""Run the simulator over real HTTP: in a background thread for tests and demos, or blocking for the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

import uvicorn

from ..errors import DeliberateDrop
from ..listener import server_socket
from .app import COMMAND_PATH, ConnectionAborter, create_app
from .state import PushedCall, SimulatorConfig, SimulatorState

if TYPE_CHECKING:
    from .dialer import Dialer

_START_TIMEOUT_S = 5.0


class SimulatorThread:
    """A simulator served by uvicorn on its own event loop in a daemon thread.

    ``port=0`` (the default) takes a free ephemeral port; the socket is bound before the thread
    starts, so :attr:`base_url` is known at once, and :meth:`start` returns only once uvicorn serves.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state: SimulatorState | None = None,
    ) -> None:
        self.state = state or SimulatorState(config)
        self.config = self.state.config
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dialer: Dialer | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("simulator not started")
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far: how well a client keeps its connections alive."""
        return self._server.connections_accepted if isinstance(self._server, _Server) else 0

    @property
    def command_url(self) -> str:
        return self.base_url + COMMAND_PATH

    def start(self) -> SimulatorThread:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        sock = server_socket(self.host, self._requested_port, backlog=128)
        server = _make_server(self.state)
        self._socket, self._server, self._port = sock, server, sock.getsockname()[1]
        web_host = f"{self.host}:{self._port}"

        def ready(loop: asyncio.AbstractEventLoop, dialer: Dialer | None) -> None:
            self._loop, self._dialer = loop, dialer

        thread = threading.Thread(
            target=asyncio.run,
            args=(_serve(server, sock, self.state, web_host, ready),),
            name="ameyo-simulator",
            daemon=True,
        )
        self._thread = thread
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Ameyo simulator did not start")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self._loop = self._dialer = None

    def dial(self, count: int, timeout: float = 60.0) -> list[PushedCall]:
        """Take ``count`` turns of the dialer now, one after another, and push each call placed (needs
        ``push_url``): a turn that finds no contact it may dial places none.

        With ``push_rate=0`` nothing else dials, so a fixed seed and clock give the same calls every run.
        """
        loop, dialer = self._loop, self._dialer
        if loop is None or dialer is None:
            raise RuntimeError("the simulator is not running with a push_url")
        return asyncio.run_coroutine_threadsafe(dialer.calls(count), loop).result(timeout)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 8888) -> None:
    """Serve until interrupted; says where on stderr (stdout may carry an MCP stream)."""
    state = SimulatorState(config)
    cfg = state.config
    sock = server_socket(host, port, backlog=128)
    server = _make_server(state)
    shown_host = f"[{host}]" if ":" in host else host
    # The documented default is said; a password given with --password may be one used elsewhere.
    password = repr(cfg.password) if cfg.password == SimulatorConfig().password else "as given (not shown)"
    sys.stderr.write(
        f"Ameyo simulator listening on http://{shown_host}:{sock.getsockname()[1]}{COMMAND_PATH}"
        f" (login userId={cfg.user_id!r} password {password}; server zone {cfg.timezone})\n"
    )
    sys.stderr.flush()
    try:
        asyncio.run(_serve(server, sock, state, f"{shown_host}:{sock.getsockname()[1]}"))
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; exiting is what was asked
        pass
    finally:
        sock.close()


async def _serve(
    server: uvicorn.Server,
    sock: socket.socket,
    state: SimulatorState,
    web_host: str,
    ready: Callable[[asyncio.AbstractEventLoop, Dialer | None], None] | None = None,
) -> None:
    """Serve on ``sock``; with a push URL, the dialer runs beside the server and stops with it."""
    config = state.config
    dialer: Dialer | None = None
    if config.push_url:
        from .dialer import Dialer  # imports httpx: only when a push URL asks for it

        dialer = Dialer(state, web_host)
    if ready is not None:
        ready(asyncio.get_running_loop(), dialer)
    pacing = None
    if dialer is not None and config.push_rate > 0:
        pacing = asyncio.create_task(dialer.run(config.push_rate))
    try:
        await server.serve(sockets=[sock])
    finally:
        if pacing is not None:
            pacing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pacing
        if dialer is not None:
            await dialer.close()


def _make_server(state: SimulatorState) -> uvicorn.Server:
    app = create_app(state)
    config = uvicorn.Config(
        app,
        log_config=None,  # leave the host program's logging alone
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=state.config.keep_alive_s,  # type: ignore[arg-type]  # a float works: call_later
    )
    server = _Server(config)
    config.http = _counting_protocol(server)
    app.state.abort_connection = _aborter(server)
    _quiet_deliberate_drops()
    return server


class _Server(uvicorn.Server):
    """uvicorn's server, noticing ``should_exit`` within 10 ms instead of 100 (tests stop it often)."""

    connections_accepted = 0

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            # on_tick refreshes the Date header every 10th tick: now every 0.1 s rather than 1 s.
            counter = (counter + 1) % 864_000
            await asyncio.sleep(0.01)


def _counting_protocol(server: _Server) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class CountingProtocol(H11Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            server.connections_accepted += 1
            super().connection_made(transport)  # type: ignore[arg-type]

    return CountingProtocol


def _aborter(server: uvicorn.Server) -> ConnectionAborter:
    """Cut a client's connection by finding its uvicorn protocol (ASGI gives no transport)."""

    def abort(client: object) -> bool:
        if client is None:
            return False
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if getattr(connection, "client", None) == client and transport is not None:
                transport.abort()
                return True
        return False

    return abort


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DeliberateDrop))


def _quiet_deliberate_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())
