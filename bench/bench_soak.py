"""A soak: `ameyo-mcp --transport http` under a steady mixed load for `--minutes`, watched window by
window, so that answers slowing down, memory or disk growing, or descriptors leaking show as a trend.

    python bench/bench_soak.py [--minutes 60] [--window 60] [--clients 10] [--calls 13] [--pushes 20]
                               [--writes 30] [--contacts 25000] [--reconnect-every S] [--json FILE]
                               [--probe] [--trim-every S] [--arena-max N]

The simulator (`--contacts` in campaign 1) and the server (SQLite store, the receiver on beside the
HTTP transport) run in their own processes; the campaign is indexed first by `ameyo-mcp sync`, as a
deployment's would be. The simulator's dialer pushes `--pushes` call outcomes a second to the
server's receiver, mixed GET / form / JSON as Ameyo does. `--clients` MCP clients, half of them
2025-11-25 (initialize handshake, one session each) and half 2026-07-28, make `--calls` tool calls a
second in all, each at its own steady pace: `ameyo_get_contacts` by a customer's phone (5 in 13),
`ameyo_call_history` for today (4 in 13) and a read of `ameyo://calls/today` (4 in 13); one more
client makes `--writes` `ameyo_add_callback` a minute (each a new callback: the ledger and the audit
trail grow as in use), and one subscriber listens to `ameyo://calls/today`. With `--reconnect-every`,
each reading client opens a new session that often (staggered), as new conversations do.

Every `--window` seconds a line: p50/p95 of each call in the window, calls and pushes a second,
notices heard, and of the server process (from /proc): RSS, open descriptors, threads, established
TCP connections and CPU; the store's size on disk (database, WAL) and the audit trail's. At the end:
the slopes per hour of RSS, store and audit size (and RSS over the second half alone, where it should
level off), disk per push and per write, and each call's p50 in the last 10 minutes over the first
10 (with a shorter run, the last window over the first). `--json FILE` keeps every window.

`--probe` runs the server under `bench/soak_probe.py` and adds what Python holds (pymalloc blocks,
tracked objects) to each line, to tell objects kept from memory the allocator keeps; `--trim-every S`
has the probe call `malloc_trim(0)` that often; `--arena-max N` sets MALLOC_ARENA_MAX for the server
(which otherwise keeps 2 glibc arenas: `--arena-max 16` is glibc's own default on two cores).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH, LOOPBACK, PYTHON, free_port, header, machine, server_env, stop, wait_for_port
from _cpu import cpu_s

from ameyo_mcp.store import CallQuery, Store

PASSWORD = "pw-bench-soak"
TOKEN = "bench-soak-push-token-0123"
URI = "ameyo://calls/today"
# The share of each read in the mix of `--calls`.
MIX = (("contacts", 5), ("history", 4), ("today", 4))
KINDS = (*(kind for kind, _ in MIX), "callback")
MIB = 1024 * 1024


# -- the server process, seen from /proc --------------------------------------------------------


def status(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "Threads"):
            values[key] = int(rest.split()[0])
    return values


def descriptors(pid: int) -> tuple[int, set[str]]:
    """Open descriptors of `pid`, and the inodes of its sockets."""
    count, sockets = 0, set()
    for fd in os.scandir(f"/proc/{pid}/fd"):
        count += 1
        with contextlib.suppress(OSError):
            target = os.readlink(fd.path)
            if target.startswith("socket:["):
                sockets.add(target[8:-1])
    return count, sockets


def established(pid: int, sockets: set[str]) -> int:
    """TCP connections of `pid` in the ESTABLISHED state (01), IPv4 and IPv6."""
    count = 0
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and fields[9] in sockets:
                    count += 1
    return count


def size_of(paths: Sequence[Path]) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            total += path.stat().st_size
    return total


# -- windows and their figures ------------------------------------------------------------------


@dataclass
class Window:
    end_s: float  # since the load began
    seconds: float
    latency_ms: dict[str, tuple[float, float, int]]  # kind: p50, p95, calls
    calls_per_s: float
    pushes_per_s: float
    stored: int
    notices: int
    rss_mib: float
    fds: int
    threads: int
    connections: int
    cpu_pct: float
    store_mib: float
    audit_mib: float
    writes: int
    errors: int
    load: float
    probe: dict[str, Any] = field(default_factory=dict)


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return float("nan")
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread * 3600


class Record:
    """Latencies and errors as the load makes them; a window takes what came since the last."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[tuple[float, float]]] = {kind: [] for kind in KINDS}
        self.errors: list[str] = []
        self.notices = 0
        self.writes = 0
        self.sessions = 0  # sessions opened again by clients that reconnect
        self.until = float("inf")  # when the load stops (monotonic)
        self.started = time.monotonic()

    def add(self, kind: str, seconds: float) -> None:
        self.latencies[kind].append((time.monotonic() - self.started, seconds))

    def between(self, kind: str, start_s: float, end_s: float) -> list[float]:
        return [s for t, s in self.latencies[kind] if start_s <= t < end_s]


