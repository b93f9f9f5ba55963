"""The `ameyo://calls/today` resource, and telling subscribed clients when new call outcomes arrive.

Two generations of clients subscribe: those on the 2026-07-28 protocol open `subscriptions/listen`
streams (the SDK serves them from a bus we hand it), older ones send `resources/subscribe`. Both
hear `notifications/resources/updated`.

Pushes may be stored by this process (the HTTP transport) or by any other on the same store (`ameyo-mcp
receiver`, another replica), so while anyone listens a thread of the feed's own watches the store on
a connection of its own (`Store.calls_changed`): on PostgreSQL it is told of every commit of new calls
(`LISTEN`), on SQLite it looks at the file's data version every `POLL_S`. When today's calls differ
from what it saw last, subscribers hear of it: the first change at once, then at most one notice per
`MIN_GAP_S` however many pushes arrive. After its connection broke, it reads once more when it has
a new one, so calls stored meanwhile are not missed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time as clock
import weakref
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import anyio
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated, ServerEvent
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from mcp_types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from ..errors import StoreError
from ..rules.sanitize import data_text

if TYPE_CHECKING:
    from ..store import CallHistory, CallQuery, Store, StoredCall
    from .tools.history import Ahead as DatedAhead

log = logging.getLogger(__name__)

URI = "ameyo://calls/today"
POLL_S = 0.2  # SQLite: how often the watch looks at the file's data version (one cheap PRAGMA)
WAIT_S = 0.5  # PostgreSQL: how long the watch waits for a notice before it looks at its own flags
CHECK_S = 30.0  # a look however quiet the store is (today turns into tomorrow)
RETRY_S = 1.0  # a store that cannot be reached is tried again after this
IDLE_S = 30.0  # the watch ends this long after the last subscriber left
MIN_GAP_S = 1.0  # a burst of pushes is one notification a second, not one per push
RESOURCE_CALLS = 50
MAX_SESSIONS = 1000

History = Callable[["CallQuery"], Awaitable["CallHistory"]]
# The calls dated after now that a span ending at the given time leaves out (`tools.history.dated_ahead`).
Ahead = Callable[[datetime], Awaitable["DatedAhead | None"]]
# The names of calls' customers, by call (`tools.history.call_names`).
Names = Callable[[Sequence["StoredCall"]], Awaitable[dict[int, str]]]
# A store of the watch's own (its connection waits on the database).
OpenStore = Callable[[], "Store"]

# The feed of each server, for an in-process receiver to wake (http.py); weak, as servers come and go.
_FEEDS: weakref.WeakKeyDictionary[Any, CallsFeed] = weakref.WeakKeyDictionary()


def feed_of(server: object) -> CallsFeed | None:
    return _FEEDS.get(server)


def attach(server: object, feed: CallsFeed) -> None:
    _FEEDS[server] = feed


class CountingBus(InMemorySubscriptionBus):
    """The SDK's in-process bus, counting its listeners so the feed watches the store only while
    someone listens, and telling the feed when one arrives."""

    def __init__(self, arrived: Callable[[], None] = lambda: None) -> None:
        super().__init__()
        self.listeners = 0
        self._arrived = arrived

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        unsubscribe = super().subscribe(listener)
        self.listeners += 1
        self._arrived()
        done = False

        def once() -> None:
            nonlocal done
            if not done:
                done = True
                self.listeners -= 1
                unsubscribe()

        return once


class CallsWatch:
    """A daemon thread that watches the call history on a store of its own and calls `changed`
    whenever today's calls differ from what it saw last (not for what it sees first)."""

    def __init__(self, open_store: OpenStore, since: Callable[[], datetime], changed: Callable[[], None]):
        self._open_store = open_store
        self._since = since
        self._changed = changed
        self._stop = threading.Event()
        self._look = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ameyo-calls-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ends the thread within `WAIT_S` (it closes its store itself); does not wait for it."""
        self._stop.set()
        self._look.set()

    def look(self) -> None:
        """Look now (a push was stored in this process): SQLite's next poll is not waited for."""
        self._look.set()

    def _run(self) -> None:
        store = self._open_store()
        last: tuple[int, int] | None = None
        due = 0.0
        failing = False
        try:
            while not self._stop.is_set():
                try:
                    heard = store.calls_changed(WAIT_S)
                    if not (heard or self._look.is_set() or clock.monotonic() >= due):
                        if not store.hears_changes:
                            self._look.wait(POLL_S)
                        continue
                    self._look.clear()
                    marker = store.call_marker(self._since())
                except StoreError as exc:
                    if not failing:
                        log.warning("cannot watch today's calls for subscribers; trying again: %s", exc)
                    failing = True
                    self._stop.wait(RETRY_S)
                    continue
                except Exception:
                    log.exception("the watch of today's calls failed; trying again")
                    self._stop.wait(RETRY_S)
                    continue
                if failing:
                    log.warning("watching today's calls again")
                    failing = False
                due = clock.monotonic() + CHECK_S
                if last is not None and marker != last:
                    self._changed()
                last = marker
        finally:
            with suppress(Exception):
                store.close()


