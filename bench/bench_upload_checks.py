"""Benchmark of a file upload's do-not-call check against a synced index: rows/s and Ameyo requests.

    python bench/bench_upload_checks.py [--rows 20000] [--contacts 1000] [--rounds 3]
                                        [--tree NAME=DIR ...]

A file upload judges every row that dials its customer (a callback; with `--update`, every row)
against do-not-call a batch at a time (`WritePath.do_not_call`): the customers the campaign's index
finds by the rows' numbers, read live, and the customers added since the sync, among the newest
contacts read live. A file of new people costs that check only the reads it makes. Here, for each
mode (plain add, `--update`, every row with a callback, `--migrate`) and each source tree (`--tree`, e.g. an
earlier commit's worktree; default: this tree):

- a fresh simulator process with `--contacts` contacts in campaign 1, indexed by `ameyo-mcp sync`
  from that tree into a SQLite file;
- `ameyo-mcp upload`'s engine from that tree, in its own process, on a CSV of `--rows` new numbers
  (batches of 500, 4 in flight, as bench_bulk_upload.py), against the same index: its rate, its CPU
  a row, and the Ameyo commands it sent, counted on the wire (`Sender.post`), a batch.

Each round runs every (mode, tree) pair once, in an order shuffled per round (seeded), so that a
busy moment of the shared machine weighs on each in turn; the verdict is each pair's median.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from _cpu import cpu_s

BATCH = 500
CONCURRENCY = 4
PASSWORD = "bench-password"
MODES = ("plain", "update", "callbacks", "migrate")
ZONE = "Asia/Kolkata"


def phone(i: int) -> str:
    return f"8{i:09d}"  # not the simulator's own numbers: every row is a new customer


def write_csv(path: Path, rows: int, callbacks: bool) -> None:
    # A time tomorrow inside the calling hours (09:00-21:00 in the zone), as a person would give it.
    when = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=1)).replace(
        hour=11, minute=0, second=0, microsecond=0
    )
    with path.open("w", encoding="utf-8") as handle:
        handle.write("phone1,name,city" + (",callback_time" if callbacks else "") + "\n")
        for i in range(rows):
            handle.write(
                f"{phone(i)},Customer {i},Pune" + (f",{when.isoformat()}" if callbacks else "") + "\n"
            )


def env_for(base_url: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    return env | {
        "AMEYO_BASE_URL": base_url,
        "AMEYO_USER_ID": "CustomerManager",
        "AMEYO_PASSWORD": PASSWORD,
        "AMEYO_TIMEZONE": ZONE,
        "AMEYO_SESSION_FILE": str(workdir / "session.json"),
        "AMEYO_AUDIT_FILE": str(workdir / "audit.jsonl"),
        "AMEYO_DATABASE_URL": str(workdir / "index.db"),
        "AMEYO_SYNC_RATE": "0",
    }


def child(mode: str, rows: int, workdir: Path) -> dict[str, Any]:
    """One upload in this (fresh) process, from the tree on PYTHONPATH; its figures."""
    import anyio

    import ameyo_mcp
    from ameyo_mcp.ameyo.sender import Sender

    sent: Counter[str] = Counter()
    post = Sender.post

    async def counted(self: Sender, body: bytes, timeout_s: float) -> Any:
        sent[body.split(b"&", 1)[0].removeprefix(b"command=").decode()] += 1
        return await post(self, body, timeout_s)

    Sender.post = counted  # type: ignore[method-assign]  # the bench's own count on the wire

    async def run() -> dict[str, Any]:
        from ameyo_mcp.ameyo.service import Ameyo
        from ameyo_mcp.config import load_settings
        from ameyo_mcp.writes.bulk.engine import BulkOptions, upload_file
        from ameyo_mcp.writes.path import WritePath

        source = workdir / f"contacts-{mode}.csv"
        write_csv(source, rows, callbacks=mode == "callbacks")
        ameyo = Ameyo(load_settings(dict(os.environ), env_file=None))
        options = BulkOptions(
            campaign=1,
            lead_id=1,
            batch_size=BATCH,
            concurrency=CONCURRENCY,
            update_existing=mode == "update",
            # Every row moves its customer, if any, into the lead: judged as a plain add is.
            migrate_existing=mode == "migrate",
        )
        try:
            cpu, started = time.process_time(), time.perf_counter()
            out = await upload_file(WritePath.for_settings(ameyo, confirm=False), source, options)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            await ameyo.aclose()
        # A run that stopped sending (after a batch that failed) says why.
        stopped = next((note for note in out.notes if note.startswith("Stopped sending")), None)
        figures = {"elapsed_s": elapsed, "cpu_s": cpu, "rows": out.rows, "ok": out.ok, "sent": dict(sent)}
        return figures | ({"stopped": stopped} if stopped else {})

    figures: dict[str, Any] = anyio.run(run)
    figures["package"] = str(Path(ameyo_mcp.__file__).parent.parent)
    return figures


def measure(tree: str, mode: str, rows: int, contacts: int) -> dict[str, Any]:
    """A fresh simulator, its campaign synced into a fresh index by `tree`, then one upload by `tree`."""
    from _common import SimulatorProcess

    simulator = SimulatorProcess(contacts, PASSWORD, timeout_s=30)
    with tempfile.TemporaryDirectory() as folder, simulator as base_url:
        workdir = Path(folder)
        env = env_for(base_url, workdir) | {"PYTHONPATH": tree}
        sync = [sys.executable, "-m", "ameyo_mcp", "sync", "--campaign", "1"]
        done = subprocess.run(sync, cwd=tree, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"the sync failed:\n{done.stderr[-3000:]}")
        command = [sys.executable, __file__, "--child", mode, "--rows", str(rows), "--workdir", folder]
        before = cpu_s(simulator.process.pid)
        done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"the {mode} upload failed:\n{done.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        figures["simulator_cpu_s"] = cpu_s(simulator.process.pid) - before
        if Path(figures["package"]).resolve() != Path(tree).resolve():
            raise RuntimeError(f"the upload ran {figures['package']}, not {tree}")
        return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=1000, help="the campaign's contacts, synced first")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--tree", action="append", default=[], help="NAME=DIR: a source tree to run")
    parser.add_argument("--child", choices=MODES)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows, Path(args.workdir))))
        return

    here = str(Path(__file__).resolve().parent.parent)
    trees = dict(t.split("=", 1) for t in args.tree) or {"this": here}
    modes = args.modes.split(",")
    print(
        f"file upload with a synced index of {args.contacts:,} contacts: {args.rows:,} new rows, batches "
        f"of {BATCH}, {CONCURRENCY} in flight, Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    pairs = [(mode, name) for mode in modes for name in trees]
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {pair: [] for pair in pairs}
    shuffle = random.Random(8)
    for n in range(args.rounds):
        order = shuffle.sample(pairs, len(pairs))
        print(f"round {n + 1}, load {os.getloadavg()[0]:.1f}:")
        for mode, name in order:
            run = measure(trees[name], mode, args.rows, args.contacts)
            runs[mode, name].append(run)
            print(f"  {mode:9} {name:6} {line(run)}", flush=True)
    print("medians:")
    for mode, name in pairs:
        done = runs[mode, name]
        rate = statistics.median(r["rows"] / r["elapsed_s"] for r in done)
        cpu = statistics.median(r["cpu_s"] / r["rows"] * 1e6 for r in done)
        print(
            f"  {mode:9} {name:6} {rate:8,.0f} rows/s, client CPU {cpu:5.1f} µs a row; {per_batch(done[-1])}"
        )
    if os.environ.get("BENCH_JSON"):
        print(json.dumps({f"{m} {n}": r for (m, n), r in runs.items()}))


def per_batch(run: dict[str, Any]) -> str:
    batches = -(-run["rows"] // BATCH)
    sent = ", ".join(f"{c} {n / batches:.2f}" for c, n in sorted(run["sent"].items()) if c != "login")
    return f"Ameyo commands a batch ({batches} batches): {sent}"


def line(run: dict[str, Any]) -> str:
    rows = run["rows"]
    return (
        f"{rows / run['elapsed_s']:8,.0f} rows/s ({run['ok']:,} ok), CPU a row: client "
        f"{run['cpu_s'] / rows * 1e6:.1f} µs, simulator {run['simulator_cpu_s'] / rows * 1e6:.1f} µs; "
        f"{per_batch(run)}" + (f"; {run['stopped']}" if run.get("stopped") else "")
    )


if __name__ == "__main__":
    main()