# -- the load -------------------------------------------------------------------------------------


async def paced(rate: float, rec: Record, offset: float) -> AsyncIterator[int]:
    """Ticks at `rate` a second until `rec.until`, starting `offset` seconds in; a tick missed while
    a call was slow is not made up in a burst."""
    interval = 1.0 / rate
    due = time.monotonic() + offset
    n = 0
    while True:
        due = max(due + interval, time.monotonic() - interval) if n else due
        if due >= rec.until or time.monotonic() >= rec.until:
            return
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        yield n
        n += 1


def client_for(url: str, era: str) -> Client:
    # No response cache: every read reaches the server, as a client that re-reads would.
    return Client(url, mode="legacy" if era == "2025-11-25" else "2026-07-28", cache=None)


async def reader(
    url: str,
    era: str,
    rate: float,
    offset: float,
    phones: list[str],
    rec: Record,
    reconnect_s: float = 0.0,
) -> None:
    """One client's share of the reads, at its own pace; with `reconnect_s`, a new session (a new
    client) that often, as people start new conversations."""
    order = [kind for kind, share in MIX for _ in range(share)]
    rng = random.Random(offset)
    rng.shuffle(order)
    client = client_for(url, era)
    await client.__aenter__()
    renew_at = time.monotonic() + reconnect_s * (0.5 + rng.random()) if reconnect_s else float("inf")
    try:
        async for n in paced(rate, rec, offset):
            if time.monotonic() >= renew_at:
                await client.__aexit__(None, None, None)
                client = client_for(url, era)
                await client.__aenter__()
                rec.sessions += 1
                renew_at = time.monotonic() + reconnect_s
            kind = order[n % len(order)]
            start = time.perf_counter()
            try:
                if kind == "today":
                    await client.read_resource(URI)
                    failed = None
                else:
                    tool, args = (
                        ("ameyo_get_contacts", {"campaign": 1, "phone": rng.choice(phones)})
                        if kind == "contacts"
                        else ("ameyo_call_history", {})
                    )
                    result = await client.call_tool(tool, args)
                    failed = _text(result)[:200] if result.is_error else None
            except Exception as exc:
                failed = f"{type(exc).__name__}: {exc}"[:200]
            if failed is not None:
                rec.errors.append(f"{kind}: {failed}")
            else:
                rec.add(kind, time.perf_counter() - start)
    finally:
        with contextlib.suppress(Exception):
            await client.__aexit__(None, None, None)


