"""The server's background refresh of the index (AMEYO_SYNC_INTERVAL_S), and when it tries again
after a failure."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import anyio

from ..ameyo.service import Ameyo
from ..errors import AmeyoError, StoreError, SyncError
from ..store import Store
from .sync import campaigns_to_sync, lease_seconds, sync_campaign

log = logging.getLogger(__name__)

# No sooner than this between two looks: a lookup never waits for a sync, and a refresh that failed
# at once must not become a loop of requests to a store or an Ameyo that is down.
SHORTEST_WAIT_S = 30.0
# The longest back-off after failures in a row: a store or Ameyo that is back is synced within it,
# not an interval (an hour by default) after the failure.
LONGEST_RETRY_S = 900.0
# How much later than its back-off a try may come, at most, as a share of it: replicas that failed
# together (the store or Ameyo down for all) draw apart rather than all trying again in the same
# second, and stay apart once their back-offs reach the same cap. Later, never sooner: the first
# try is then not under SHORTEST_WAIT_S, where they would all meet again.
JITTER = 0.25


def retry_after(failures: int, interval_s: float, spread: float = 0.0) -> float:
    """Seconds until the next try after `failures` failed refreshes in a row: 30 s, doubled with
    each further failure up to 15 min, and never later than the interval would have it; `spread`
    (0 to 1, drawn at random) of a `JITTER` more, within the same bounds."""
    doubled = SHORTEST_WAIT_S * 2.0 ** min(failures - 1, 16) * (1.0 + JITTER * spread)
    return min(doubled, LONGEST_RETRY_S, max(interval_s, SHORTEST_WAIT_S))


async def keep_fresh(
    ameyo: Ameyo,
    store: Store,
    interval_s: float,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Sync each campaign whose last complete pass is older than `interval_s` (or never happened,
    or was interrupted), then sleep until the next one is due. A failure is logged and tried again
    after a back-off (`retry_after`, drawn apart from other replicas'), then every interval once a
    refresh succeeds: a lookup never waits for a sync. `sleep` is what tests move time with."""
    failures = 0
    while True:
        try:
            wait = await _refresh(ameyo, store, interval_s)
        except (AmeyoError, StoreError, SyncError) as exc:
            failures += 1
            wait = retry_after(failures, interval_s, random.random())
            log.warning("background sync failed, will retry in %.0f s: %s", wait, exc)
        except Exception as exc:  # never let the refresh die silently: say what broke, try later
            failures += 1
            wait = retry_after(failures, interval_s, random.random())
            log.warning("background sync failed (%s), will retry in %.0f s", type(exc).__name__, wait)
        else:
            failures = 0
        await sleep(max(wait, SHORTEST_WAIT_S))


async def _refresh(ameyo: Ameyo, store: Store, interval_s: float) -> float:
    """One refresh: each campaign due synced; the seconds until the next is due. Raises, once every
    campaign due was tried, the failures of those that failed: one that keeps failing must not keep
    the others' indexes from being brought up to date."""
    wait = interval_s
    failed: list[str] = []
    for campaign in await campaigns_to_sync(ameyo, None):
        known = await anyio.to_thread.run_sync(store.campaign, campaign.campaign_id)
        now = datetime.now(UTC)
        if known is not None and known.synced_at is not None and known.pass_in_progress is None:
            due = known.synced_at + timedelta(seconds=interval_s)
            if due > now:
                wait = min(wait, (due - now).total_seconds())
                continue
        try:
            report = await sync_campaign(ameyo, store, campaign)
        except (AmeyoError, SyncError) as exc:
            failed.append(f"campaign {campaign.campaign_id}: {exc}")
            continue
        log.info("background sync: %s", report.line())
        if report.skipped is not None:
            # Look again once a holder that stopped would have lost its lease.
            wait = min(wait, lease_seconds(ameyo.settings) + 1)
    if failed:
        raise SyncError("; ".join(failed))
    return wait
