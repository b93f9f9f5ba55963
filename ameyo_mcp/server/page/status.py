"""What the operator's page shows, as the JSON its script polls: the server, the Ameyo session, the
index, today's pushes and writes, and recent errors.

Read on a store of the page's own (opened on the first look), in a worker thread, at most once per
`TTL_S` however many pages are open. A section the store cannot give says why, and the others are
still shown. Customer text (names, numbers, outcomes, campaign names) is made safe as tool answers
make it (`data_text`, `call_out`); the page puts every value in as text, never as markup.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from ... import __version__
from ...config import Settings
from ...errors import StoreError
from ...logs import RECENT_ERRORS
from ...rules.owners import owner_alive
from ...rules.sanitize import clean_text, data_text
from ...rules.times import ago_text, show

if TYPE_CHECKING:
    from ...store import Store

log = logging.getLogger(__name__)

TTL_S = 2.0
ERRORS_SHOWN = 20
UNKNOWN_SHOWN = 50
# A process not seen using the session for this long (nor for three ping intervals) no longer counts
# as one of its users (as the session manager counts them).
USER_STALE_S = 60.0

Readiness = Callable[[], Awaitable[dict[str, object]]]


@dataclass(frozen=True)
class Serving:
    """The process the page describes: `transport` in words, whether it is read-only (None: it never
    writes to Ameyo), and its readiness as /readyz reports it."""

    transport: str
    read_only: bool | None
    readiness: Readiness
    started: float = field(default_factory=time.time)


class Status:
    """The page's JSON, made at most once per `ttl_s`."""

    def __init__(
        self,
        settings: Settings,
        serving: Serving,
        *,
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.serving = serving
        self.ttl_s = ttl_s
        self._clock = clock
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self._lock = anyio.Lock()
        self._made: tuple[float, dict[str, Any]] | None = None

    async def __call__(self) -> dict[str, Any]:
        async with self._lock:
            if self._made is not None and time.monotonic() - self._made[0] < self.ttl_s:
                return self._made[1]
            ready = await self.serving.readiness()
            now = datetime.fromtimestamp(self._clock(), UTC)
            stored = await anyio.to_thread.run_sync(self._from_store, now)
            made = {
                "now": show(now, self.settings.zone),
                "server": self._server(ready, now),
                **stored,
                "errors": _errors(self.settings, now),
            }
            made["ameyo"] |= _reachable(ready)
            self._made = (time.monotonic(), made)
            return made

    def close(self) -> None:
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def _server(self, ready: dict[str, object], now: datetime) -> dict[str, Any]:
        serving = self.serving
        return {
            "version": __version__,
            "transport": serving.transport,
            "read_only": serving.read_only,
            "started": show(datetime.fromtimestamp(serving.started, UTC), self.settings.zone),
            "uptime_s": round(now.timestamp() - serving.started),
            "ready": bool(ready.get("ready")),
            "draining": bool(ready.get("draining")),
            "checks": {k: v for k, v in ready.items() if k not in ("ready", "draining", "why")},
            "why": _why(ready),
            "timezone": self.settings.timezone,
            "demo": self.settings.demo,
        }

    def store(self) -> Store:
        """The page's store, opened on first use (from any thread: the sign-out checks use it too)."""
        with self._store_lock:
            if self._store is None:
                from ...store import Store

                self._store = Store(self.settings.resolved_database_url(), name="ameyo-mcp operator page")
            return self._store

    def _from_store(self, now: datetime) -> dict[str, Any]:
        store = self.store()
        return {
            "ameyo": _section(lambda: _ameyo(store, self.settings, now)),
            "index": _section(lambda: _index(store, self.settings, now)),
            "today": _section(lambda: _today(store, self.settings, now)),
            "unknown": _section(lambda: _unknown(store, self.settings, now)),
        }


def _section(read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return read()
    except StoreError as exc:
        return {"error": f"The store cannot be read: {exc.message}"}
    except Exception:
        log.exception("the operator page could not read a section")
        return {"error": "This could not be read: the server's log says why."}


def _when(epoch: float | None, settings: Settings, now: datetime) -> dict[str, Any] | None:
    if epoch is None:
        return None
    return {
        "at": show(datetime.fromtimestamp(epoch, UTC), settings.zone),
        "ago": ago_text(now.timestamp() - epoch),
        "age_s": round(now.timestamp() - epoch),
    }


def _ameyo(store: Store, settings: Settings, now: datetime) -> dict[str, Any]:
    from ...store.lease import LeaseKey

    parts = urlsplit(settings.base_url)
    out: dict[str, Any] = {
        "server": f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}",
        "user": clean_text(settings.user_id or "", 80) or None,
        "token_auth": settings.token_auth,
        "seats": 0,
        "processes": 0,
    }
    if settings.token_auth:
        return out  # each request carries its credentials: no session, no seat held
    key = LeaseKey(settings.base_url, settings.user_id or "")
    lease = store.session_lease(key)
    if lease is None:
        return out
    epoch = now.timestamp()
    live = lease.live(epoch, 0.0)
    out |= {
        "seats": 1 if live else 0,
        "logged_in": _when(lease.logged_in_at, settings, now) if live else None,
        "last_ping": _when(lease.last_ping_at, settings, now),
        "ping_failed": _when(lease.ping_failed_at, settings, now) if live and lease.ping_failed else None,
        "last_used": _when(lease.last_used_at, settings, now),
    }
    if lease.refused_until is not None and lease.refused_until > epoch:
        out["refused"] = clean_text(lease.refusal or "the last login was refused", 300)
    if live:
        stale = epoch - max(USER_STALE_S, 3 * (lease.ping_every_s or 0.0))
        users = store.session_users(key, stale_before=stale, alive=lambda m: owner_alive(m, here=_here))
        out["processes"] = len(users)
    return out


def _here(owner: str) -> bool:
    return True  # a session manager of this process is still at work while the process serves


def _reachable(ready: dict[str, object]) -> dict[str, Any]:
    """Whether Ameyo answers, as this process's readiness knows it (it never asks Ameyo for it)."""
    if "ameyo" not in ready:
        return {"reachable": None}  # this process does not talk to Ameyo (the receiver)
    why = [w.removeprefix("ameyo ") for w in _why(ready) if w.startswith("ameyo ")]
    return {"reachable": bool(ready["ameyo"]), "why": why[0] if why else None}


def _why(ready: dict[str, object]) -> list[str]:
    reasons = ready.get("why")
    return [str(w) for w in reasons] if isinstance(reasons, list) else []


def _index(store: Store, settings: Settings, now: datetime) -> dict[str, Any]:
    from ...index.sync import sync_running

    campaigns = []
    for c in store.campaigns():
        running = sync_running(store, c)
        synced = c.synced_at.timestamp() if c.synced_at is not None else None
        campaigns.append(
            {
                "id": c.campaign_id,
                "name": data_text(c.name, 60) if c.name else None,
                "contacts": c.contacts,
                "synced": _when(synced, settings, now),
                "sync": None
                if running is None
                else {
                    "process": running.process,
                    "since": _when(running.since, settings, now),
                    "seen": running.seen,
                    "expected": running.expected,
                },
                "interrupted": running is None and c.pass_in_progress is not None,
            }
        )
    return {"campaigns": campaigns}


def _today(store: Store, settings: Settings, now: datetime) -> dict[str, Any]:
    from ..tools.history import call_names, call_out
    from .today import today

    figures = today(store, settings.zone, now)
    names = call_names(store, figures.last)
    ahead = figures.ahead
    return {
        "since": show(figures.since, settings.zone),
        "pushes": figures.pushes,
        # Left out of the count without a word, it read as every call pushed, as the resource's did.
        **({"dated_after_now": ahead.out(settings.zone)} if ahead is not None and ahead.calls else {}),
        "by_outcome": figures.by_outcome,
        "by_hour": [{"hour": f"{h:02d}:00", "counts": counts} for h, counts in enumerate(figures.by_hour)],
        "last": [
            call_out(c, settings.zone, names.get(c.id)).model_dump(exclude_none=True) for c in figures.last
        ],
        "writes": figures.writes,
        "repeats_answered": figures.repeats_answered,
        "repeats_refused": figures.repeats_refused,
    }


def _unknown(store: Store, settings: Settings, now: datetime) -> dict[str, Any]:
    from ...writes.plans import what_to_check, write_kind

    entries = store.unknown_writes(limit=UNKNOWN_SHOWN + 1)
    return {
        "more": len(entries) > UNKNOWN_SHOWN,
        "writes": [
            {
                "what": data_text(e.label, 200),
                "kind": write_kind(e.label, e.context),
                "sent": _when(e.claimed_at, settings, now),
                "why": clean_text(e.note, 300),
                "call_id": clean_text(e.call_id, 40),
                "check": data_text(what_to_check(e.label, e.context), 400),
            }
            for e in entries[:UNKNOWN_SHOWN]
        ],
    }


def _errors(settings: Settings, now: datetime) -> list[dict[str, Any]]:
    shown = RECENT_ERRORS.entries()[-ERRORS_SHOWN:]
    return [
        {
            "when": _when(e.at, settings, now),
            "level": e.level,
            "source": clean_text(e.source, 80),
            "message": clean_text(e.message, 500),
        }
        for e in reversed(shown)
    ]