class CallsFeed:
    def __init__(self, history: History, zone: ZoneInfo, *, open_store: OpenStore | None = None) -> None:
        self.bus = CountingBus(self._arrived)
        self._history = history
        self._zone = zone
        self._open_store = open_store
        # resources/subscribe callers. Held strongly: the SDK hands each request a session object that
        # nothing else keeps. A client that has gone is dropped when a notification to it fails.
        self._sessions: list[Any] = []
        self._wake = anyio.Event()
        self._news = False
        self._watch: CallsWatch | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def listening(self) -> bool:
        return self.bus.listeners > 0 or len(self._sessions) > 0

    def stored(self, *_: object) -> None:
        """A push was stored in this process: look now rather than at the next poll."""
        if self._watch is not None:
            self._watch.look()

    def _arrived(self) -> None:
        self._wake.set()  # a first subscriber: start watching now

    def _heard(self) -> None:
        """From the watch's thread: today's calls changed."""
        loop = self._loop
        if loop is not None:
            with suppress(RuntimeError):  # the loop has closed: the server is gone
                loop.call_soon_threadsafe(self._news_arrived)

    def _news_arrived(self) -> None:
        self._news = True
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: notify listeners whenever today's calls change."""
        self._loop = asyncio.get_running_loop()
        idle_since: float | None = None
        try:
            while True:
                with anyio.move_on_after(1.0):
                    await self._wake.wait()
                self._wake = anyio.Event()
                if self.listening:
                    idle_since = None
                    if self._watch is None and self._open_store is not None:
                        self._watch = CallsWatch(self._open_store, self._today, self._heard)
                        self._watch.start()
                elif self._watch is not None:
                    idle_since = idle_since or clock.monotonic()
                    if clock.monotonic() - idle_since > IDLE_S:
                        self._watch.stop()
                        self._watch = None
                if self._news:
                    self._news = False
                    if self.listening:
                        await self._notify()
                        await anyio.sleep(MIN_GAP_S)
        finally:
            self._loop = None
            if self._watch is not None:
                self._watch.stop()
                self._watch = None

    def _today(self) -> datetime:
        from ..rules.times import day_so_far

        return day_so_far(self._zone)[0]

    async def _notify(self) -> None:
        await self.bus.publish(ResourceUpdated(uri=URI))
        for session in list(self._sessions):
            try:
                await session.send_resource_updated(URI)
            except Exception:  # that client is gone
                self._forget(session)

    async def on_subscribe(self, ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        if str(params.uri) != URI:
            # Accepted, a subscription to anything else would wait for news that never comes.
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Only {URI} can be subscribed to: it changes as Ameyo pushes call outcomes; "
                f"{data_text(str(params.uri), 80)!r} does not change while the server runs.",
            )
        if ctx.session not in self._sessions:
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


async def today_json(history: History, zone: ZoneInfo, names: Names, ahead: Ahead) -> str:
    """Today's calls: counts by outcome and the newest calls, for programs (the tool is for models),
    with their customers' names (`names`: as the call history names them), and the calls dated
    after now that today leaves out (`ahead`), as the call history says them."""
    from ..rules.outcomes import outcome_counts
    from ..rules.times import day_so_far
    from ..store import CallQuery
    from .tools.history import call_out

    start, now = day_so_far(zone)
    found = await history(CallQuery(since=start, until=now, limit=RESOURCE_CALLS))
    named = await names(found.calls)
    today: dict[str, object] = {
        "since": start.isoformat(),
        "timezone": str(zone),
        "calls": found.total,
        "by_outcome": outcome_counts(found.by_outcome),
        "newest": [call_out(c, zone, named.get(c.id)).model_dump(exclude_none=True) for c in found.calls],
    }
    later = await ahead(now)
    if later is not None and later.calls:
        # Left out without a word, today's count read as every call pushed.
        today["dated_after_now"] = later.out(zone)
    return json.dumps(today, ensure_ascii=False)
