"""The `ameyo://calls/today` resource, and telling subscribed clients when new call outcomes arrive.

Two generations of clients subscribe: those on the 2026-07-28 protocol open `subscriptions/listen`
streams (the SDK serves them from a bus we hand it), older ones send `resources/subscribe`. Both
hear `notifications/resources/updated`. Pushes may be received in this process (the HTTP
transport) or in another (`ameyo-mcp receiver`), so the feed looks at the store, at most every
`POLL_S` while anyone listens, and at once when this process has stored a push.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import anyio
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, ServerEvent
from mcp_types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

if TYPE_CHECKING:
    from ..store import CallHistory, CallQuery

log = logging.getLogger(__name__)

URI = "ameyo://calls/today"
POLL_S = 2.0
MIN_GAP_S = 1.0  # a burst of pushes is one notification a second, not one per push
RESOURCE_CALLS = 50
MAX_SESSIONS = 1000

History = Callable[["CallQuery"], Awaitable["CallHistory"]]

# The feed of each server, for an in-process receiver to wake (http.py); weak, as servers come and go.
_FEEDS: weakref.WeakKeyDictionary[Any, CallsFeed] = weakref.WeakKeyDictionary()


def feed_of(server: object) -> CallsFeed | None:
    return _FEEDS.get(server)


def attach(server: object, feed: CallsFeed) -> None:
    _FEEDS[server] = feed


class CountingBus(InMemorySubscriptionBus):
    """The SDK's in-process bus, counting its listeners so the feed looks at the store only while
    someone listens."""

    def __init__(self) -> None:
        super().__init__()
        self.listeners = 0

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        unsubscribe = super().subscribe(listener)
        self.listeners += 1
        done = False

        def once() -> None:
            nonlocal done
            if not done:
                done = True
                self.listeners -= 1
                unsubscribe()

        return once


class CallsFeed:
    def __init__(self, history: History, zone: ZoneInfo, *, poll_s: float = POLL_S) -> None:
        self.bus = CountingBus()
        self._history = history
        self._zone = zone
        self._poll_s = poll_s
        # resources/subscribe callers. Held strongly: the SDK hands each request a session object that
        # nothing else keeps. A client that has gone is dropped when a notification to it fails.
        self._sessions: list[Any] = []
        self._wake = anyio.Event()
        self._last: tuple[int, int] | None = None

    @property
    def listening(self) -> bool:
        return self.bus.listeners > 0 or len(self._sessions) > 0

    def stored(self, *_: object) -> None:
        """A push was stored in this process: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: notify listeners whenever today's calls change."""
        while True:
            with anyio.move_on_after(self._poll_s):
                await self._wake.wait()
            self._wake = anyio.Event()
            if not self.listening:
                self._last = None
                continue
            try:
                marker = await self._marker()
            except Exception:  # the store is unreachable for now; the next poll tries again
                log.warning("could not read today's calls for subscribers", exc_info=True)
                continue
            if self._last is not None and marker != self._last:
                await self._notify()
                await anyio.sleep(MIN_GAP_S)
            self._last = marker

    async def _marker(self) -> tuple[int, int]:
        from ..store import CallQuery

        history = await self._history(CallQuery(since=today_start(self._zone), limit=1))
        newest = history.calls[0].id if history.calls else 0
        return history.total, newest

    async def _notify(self) -> None:
        await self.bus.publish(ResourceUpdated(uri=URI))
        for session in list(self._sessions):
            try:
                await session.send_resource_updated(URI)
            except Exception:  # that client is gone
                self._forget(session)

    async def on_subscribe(self, ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        if str(params.uri) == URI and ctx.session not in self._sessions:
            if len(self._sessions) >= MAX_SESSIONS:
                self._sessions.pop(0)
            self._sessions.append(ctx.session)
            self._wake.set()
        return EmptyResult()

    async def on_unsubscribe(self, ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        if str(params.uri) == URI:
            self._forget(ctx.session)
        return EmptyResult()

    def _forget(self, session: Any) -> None:
        if session in self._sessions:
            self._sessions.remove(session)


def today_start(zone: ZoneInfo) -> datetime:
    return datetime.combine(datetime.now(zone).date(), time(), zone)


async def today_json(history: History, zone: ZoneInfo) -> str:
    """Today's calls: counts by outcome and the newest calls, for programs (the tool is for models)."""
    from ..rules.outcomes import outcome_counts
    from ..store import CallQuery
    from .tools.history import call_out

    start = today_start(zone)
    found = await history(CallQuery(since=start, limit=RESOURCE_CALLS))
    return json.dumps(
        {
            "since": start.isoformat(),
            "timezone": str(zone),
            "calls": found.total,
            "by_outcome": outcome_counts(found.by_outcome),
            "newest": [call_out(c, zone).model_dump(exclude_none=True) for c in found.calls],
        },
        ensure_ascii=False,
    )
