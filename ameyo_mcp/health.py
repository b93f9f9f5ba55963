"""Health for a load balancer, and the graceful drain on SIGTERM: the HTTP transport's and
`ameyo-mcp receiver`'s alike.

`/healthz` answers 200 while the process answers; `/readyz` 200 or 503 with a few booleans and, when
not ready, short fixed reasons ("store unreachable"): never a host name, a count or a secret. Both
are answered before any token or Host check, and are cheap: a store is asked at most once a second,
and Ameyo never (`Ameyo.ready` says what the session manager already knows).

On SIGTERM the process drains (`DrainingServer`): /readyz turns 503 at once, the requests in flight
(`Drain.working`) get up to AMEYO_DRAIN_S to finish, and once nothing has been in flight for a
second the process shuts down as on any other signal. What a new request gets meanwhile is the
choice of the gate in front of each app (`server/http.py` refuses new MCP work; pushes are stored,
being short). A second SIGTERM, or SIGINT, ends it at once.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType

import anyio
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import StoreTooNew

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
# A readiness check: why it is not ready, in a few fixed words, or None when it is.
Check = Callable[[], Awaitable[str | None]]
# A drain ends once nothing has been in flight for this long: a client's follow-ups to a call just
# answered (the tool list it checks the result against, the end of its session) still find the server.
QUIET_S = 1.0


class Drain:
    """A process's drain: whether it began, and the requests still in flight. Used on the event
    loop only (and begun from a signal handler, which runs there too)."""

    def __init__(
        self, grace_s: float, *, quiet_s: float = QUIET_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.grace_s = grace_s
        self.quiet_s = quiet_s
        self._clock = clock
        self.began: float | None = None
        self.in_flight = 0
        self._idle_since = clock()

    @property
    def draining(self) -> bool:
        return self.began is not None

    def begin(self) -> None:
        if self.began is None:
            self.began = self._clock()

    @contextmanager
    def working(self, *, follow_ups: bool = True) -> Iterator[None]:
        """Count what runs inside as in flight: the drain waits for it (see `enter`)."""
        self.enter()
        try:
            yield
        finally:
            self.leave(follow_ups=follow_ups)

    def enter(self) -> None:
        self.in_flight += 1

    def leave(self, *, follow_ups: bool = True) -> None:
        """One thing in flight ended. `follow_ups`: its client may ask more at once (an MCP client
        after a call's answer), so the quiet second restarts; a push has none."""
        self.in_flight -= 1
        if follow_ups:
            self._idle_since = self._clock()

    def done(self) -> bool:
        """Whether a drain that began may end: nothing has been in flight for `quiet_s`, counted
        from the drain's start or the last request's end, whichever came later; or its grace
        period is over."""
        if self.began is None:
            return False
        now = self._clock()
        if now - self.began >= self.grace_s:
            return True
        quiet = now - max(self._idle_since, self.began) >= min(self.quiet_s, self.grace_s)
        return self.in_flight <= 0 and quiet


def counted(app: ASGIApp, drain: Drain, *, path: str | None = None) -> ASGIApp:
    """`app` with its HTTP requests (those to `path` only, when given) counted in flight: short
    requests without follow-ups (Ameyo's pushes, which arrive a second apart in a busy campaign and
    must not keep a drain from its quiet second)."""

    async def count(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (path is not None and scope["path"].rstrip("/") != path):
            await app(scope, receive, send)
            return
        with drain.working(follow_ups=False):
            await app(scope, receive, send)

    return count


class StoreProbe:
    """A store's `ping` in a worker thread, bounded by `timeout_s`, its answer kept for `ttl_s`: a
    balancer probing every second, or many probing at once, cost the database one query a second at
    most. While a ping is stuck (a database that does not answer), no other one is started."""

    def __init__(self, ping: Callable[[], None], *, timeout_s: float = 2.0, ttl_s: float = 1.0) -> None:
        self._ping = ping
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s
        self._lock = anyio.Lock()
        self._running = False
        self._answer: str | None = None
        self._answered_at: float | None = None

    async def __call__(self) -> str | None:
        async with self._lock:
            now = time.monotonic()
            if self._answered_at is not None and now - self._answered_at < self.ttl_s:
                return self._answer
            answer: str | None = "not answering"
            if not self._running:
                self._running = True
                with anyio.move_on_after(self.timeout_s):
                    answer = await anyio.to_thread.run_sync(self._ask, abandon_on_cancel=True)
            if answer != self._answer:
                level = logging.WARNING if answer else logging.INFO
                log.log(level, "readiness: the store is %s", answer or "answering again")
            self._answer, self._answered_at = answer, time.monotonic()
            return answer

    def _ask(self) -> str | None:
        try:
            self._ping()
        except StoreTooNew as exc:
            log.info("readiness: the store cannot be used: %s", exc)
            return "newer than this ameyo-mcp"
        except Exception as exc:
            log.info("readiness: the store did not answer: %s", exc)
            return "unreachable"
        finally:
            self._running = False
        return None


class HealthRoutes:
    """`/healthz` and `/readyz` in front of `app`, which gets every other request."""

    def __init__(self, app: ASGIApp, drain: Drain, checks: Mapping[str, Check]) -> None:
        self.app = app
        self.drain = drain
        self.checks = dict(checks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path not in (HEALTH_PATH, READY_PATH):
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _json(send, 405, {"error": "GET only"}, head=False, extra=[(b"allow", b"GET, HEAD")])
            return
        if path == HEALTH_PATH:
            await _json(send, 200, {"alive": True}, head=scope["method"] == "HEAD")
            return
        report = await self.readiness()
        await _json(send, 200 if report["ready"] else 503, report, head=scope["method"] == "HEAD")

    async def readiness(self) -> dict[str, object]:
        return await readiness(self.drain, self.checks)


async def readiness(drain: Drain, checks: Mapping[str, Check]) -> dict[str, object]:
    """{"ready": …, "draining": …, one boolean per check, and "why" when not ready}: what /readyz
    answers, and what the operator's page shows."""
    if drain.draining:
        return {"ready": False, "draining": True, "why": ["draining"]}
    report: dict[str, object] = {"ready": True, "draining": False}
    why: list[str] = []
    for name, check in checks.items():
        try:
            reason = await check()
        except Exception:
            log.warning("readiness check %s failed", name, exc_info=True)
            reason = "check failed"
        report[name] = reason is None
        if reason is not None:
            why.append(f"{name} {reason}")
    if why:
        report["ready"] = False
        report["why"] = why
    return report


async def _json(
    send: Send,
    status: int,
    body: Mapping[str, object],
    *,
    head: bool,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else data})


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM drains before it shuts down (see the module's text)."""

    def __init__(self, config: uvicorn.Config, drain: Drain, *, name: str) -> None:
        super().__init__(config)
        self.drain = drain
        self._name = name
        self._said = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self.drain.draining and not self.should_exit:
            self.drain.begin()  # /readyz answers 503 from now on; the next tick says so
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        drain = self.drain
        if drain.draining and not self.should_exit:
            if not self._said:
                self._said = True
                print(
                    f"ameyo-mcp: SIGTERM: {self._name} is draining: /readyz answers 503, and what is in "
                    f"flight gets up to {drain.grace_s:g} s (AMEYO_DRAIN_S) to finish",
                    file=sys.stderr,
                    flush=True,
                )
            if drain.done():
                if drain.in_flight > 0:
                    log.warning(
                        "AMEYO_DRAIN_S (%g s) is over with requests still in flight: they are ended now",
                        drain.grace_s,
                    )
                self.should_exit = True
        return await super().on_tick(counter)
