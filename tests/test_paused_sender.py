"""A sender paused past its lease whose write another write path took over (allow_repeat, as a
file's --retry-unknown batch is sent) releases its claim when it wakes and sends nothing: that
release deleted the rows (file_rows) and spellings of the write id that the other path had since
sent, so a copy of the file cut otherwise sent the same row to Ameyo a second time.

Write paths on one store (a real SQLite file, a real PostgreSQL), the simulator over HTTP."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from ameyo_mcp.errors import RowsSent, WriteError
from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import ameyo_of, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.network]


async def test_a_paused_senders_release_keeps_the_rows_its_taker_sent(
    simulator: SimulatorThread, tmp_path: Path, database_url: str
) -> None:
    from ameyo_mcp.ameyo.models import CampaignInfo
    from ameyo_mcp.store import Store
    from ameyo_mcp.writes import path as writes
    from ameyo_mcp.writes import plans

    ameyo = ameyo_of(simulator, settings_for(simulator, tmp_path))
    stores = [Store(database_url) for _ in range(3)]
    now = [1_900_000_000.0]

    def path(i: int) -> writes.WritePath:
        return writes.WritePath(
            ameyo,
            audit=None,
            window_s=600,
            confirm_over=None,
            store=lambda: stores[i],
            clock=lambda: now[0],
            lease_s=60,
        )

    a, b, c = path(0), path(1), path(2)
    campaign = CampaignInfo(campaign_name="MoviStarSurvey", campaign_id=1)

    def batch(*phones: str) -> plans.Write:
        write = plans.plan_upload(
            ameyo.settings.base_url,
            campaign,
            21,
            [{"phone1": p, "name": "Guest"} for p in phones],
            status="NOT_TRIED",
            attempts=0,
            update_existing=False,
            migrate_existing=False,
            numbers=[(p, p) for p in phones],
            file_batch=True,
        )
        return replace(write, lasting=True)

    first = batch("9812877001")
    woke, claimed = anyio.Event(), anyio.Event()

    class Paused:
        async def __aenter__(self) -> None:
            claimed.set()
            await woke.wait()  # the process is paused here, claimed, before it sends

        async def __aexit__(self, *exc: object) -> None:
            return None

    refused: list[BaseException] = []

    async def paused_sender() -> None:
        try:
            await a.send(first, window=Paused, keep_answer=False)
        except WriteError as exc:
            refused.append(exc)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(paused_sender)
            await claimed.wait()
            now[0] += 120  # past a's lease
            # Sent again on purpose (a retry), by another path: it takes over and is answered.
            await b.send(first, allow_repeat=True, keep_answer=False)
            woke.set()  # a wakes: refused for waiting too long, and releases its claim
        assert refused and "waited too long" in str(refused[0]), refused
        assert simulator.state.executed["uploadContacts"] == 1
        # A copy of the file cut otherwise: the row b sent is not sent again.
        with pytest.raises(RowsSent):
            await c.send(batch("9812877001", "9812877002"), keep_answer=False)
        assert simulator.state.executed["uploadContacts"] == 1
    finally:
        for store in stores:
            store.close()
