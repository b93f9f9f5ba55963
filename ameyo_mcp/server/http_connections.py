"""The HTTP listener's connection limits, in uvicorn's HTTP/1.1 protocol: a connection must deliver
a whole request within a deadline, and past a cap the oldest connection with no request being
served makes room for a new one, so idle or half-open connections can neither pile up nor starve
the requests that come after them."""

from __future__ import annotations

import asyncio

# The listen backlog, which is also how many connections asyncio accepts in one go before any of
# them reaches `connection_made` (where the cap is enforced): the open-file limit must leave room
# for one such burst beyond the cap.
BACKLOG = 128
# File descriptors kept free beyond that: the listening socket, the Ameyo client's connections, the
# session cache, the audit trail, the demo's simulator.
FD_RESERVE = 128 + BACKLOG


def connection_cap(wanted: int) -> int:
    """Raise the open-file limit to fit `wanted` connections if allowed; the cap that fits in it.

    Past the limit, accept() fails with EMFILE and new connections wait in the backlog, never
    served: the cap must stay below it so that making room still works.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no such limit to fit in
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - FD_RESERVE))


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