async def writer(url: str, per_minute: float, customers: list[int], rec: Record) -> None:
    """Callbacks, each a new one: another customer or another time, inside the calling hours."""
    first = datetime(2031, 1, 1, 9, 0)
    async with client_for(url, "2026-07-28") as client:
        async for n in paced(per_minute / 60, rec, 0.5):
            when = first + timedelta(days=n // 720, minutes=n % 720)
            # Some simulated customers' last disposition is do-not-call: these are test data.
            args = {
                "campaign": 1,
                "customer_id": customers[n % len(customers)],
                "callback_time": when.isoformat(),
                "despite_do_not_call": True,
            }
            start = time.perf_counter()
            try:
                result = await client.call_tool("ameyo_add_callback", args)
                failed = _text(result)[:200] if result.is_error else None
            except Exception as exc:
                failed = f"{type(exc).__name__}: {exc}"[:200]
            if failed is not None:
                rec.errors.append(f"callback: {failed}")
            else:
                rec.add("callback", time.perf_counter() - start)
                rec.writes += 1


async def subscriber(url: str, rec: Record) -> None:
    """Listens until cancelled."""
    async with client_for(url, "2026-07-28") as client, client.listen(resource_subscriptions=[URI]) as events:
        async for _ in events:
            rec.notices += 1


def _text(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def who_to_ask(url: str) -> tuple[list[str], list[int]]:
    """Phones and ids of campaign 1's customers, as the server lists them."""
    phones: list[str] = []
    ids: list[int] = []
    async with client_for(url, "2026-07-28") as client:
        for offset in range(0, 500, 100):
            result = await client.call_tool(
                "ameyo_get_contacts", {"campaign": 1, "limit": 100, "offset": offset}
            )
            if result.is_error or result.structured_content is None:
                raise RuntimeError(f"listing campaign 1 failed: {_text(result)[:300]}")
            for contact in result.structured_content["contacts"]:
                ids.append(contact["customer_id"])
                if contact.get("phone"):
                    phones.append(contact["phone"])
    return phones, ids


# -- processes ------------------------------------------------------------------------------------


@contextlib.contextmanager
def process(command: list[str], env: dict[str, str], log: Path, port: int, what: str) -> Iterator[int]:
    """A process whose stderr goes to `log` (a pipe nobody reads would fill and stall it within the
    hour); its pid once it accepts connections on `port`."""
    with log.open("wb") as err:
        proc = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err
        )
    try:
        try:
            wait_for_port(proc, port, what=what, timeout_s=120)
        except RuntimeError:
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        yield proc.pid
    finally:
        stop(proc)


@dataclass
class Setup:
    url: str
    pid: int
    store: list[Path]
    audit: Path
    counter: Store  # the bench's own connection to the server's store, open for the whole run
    probe: Path | None
    synced_bytes: int  # the store's file after the sync, before any push: the index alone


@contextlib.contextmanager
def started(options: argparse.Namespace, folder: Path) -> Iterator[Setup]:
    """The simulator, its campaign indexed, then the server. The bench's own connection to the
    store opens before the server and stays open until the server has stopped: a SQLite connection
    that closes while it believes itself the last one checkpoints and deletes the WAL."""
    sim_port, port = free_port(), free_port()
    sim_url = f"http://{LOOPBACK}:{sim_port}"
    database = folder / "index.db"
    env = server_env(
        sim_url,
        PASSWORD,
        folder,
        AMEYO_DATABASE_URL=str(database),
        AMEYO_PUSH_TOKEN=TOKEN,
        AMEYO_SESSION_FILE="none",
    )
    server_cmd = [PYTHON, "-m", "ameyo_mcp"]
    probe = None
    if options.probe or options.trim_every:
        probe = folder / "probe.jsonl"
        server_cmd = [PYTHON, str(BENCH / "soak_probe.py"), str(probe)]
        env = env | {
            "SOAK_PROBE_S": str(min(10.0, options.window / 2)),
            "SOAK_TRIM_S": str(options.trim_every),
        }
    if options.arena_max:
        env = env | {"MALLOC_ARENA_MAX": str(options.arena_max)}
    sim_cmd = [PYTHON, "-m", "ameyo_mcp", "simulator", "--port", str(sim_port), "--password", PASSWORD]
    sim_cmd += ["--contacts", str(options.contacts)]
    # The dialer starts at once; its first pushes, before the server listens, are given up on.
    sim_cmd += ["--push-url", f"http://{LOOPBACK}:{port}/ameyo/status?token={TOKEN}"]
    sim_cmd += ["--push-rate", str(options.pushes)]
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            process(sim_cmd, dict(os.environ), folder / "simulator.log", sim_port, "the simulator")
        )
        # Indexed before the load, as a deployment's campaign is (the server then syncs no more).
        synced = subprocess.run(
            [PYTHON, "-m", "ameyo_mcp", "sync", "--campaign", "1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if synced.returncode != 0:
            raise RuntimeError(f"ameyo-mcp sync failed: {synced.stderr[-2000:]}")
        synced_bytes = size_of([database])  # the sync's connection, the last one, checkpointed it
        counter = stack.enter_context(Store(str(database)))
        pid = stack.enter_context(
            process(
                [*server_cmd, "--transport", "http", "--host", LOOPBACK, "--port", str(port)],
                env,
                folder / "server.log",
                port,
                "the server",
            )
        )
        yield Setup(
            f"http://{LOOPBACK}:{port}/mcp",
            pid,
            [database, database.with_name(database.name + "-wal")],
            folder / "audit.jsonl",
            counter,
            probe,
            synced_bytes,
        )


def stored_calls(store: Store) -> int:
    return store.call_history(CallQuery(limit=1)).total


def audit_size(audit: Path) -> int:
    return size_of(list(audit.parent.glob(f"{audit.stem}*{audit.suffix}")))


def last_probe(probe: Path | None) -> dict[str, Any]:
    if probe is None or not probe.exists():
        return {}
    lines = probe.read_text().splitlines()
    return json.loads(lines[-1]) if lines else {}


# -- the run --------------------------------------------------------------------------------------


async def soak(options: argparse.Namespace, setup: Setup) -> tuple[list[Window], Record]:
    phones, ids = await who_to_ask(setup.url)
    eras = ["2025-11-25" if k % 2 == 0 else "2026-07-28" for k in range(options.clients)]
    for era in set(eras):  # the first of each kind: imports, login, sessions
        async with client_for(setup.url, era) as client:
            await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": phones[0]})
            await client.call_tool("ameyo_call_history", {})
            await client.read_resource(URI)
    rec = Record()
    until = rec.started + options.minutes * 60
    rate = options.calls / options.clients
    tasks = [
        asyncio.create_task(
            reader(setup.url, era, rate, k / options.calls, phones, rec, options.reconnect_every)
        )
        for k, era in enumerate(eras)
    ]
    if options.writes > 0:
        tasks.append(asyncio.create_task(writer(setup.url, options.writes, ids, rec)))
    listening = asyncio.create_task(subscriber(setup.url, rec))
    tasks.append(listening)
    windows: list[Window] = []
    last_t, last_cpu = rec.started, cpu_s(setup.pid)
    last_stored = stored_calls(setup.counter)
    first_stored = last_stored
    last_notices = last_writes = last_errors = 0
    print_head()
    while time.monotonic() < until - 1:
        await asyncio.sleep(min(options.window, until - time.monotonic()))
        now = time.monotonic()
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        seconds = now - last_t
        start_s, end_s = last_t - rec.started, now - rec.started
        latency = {}
        calls = 0
        for kind in KINDS:
            values = rec.between(kind, start_s, end_s)
            calls += len(values) if kind != "callback" else 0
            latency[kind] = (quantile(values, 0.5) * 1000, quantile(values, 0.95) * 1000, len(values))
        stored = await asyncio.to_thread(stored_calls, setup.counter)
        cpu = cpu_s(setup.pid)
        proc = status(setup.pid)
        fds, sockets = descriptors(setup.pid)
        window = Window(
            end_s=round(end_s, 1),
            seconds=round(seconds, 1),
            latency_ms={k: (round(v[0], 1), round(v[1], 1), v[2]) for k, v in latency.items()},
            calls_per_s=round(calls / seconds, 2),
            pushes_per_s=round((stored - last_stored) / seconds, 2),
            stored=stored - first_stored,
            notices=rec.notices - last_notices,
            rss_mib=round(proc["VmRSS"] / 1024, 1),
            fds=fds,
            threads=proc["Threads"],
            connections=established(setup.pid, sockets),
            cpu_pct=round((cpu - last_cpu) / seconds * 100, 1),
            store_mib=round(size_of(setup.store) / MIB, 2),
            audit_mib=round(audit_size(setup.audit) / MIB, 3),
            writes=rec.writes - last_writes,
            errors=len(rec.errors) - last_errors,
            load=round(os.getloadavg()[0], 2),
            probe=last_probe(setup.probe),
        )
        windows.append(window)
        print_window(window)
        last_t, last_cpu, last_stored = now, cpu, stored
        last_notices, last_writes, last_errors = rec.notices, rec.writes, len(rec.errors)
    # The load goes on until the last window is taken, which then sees it whole. The clients end
    # their sessions themselves, so the server stops with nothing in flight.
    rec.until = time.monotonic()
    await asyncio.wait([t for t in tasks if t is not listening], timeout=30)
    logging.getLogger("mcp").setLevel(logging.CRITICAL)  # the listener's stream, cut below, is no error
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return windows, rec


COLUMNS = (
    ("min", 5),
    ("contacts p50/p95", 16),
    ("history p50/p95", 16),
    ("today p50/p95", 14),
    ("callback p50/p95", 16),
    ("calls/s", 7),
    ("push/s", 6),
    ("notices", 7),
    ("RSS MiB", 7),
    ("fds", 4),
    ("thr", 3),
    ("conns", 5),
    ("CPU%", 5),
    ("store MiB", 9),
    ("audit MiB", 9),
    ("err", 4),
    ("load", 5),
)


def print_head() -> None:
    print("   " + "  ".join(name.rjust(width) for name, width in COLUMNS), flush=True)


def print_window(w: Window) -> None:
    def pair(kind: str) -> str:
        p50, p95, _ = w.latency_ms[kind]
        return f"{p50:.0f}/{p95:.0f} ms"

    cells = [
        f"{w.end_s / 60:.1f}",
        *(pair(kind) for kind in KINDS),
        f"{w.calls_per_s:.1f}",
        f"{w.pushes_per_s:.1f}",
        str(w.notices),
        f"{w.rss_mib:.1f}",
        str(w.fds),
        str(w.threads),
        str(w.connections),
        f"{w.cpu_pct:.0f}",
        f"{w.store_mib:.2f}",
        f"{w.audit_mib:.3f}",
        str(w.errors),
        f"{w.load:.1f}",
    ]
    line = "   " + "  ".join(cell.rjust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True))
    if w.probe:
        held = f"   python: {w.probe['blocks']:,} blocks, {w.probe['objects']:,} objects"
        if "pymalloc_arenas_kib" in w.probe:
            arenas, used = w.probe["pymalloc_arenas_kib"] / 1024, w.probe["pymalloc_used_kib"] / 1024
            held += f", pymalloc {used:.1f} MiB used in {arenas:.1f} MiB of arenas"
        if "malloc_used_kib" in w.probe:
            used, free = w.probe["malloc_used_kib"] / 1024, w.probe["malloc_free_kib"] / 1024
            held += f"; malloc: {used:.1f} MiB used, {free:.1f} MiB free and kept"
            held += f", {w.probe['malloc_mapped_kib'] / 1024:.1f} MiB mapped apart"
        if "traced_kib" in w.probe:
            held += f", traced {w.probe['traced_kib'] / 1024:.1f} MiB"
        if "trim_kib" in w.probe:
            held += f", malloc_trim gave back {w.probe['trim_kib'] / 1024:.1f} MiB"
        line += held
    print(line, flush=True)


def summary(options: argparse.Namespace, windows: list[Window], rec: Record) -> dict[str, Any]:
    end_s = windows[-1].end_s
    half = [w for w in windows if w.end_s > end_s / 2]
    out: dict[str, Any] = {
        "rss_mib_per_h": slope_per_hour([(w.end_s, w.rss_mib) for w in windows]),
        "rss_mib_per_h_second_half": slope_per_hour([(w.end_s, w.rss_mib) for w in half]),
        "store_mib_per_h": slope_per_hour([(w.end_s, w.store_mib) for w in windows]),
        "audit_mib_per_h": slope_per_hour([(w.end_s, w.audit_mib) for w in windows]),
        "stored": windows[-1].stored,
        "writes": rec.writes,
        "sessions_renewed": rec.sessions,
        "errors": len(rec.errors),
        "error_samples": sorted(set(rec.errors))[:5],
    }
    first_store = windows[0].store_mib
    pushed = windows[-1].stored - windows[0].stored
    if pushed > 0:
        out["store_bytes_per_push"] = (windows[-1].store_mib - first_store) * MIB / pushed
    if rec.writes:
        out["audit_bytes_per_write"] = windows[-1].audit_mib * MIB / rec.writes
    spans: tuple[tuple[float, float], tuple[float, float]]
    if end_s >= 20 * 60:
        spans, label = ((0.0, 600.0), (end_s - 600, end_s)), "last 10 min / first 10 min"
    else:
        first, last = windows[0], windows[-1]
        spans, label = (
            ((0, first.end_s), (last.end_s - last.seconds, last.end_s)),
            "last window / first window",
        )
    out["p50_ratio_of"] = label
    out["p50_ratio"] = {}
    for kind in KINDS:
        before, after = (rec.between(kind, a, b) for a, b in spans)
        if before and after:
            out["p50_ratio"][kind] = {
                "first_ms": quantile(before, 0.5) * 1000,
                "last_ms": quantile(after, 0.5) * 1000,
                "ratio": quantile(after, 0.5) / quantile(before, 0.5),
            }
    return out


def print_summary(out: dict[str, Any]) -> None:
    rss, later = out["rss_mib_per_h"], out["rss_mib_per_h_second_half"]
    print(
        f"   slopes per hour: RSS {rss:+.1f} MiB (second half {later:+.1f}), "
        f"store {out['store_mib_per_h']:+.1f} MiB, audit {out['audit_mib_per_h']:+.2f} MiB"
    )
    if "store_bytes_per_push" in out:
        per_push = out["store_bytes_per_push"]
        stored = out["stored"]
        print(f"   store files (database and WAL) grew per push: {per_push:,.0f} bytes ({stored:,} pushes)")
    if "checkpointed_bytes_per_push" in out:
        per_push = out["checkpointed_bytes_per_push"]
        stored = out["pushes_in_store"]
        print(f"   the store's file per push, checkpointed: {per_push:,.0f} bytes ({stored:,} pushes)")
    if "audit_bytes_per_write" in out:
        print(
            f"   audit trail per write: {out['audit_bytes_per_write']:,.0f} bytes ({out['writes']:,} writes)"
        )
    print(f"   p50, {out['p50_ratio_of']}:")
    for kind, figures in out["p50_ratio"].items():
        first, last, ratio = figures["first_ms"], figures["last_ms"], figures["ratio"]
        print(f"     {kind:9} {first:7.1f} → {last:7.1f} ms   {ratio:.2f}×")
    if out["sessions_renewed"]:
        print(f"   sessions opened again by reconnecting clients: {out['sessions_renewed']:,}")
    print(f"   errors: {out['errors']}")
    for sample in out["error_samples"]:
        print(f"     {sample}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=60.0, help="seconds a window")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--calls", type=float, default=13.0, help="tool calls and reads a second, in all")
    parser.add_argument("--pushes", type=float, default=20.0, help="call outcomes pushed a second")
    parser.add_argument("--writes", type=float, default=30.0, help="callbacks written a minute (0: none)")
    # The dialer dials a contact at most once in 15 minutes: 20 pushes a second need 18,000.
    parser.add_argument("--contacts", type=int, default=25_000, help="contacts in campaign 1")
    parser.add_argument(
        "--reconnect-every",
        type=float,
        default=0.0,
        help="seconds before a client opens a new session (0: never)",
    )
    parser.add_argument("--json", type=Path, default=None, help="save the windows and the summary here")
    parser.add_argument("--probe", action="store_true", help="report what Python holds in the server")
    parser.add_argument(
        "--trim-every", type=float, default=0.0, help="seconds between malloc_trim(0) (probe)"
    )
    parser.add_argument(
        "--arena-max", type=int, default=0, help="MALLOC_ARENA_MAX for the server (default: the server's 2)"
    )
    options = parser.parse_args()
    header(
        f"soak: {options.minutes:g} min, {options.clients} clients ({options.calls:g} calls/s), "
        f"{options.pushes:g} pushes/s, {options.writes:g} writes/min, 1 subscriber"
    )
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        folder = Path(tmp)
        with started(options, folder) as setup:
            windows, rec = asyncio.run(soak(options, setup))
        out = summary(options, windows, rec)
        # Every process is gone and the last connection checkpointed: the file holds every push.
        with Store(str(folder / "index.db")) as store:
            pushed = stored_calls(store)
        grown = size_of([folder / "index.db"]) - setup.synced_bytes
        out["checkpointed_bytes_per_push"] = grown / max(pushed, 1)
        out["pushes_in_store"] = pushed
        print_summary(out)
        logged = (folder / "server.log").read_text(errors="replace").strip().splitlines()
        told = [line for line in logged if not line.startswith("ameyo-mcp: ")]  # start, stop
        if told:
            print(f"   the server logged {len(told)} lines, among them:")
            for line in sorted(set(told), key=told.index)[:8]:
                print(f"     {line[:300]}")
    if options.json is not None:
        options.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "options": vars(options) | {"json": str(options.json)},
                    "windows": [asdict(w) for w in windows],
                    "summary": out,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
