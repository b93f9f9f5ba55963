"""The HTTP listener that faces Ameyo and clients, for the HTTP transport and `ameyo-mcp receiver`
alike: uvicorn, in an HTTP/1.1 protocol whose connections must deliver a whole request (headers and
body) within a deadline, and past a cap the oldest connection with no request being served makes
room for a new one, so idle or half-open connections can neither pile up nor starve the requests
that come after them. The cap stays below the open-file limit: past that limit accept() fails and
new connections wait in the backlog, never served. Its socket is bound first (`server_socket`),
so that a port in use is told before anything claims to serve."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from .errors import CannotListen


def is_loopback(host: str) -> bool:
    """Whether a bind address reaches this machine only (what needs no token to listen on)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The listen backlog, which is also how many connections asyncio accepts in one go (one loop turn).
# A connection reaches `connection_made`, where the cap is enforced, two turns after its accept,
# and one it closes there releases its file a turn later: three such bursts can hold files beyond
# the cap at once, and the open-file limit must leave room for them and the process's own files.
BACKLOG = 64
ACCEPTS_IN_FLIGHT = 3 * BACKLOG


def connection_cap(wanted: int, own_files: int) -> int:
    """Raise the open-file limit to fit `wanted` connections if allowed; the cap that fits in it,
    leaving `own_files` (what the process opens besides connections) and the accepts in flight free."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no such limit to fit in
        return wanted
    reserve = own_files + ACCEPTS_IN_FLIGHT
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + reserve
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - reserve))


def cap_note(cap: int, wanted: int) -> str:
    """The cap as the startup line states it."""
    if cap < wanted:
        return (
            f"at most {cap} connections: AMEYO_HTTP_MAX_CONNECTIONS={wanted} lowered to fit the "
            "open-file limit"
        )
    return f"at most {cap} connections"


def listener_config(
    app: ASGIApp, host: str, port: int, *, max_connections: int, read_timeout_s: float, **options: Any
) -> uvicorn.Config:
    """uvicorn's configuration for a listener with these limits; `options` go on to uvicorn."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=limited_protocol(max_connections, read_timeout_s),
        backlog=BACKLOG,
        # No access log: a push's URL holds its token. No logging config of uvicorn's own: its
        # records go through our handler, which masks secrets and holds floods back.
        log_config=None,
        log_level="warning",
        access_log=False,
        # After a drain: open event streams must not hold a shutdown (and its logout) forever.
        timeout_graceful_shutdown=5,
        **options,
    )


def limited_protocol(max_connections: int, read_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol class for one server, with its own registry of connections."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    live: set[LimitedProtocol] = set()
    # Connections with no request being served (opened, sending one, or idle between requests),
    # oldest first: the ones that may be closed to make room.
    waiting: dict[LimitedProtocol, None] = {}

    class LimitedProtocol(H11Protocol):
        _read_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            live.add(self)
            self._wait()
            if len(live) > max_connections:
                # The oldest waiting connection goes; when every other one is serving a request, the
                # newcomer is the one refused.
                victim = next((c for c in waiting if c is not self), self)
                victim._drop()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._request_in():
                self._serving()

        def on_response_complete(self) -> None:
            super().on_response_complete()  # may start a pipelined request already read
            if self._request_in():
                self._serving()
            elif not self.transport.is_closing():
                self._wait()  # idle between requests: the next one gets a full read timeout

        def _request_in(self) -> bool:
            """Whether a whole request has arrived and is being answered."""
            cycle = self.cycle
            return cycle is not None and not cycle.response_complete and not cycle.more_body

        def connection_lost(self, exc: Exception | None) -> None:
            self._forget()
            super().connection_lost(exc)

        def _wait(self) -> None:
            waiting.pop(self, None)
            waiting[self] = None  # to the end: the newest waiter
            self._cancel_timer()
            self._read_timer = self.loop.call_later(read_timeout_s, self._drop)

        def _serving(self) -> None:
            waiting.pop(self, None)
            self._cancel_timer()

        def _drop(self) -> None:
            """Close at once: nothing is being served on this connection."""
            self._forget()
            self.transport.abort()

        def _forget(self) -> None:
            live.discard(self)
            waiting.pop(self, None)
            self._cancel_timer()

        def _cancel_timer(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

    return LimitedProtocol


def server_socket(host: str, port: int, *, backlog: int | None = None) -> socket.socket:
    """A TCP socket bound to `host`:`port`; CannotListen says why it cannot be.

    Every command that serves HTTP (the MCP server, the demo, the receiver, the simulator) binds
    it before it says it serves, and hands it to uvicorn: a port already taken (a socket listening
    on it) is told in one line naming the option to change, not after "serving at …" by a
    server's traceback. It listens only when uvicorn serves on it, so that a port that accepts a
    connection is a server that answers (a balancer's or a script's TCP probe, a client with a
    short timeout); with `backlog` it listens at once, and connections queue until the server
    accepts them (the simulator, the stdio demo's receiver)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted connections only when the listening
    # socket's proto is IPPROTO_TCP, and without it every answer waits ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # As uvicorn does: a port left in TIME_WAIT by a process that just stopped can be bound
        # again; one that a socket listens on cannot.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        if backlog is not None:
            sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise CannotListen(_why(exc, host, port)) from None
    return sock


def _why(exc: OSError, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    if isinstance(exc, socket.gaierror):
        return f"{host!r} is not a host name or address this machine can listen on: give another with --host."
    if exc.errno == errno.EADDRINUSE:
        return (
            f"Port {port} on {shown} is already in use (another ameyo-mcp, or another program, listens "
            "there): stop that one, or choose another port with --port."
        )
    if exc.errno == errno.EACCES:
        return (
            f"Port {port} on {shown} needs privileges this user does not have (ports below 1024 usually "
            "do): choose a port above 1023 with --port."
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"{shown} is not an address of this machine: give one of its own with --host (127.0.0.1 "
            "for this machine only, 0.0.0.0 for every network it is on)."
        )
    reason = exc.strerror or type(exc).__name__
    return f"Cannot listen on {shown}:{port} ({reason}): choose another --host or --port."
