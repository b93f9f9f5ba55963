"""Benchmark of the bulk uploader against the simulator: throughput and peak memory.

    python bench/bench_bulk_upload.py [--rows 100000] [--small 10000] [--rounds 3]

Each measurement runs in its own process against a fresh simulator process (so the simulator's
work and the client's do not share one interpreter lock, and every row is a new contact):

- baseline: the same batches (500 rows, 4 in flight) sent by a bare httpx loop, no checks,
  no journal, no result file: the simulator's own rate for this traffic;
- engine: `ameyo-mcp upload`'s engine on a CSV of the same rows;
- memory: the engine's peak RSS (getrusage) for the small and the large file.

Baseline and engine are interleaved round by round (baseline first in odd rounds, engine first in
even ones), so that a busy moment of a shared machine weighs on both; each round's ratio is shown
and the goal is judged on the median of those ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BATCH = 500
CONCURRENCY = 4
PASSWORD = "bench-password"


def phone(i: int) -> str:
    return f"9{i:010d}"


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("phone1,name,city\n")
        for i in range(rows):
            handle.write(f"{phone(i)},Customer {i},Pune\n")


def child(kind: str, base_url: str, rows: int, workdir: Path) -> dict[str, Any]:
    """Run one measurement in this (fresh) process; print its figures as JSON."""
    import anyio

    if kind == "baseline":
        return anyio.run(_baseline, base_url, rows)
    return anyio.run(_engine, base_url, rows, workdir)


async def _baseline(base_url: str, rows: int) -> dict[str, Any]:
    import anyio
    import httpx

    url = base_url + "/ameyowebaccess/command"
    async with httpx.AsyncClient(timeout=60) as http:
        login = {"userId": "CustomerManager", "password": PASSWORD, "terminal": "127.0.0.1"}
        answer = await http.post(url, data={"command": "login", "data": json.dumps(login)})
        session = answer.json()["sessionId"]
        batches = [range(start, min(start + BATCH, rows)) for start in range(0, rows, BATCH)]
        added = 0
        started = time.perf_counter()

        async def send(numbers: range) -> None:
            nonlocal added
            data = {
                "sessionId": session,
                "campaignId": "1",
                "leadId": 1,
                "properties": {"update.customer": False, "migrate.customer": False},
                "numAttempts": "0",
                "Status": "NOT_TRIED",
                "customerRecords": [
                    {"phone1": phone(i), "name": f"Customer {i}", "city": "Pune"} for i in numbers
                ],
            }
            reply = await http.post(url, data={"command": "uploadContacts", "data": json.dumps(data)})
            body = reply.json()
            added += sum(1 for r in body.get("beanResponse", body) if r.get("resultTypeString") == "ADDED")

        limiter = anyio.Semaphore(CONCURRENCY)

        async def guarded(numbers: range) -> None:
            async with limiter:
                await send(numbers)

        async with anyio.create_task_group() as group:
            for numbers in batches:
                group.start_soon(guarded, numbers)
        elapsed = time.perf_counter() - started
    return {"elapsed_s": elapsed, "rows": rows, "ok": added, "rss_kb": _rss_kb()}


async def _engine(base_url: str, rows: int, workdir: Path) -> dict[str, Any]:
    from ameyo_mcp.bulk.engine import BulkOptions, upload_file
    from ameyo_mcp.config import load_settings
    from ameyo_mcp.service import Ameyo
    from ameyo_mcp.writes import WritePath

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
            # Uploads are indexed as in a real run, but not into the person's own index.
            "AMEYO_DATABASE_URL": str(workdir / "index.db"),
        },
        env_file=None,
    )
    ameyo = Ameyo(settings)
    before = _rss_kb()
    try:
        started = time.perf_counter()
        out = await upload_file(
            WritePath.for_settings(ameyo, confirm=False),
            source,
            BulkOptions(campaign=1, lead_id=1, batch_size=BATCH, concurrency=CONCURRENCY),
        )
        elapsed = time.perf_counter() - started
    finally:
        await ameyo.aclose()
    return {
        "elapsed_s": elapsed,
        "rows": out.rows,
        "ok": out.ok,
        "rss_kb": _rss_kb(),
        "rss_before_kb": before,
    }


def _rss_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def measure(kind: str, rows: int) -> dict[str, Any]:
    from _common import SimulatorProcess  # here: the engine's child process must not import it

    with tempfile.TemporaryDirectory() as workdir, SimulatorProcess(10, PASSWORD, timeout_s=15) as base_url:
        command = [sys.executable, __file__, "--child", kind, "--url", base_url, "--rows", str(rows)]
        command += ["--workdir", workdir]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=("baseline", "engine"))
    parser.add_argument("--url")
    parser.add_argument("--workdir")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.url, args.rows, Path(args.workdir))))
        return

    print(
        f"bulk upload benchmark: batches of {BATCH}, {CONCURRENCY} in flight, Python {sys.version.split()[0]}"
    )
    bases: list[dict[str, Any]] = []
    engines: list[dict[str, Any]] = []
    for n in range(args.rounds):
        for kind in ("baseline", "engine") if n % 2 == 0 else ("engine", "baseline"):
            (bases if kind == "baseline" else engines).append(measure(kind, args.rows))
        base_rate = bases[-1]["rows"] / bases[-1]["elapsed_s"]
        engine_rate = engines[-1]["rows"] / engines[-1]["elapsed_s"]
        print(
            f"round {n + 1}: baseline (bare httpx loop) {base_rate:,.0f} rows/s, engine (check + journal + "
            f"result file) {engine_rate:,.0f} rows/s, {engines[-1]['ok']} ok: {engine_rate / base_rate:.0%}"
        )
    small = measure("engine", args.small)
    base_rate = statistics.median(b["rows"] / b["elapsed_s"] for b in bases)
    engine_rate = statistics.median(e["rows"] / e["elapsed_s"] for e in engines)
    base = bases[len(bases) // 2]
    engine = max(engines, key=lambda e: e["rss_kb"])
    # Each round's two runs shared the machine's moment: their ratio is the figure, its median the verdict.
    ratio = statistics.median(
        (e["rows"] / e["elapsed_s"]) / (b["rows"] / b["elapsed_s"])
        for b, e in zip(bases, engines, strict=True)
    )
    print(
        f"throughput over {args.rounds} rounds of {args.rows} rows: median of the rounds' ratios {ratio:.0%} "
        f"of the simulator's own rate (goal ≥ 80%): {'OK' if ratio >= 0.8 else 'MISSED'}; median rates: "
        f"engine {engine_rate:,.0f} rows/s, baseline {base_rate:,.0f} rows/s"
    )
    growth = engine["rss_kb"] / small["rss_kb"] - 1
    print(
        f"peak RSS: {small['rss_kb'] / 1024:.1f} MB for {args.small} rows, "
        f"{engine['rss_kb'] / 1024:.1f} MB for {args.rows} rows ({growth:+.0%}; goal within 20%): "
        f"{'OK' if abs(growth) <= 0.2 else 'MISSED'}"
    )
    print(
        f"  (RSS after imports, before the upload: {small['rss_before_kb'] / 1024:.1f} MB and "
        f"{engine['rss_before_kb'] / 1024:.1f} MB; baseline process {base['rss_kb'] / 1024:.1f} MB)"
    )
    if os.environ.get("BENCH_JSON"):
        print(json.dumps({"baselines": bases, "engines": engines, "small": small}))


if __name__ == "__main__":
    main()
