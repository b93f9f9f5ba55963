"""The server's background sync after a failure: tried again within a bounded back-off, not an
interval (an hour by default) later, and every interval again once a refresh succeeds."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.config import Settings
from ameyo_mcp.index.refresh import keep_fresh
from ameyo_mcp.store import open_store
from tests.conftest import Simulator, ameyo_of, settings_for, transport_of

pytestmark = pytest.mark.anyio

HOUR = 3600.0


class Stop(Exception):
    """Ends the refresh loop, which otherwise runs for as long as the server does."""


def backed_off(waits: list[float], bases: list[float], interval: float = HOUR) -> bool:
    """Whether each wait is its back-off or up to a quarter more (drawn apart from other replicas'),
    never past 15 min nor the interval."""
    return len(waits) == len(bases) and all(
        base <= wait <= min(base * 1.25, 900.0, interval) for base, wait in zip(bases, waits, strict=True)
    )


async def _first_waits(simulator: Simulator, settings: Settings, interval: float, count: int) -> list[float]:
    """The first `count` waits of a background sync against `simulator`, read through its sleep."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == count:
            raise Stop

    ameyo, store = ameyo_of(simulator, settings), open_store(settings)
    try:
        with pytest.raises(Stop):
            await keep_fresh(ameyo, store, interval, sleep=sleep)
    finally:
        await ameyo.aclose()
        store.close()
    return waits


async def test_a_store_that_cannot_be_opened_is_tried_again_soon_then_every_interval(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """'background sync failed, will retry in 3600 s': a store down for a minute left the index
    unsynced for the hour after it was back."""
    caplog.set_level(logging.INFO, logger="ameyo_mcp.index")
    blocker = tmp_path / "state"
    blocker.write_text("a file where the index's folder belongs")
    settings = settings_for(
        simulator, tmp_path, AMEYO_DATABASE_URL=str(blocker / "index.db"), AMEYO_SYNC_RATE="0"
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            blocker.unlink()  # the store is back before the third try
        if len(waits) == 5:
            raise Stop

    ameyo, store = ameyo_of(simulator, settings), open_store(settings)
    try:
        with pytest.raises(Stop):
            await keep_fresh(ameyo, store, HOUR, sleep=sleep)
        assert {c.campaign_id for c in store.campaigns() if c.synced_at is not None} == {1, 5, 10}
    finally:
        await ameyo.aclose()
        store.close()
    assert backed_off(waits[:3], [30.0, 60.0, 120.0]), waits
    # Synced on the fourth try: then the interval again, twice (nothing was due in between).
    assert all(HOUR - 60 < wait <= HOUR for wait in waits[3:]), waits
    failed = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert [m.split(":", 1)[0] for m in failed] == [
        f"background sync failed, will retry in {wait:.0f} s" for wait in waits[:3]
    ]
    assert "is a file, not a folder" in failed[0]


async def test_ameyo_failing_backs_off_to_at_most_15_minutes_and_never_past_the_interval(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_SYNC_RATE="0")
    simulator.state.faults.commands = {"getContacts"}
    simulator.state.faults.html_502 = -1  # every page answered by a proxy's 502 page
    for interval, expected in (
        (HOUR, [30.0, 60.0, 120.0, 240.0, 480.0, 900.0, 900.0]),
        (100.0, [30.0, 60.0, 100.0, 100.0]),
    ):
        waits = await _first_waits(simulator, settings, interval, len(expected))
        assert backed_off(waits, expected, interval), (interval, waits)


class _CampaignOneFails(httpx.AsyncBaseTransport):
    """Ameyo that answers every getContacts of campaign 1 with a proxy's 502, and the others'."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None) -> None:
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs((await request.aread()).decode())
        if form.get("command") == ["getContacts"] and json.loads(form["data"][0]).get("campaignId") == 1:
            html = {"content-type": "text/html"}
            return httpx.Response(502, text="<html>Bad Gateway</html>", headers=html)
        return await self.inner.handle_async_request(request)


async def test_a_campaign_that_keeps_failing_holds_up_no_other(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Campaign 1 fails each time: campaigns 5 and 10 are synced all the same, and campaign 1 is
    tried again within the back-off. The first failure ended the whole refresh, so the campaigns
    listed after it were never synced."""
    settings = settings_for(simulator, tmp_path, AMEYO_SYNC_RATE="0")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            raise Stop

    ameyo = Ameyo(settings, transport=_CampaignOneFails(transport_of(simulator)))
    store = open_store(settings)
    try:
        with pytest.raises(Stop):
            await keep_fresh(ameyo, store, HOUR, sleep=sleep)
        synced = {c.campaign_id for c in store.campaigns() if c.synced_at is not None}
    finally:
        await ameyo.aclose()
        store.close()
    assert synced == {5, 10}
    assert backed_off(waits, [30.0, 60.0]), waits
    failed = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert failed and all("campaign 1:" in m for m in failed), failed


async def test_replicas_that_failed_together_try_again_apart(simulator: Simulator, tmp_path: Path) -> None:
    """Ameyo down for every replica at once: each replica's back-off took it back at the same second
    as the others, 30 s, 60 s, … after the failure, all together. Each wait is now up to a quarter
    longer than its back-off, drawn apart, and still never past 15 minutes nor the interval."""
    simulator.state.faults.commands = {"getContacts"}
    simulator.state.faults.html_502 = -1
    bases = [30.0, 60.0, 120.0, 240.0, 480.0, 900.0, 900.0]
    replicas: list[list[float]] = []
    for replica in range(3):
        settings = settings_for(simulator, tmp_path / str(replica), AMEYO_SYNC_RATE="0")
        waits = await _first_waits(simulator, settings, HOUR, len(bases))
        assert backed_off(waits, bases), waits
        replicas.append(waits)
    # Apart from the first try on, and staying apart (the last two at the cap are the same 15 min).
    assert len({waits[0] for waits in replicas}) == 3, replicas
    assert len({sum(waits) for waits in replicas}) == 3, replicas
