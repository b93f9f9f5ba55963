"""The receiver's writer over a real store: batches, a bad push costing only itself, pruning."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ameyo_mcp.errors import StoreFailed
from ameyo_mcp.receiver.writer import BatchWriter
from ameyo_mcp.store import CallEvent, CallQuery, Store

NOW = datetime.now(UTC)


def event(call_id: str, **fields: object) -> CallEvent:
    values: dict[str, object] = {"received_at": NOW, "call_id": call_id, "customer_id": 1}
    values.update(fields)
    return CallEvent(**values)  # type: ignore[arg-type]


def counting_writer(store: Store) -> tuple[BatchWriter, list[int]]:
    """A writer to `store`, and the sizes of the batches it commits."""
    batches: list[int] = []

    def write(events: Sequence[CallEvent]) -> list[bool]:
        batches.append(len(events))
        return store.add_calls(events)

    return BatchWriter(write), batches


def test_pushes_together_are_kept_and_a_bad_one_costs_only_itself(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "calls.db"))
    writer, batches = counting_writer(store)

    async def main() -> list[object]:
        pushes = [event(f"c{i}") for i in range(200)] + [event("c0")]
        pushes.insert(50, event("naive", received_at=datetime(2026, 1, 1)))  # the store refuses it
        return await asyncio.gather(*(writer.add(p) for p in pushes), return_exceptions=True)

    results = asyncio.run(main())
    writer.close()
    assert sum(1 for r in results if r is True) == 200
    assert [r for r in results if r is False] == [False]  # c0 again: already kept
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], StoreFailed)
    assert store.call_history(CallQuery(limit=1)).total == 200
    assert max(batches) > 100 and len(batches) < 40, f"pushes that arrive together share commits: {batches}"
    store.close()


def test_the_pushes_of_one_turn_of_the_loop_are_one_commit(tmp_path: Path) -> None:
    """Handed over one by one, the thread woke for the first push of a burst and committed it
    alone: two commits and two disk flushes where one does."""
    store = Store(str(tmp_path / "calls.db"))
    writer, batches = counting_writer(store)

    async def main() -> None:
        for burst in range(20):
            stored = await asyncio.gather(*(writer.add(event(f"b{burst}-{i}")) for i in range(32)))
            assert all(stored)

    # A busy process: the interpreter offers the writer's thread a turn after every few bytecodes.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        asyncio.run(main())
    finally:
        sys.setswitchinterval(interval)
    writer.close()
    store.close()
    assert batches == [32] * 20


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_history_past_the_retention_is_pruned_when_the_writer_starts(database_url: str) -> None:
    with Store(database_url) as store:
        store.add_calls([event("old", started_at=NOW - timedelta(days=40)), event("new")])
        writer = BatchWriter(
            store.add_calls, lambda: store.prune_calls(older_than_days=30, now=datetime.now(UTC))
        )
        writer.start()
        deadline = time.monotonic() + 5
        while store.call_history(CallQuery()).total > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        writer.close()
        kept = store.call_history(CallQuery())
    assert [c.event.call_id for c in kept.calls] == ["new"]


def test_a_store_that_cannot_be_reached_refuses_a_batch_at_once_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL down: no push is to blame, so a batch is not halved push by push (each try would
    wait for the database again); every push is refused (503), and the log says so in one line."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    store = Store(f"postgresql://ameyo@127.0.0.1:{closed}/ameyo")
    writer, batches = counting_writer(store)

    async def main() -> list[object]:
        return await asyncio.gather(*(writer.add(event(f"c{i}")) for i in range(200)), return_exceptions=True)

    with caplog.at_level(logging.WARNING, logger="ameyo_mcp.receiver.writer"):
        results = asyncio.run(main())
        results += asyncio.run(main())
    writer.close()
    assert all(isinstance(r, StoreFailed) for r in results)
    assert sum(batches) == 400 and len(batches) < 40, batches
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "cannot be reached" in lines[0] and not caplog.records[0].exc_info, lines
