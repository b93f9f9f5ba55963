"""Benchmark of lookups through the index, as a model asks them: the tool's own time and its requests.

    python bench/bench_lookups.py [--contacts 1000000] [--rounds 300] [--postgres] [--index PATH]

A simulator in its own process holds `--contacts` contacts in MoviStarSurvey; `ameyo-mcp sync`
indexes it once into SQLite (or `--index PATH` reuses a file synced from the same simulator size
earlier: the simulator's contacts are the same every start) and, with `--postgres`, once into an
embedded PostgreSQL. Then, in this process, one server per backend answers `ameyo_get_contacts`
through a real MCP client (in memory): by whole number, by the last 6 digits and by a full name,
each drawn at random from the index. Backends and kinds are interleaved round by round.

Own time = the tool call's time minus the time with a request to Ameyo out (each request counted:
the index's customers by id, and beside it the read of those added since the sync; and each wait,
the requests asked at once being one) and minus the MCP client's check of the answer against the
tool's output schema (jsonschema, ~2 ms for a page of 20 contacts: the asking program's work, not
the server's). Goals: p50 ≤ 5 ms, p99 ≤ 20 ms, one wait for Ameyo.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from _common import header, table
from bench_sync import PASSWORD, Simulator, run_sync, start_postgres

T = TypeVar("T")
KINDS = ("whole number", "last 6 digits", "full name")


def counted_ameyo(tally: dict[str, float]) -> Callable[[Any], Any]:
    """An `Ameyo` whose every request to Ameyo is counted and timed into `tally`."""
    from ameyo_mcp.ameyo.service import Ameyo

    out = {"n": 0, "since": 0.0}

    class Counted(Ameyo):
        async def run(self, command: Callable[[str | None], Awaitable[T]]) -> T:
            # The time with any request out: two asked at once are one wait, not two.
            if not out["n"]:
                out["since"] = time.perf_counter()
                tally["waits"] += 1
            out["n"] += 1
            try:
                return await super().run(command)
            finally:
                tally["requests"] += 1
                out["n"] -= 1
                if not out["n"]:
                    tally["live_s"] += time.perf_counter() - out["since"]

    return Counted


def settings_for(base_url: str, database_url: str, work: Path) -> Any:
    from ameyo_mcp.config import load_settings

    env = {
        "AMEYO_BASE_URL": base_url,
        "AMEYO_USER_ID": "CustomerManager",
        "AMEYO_PASSWORD": PASSWORD,
        "AMEYO_TIMEZONE": "Asia/Kolkata",
        "AMEYO_SESSION_FILE": "none",
        "AMEYO_AUDIT_FILE": str(work / "audit.jsonl"),
        "AMEYO_DATABASE_URL": database_url,
        "AMEYO_SYNC_INTERVAL_S": "0",
        "AMEYO_TIMEOUT_S": "30",
    }
    return load_settings(env, env_file=None)


def draw(database_url: str, n: int = 2000) -> list[Any]:
    """Contacts drawn at random from all along the index (customer ids are dense)."""
    from ameyo_mcp.store import Store

    store = Store(database_url)
    try:
        known = store.campaign(1)
        assert known is not None and known.synced_at is not None, "the index is not synced"
        first = store.contacts(1, limit=1)[0].customer_id
        picked = []
        while len(picked) < n:
            found = store.contacts(1, after=random.randint(first, first + known.contacts), limit=1)
            if found and found[0].phones and found[0].names:
                picked.append(found[0])
    finally:
        store.close()
    return picked


async def measure(
    base_url: str, backends: dict[str, str], rounds: int, work: Path
) -> dict[str, dict[str, list[tuple[float, int, int]]]]:
    from mcp import Client
    from mcp.client.session import ClientSession

    from ameyo_mcp.server.app import create_server

    checking = {"s": 0.0}
    check = ClientSession.validate_tool_result

    async def timed_check(self: ClientSession, name: str, result: Any) -> None:
        started = time.perf_counter()
        try:
            await check(self, name, result)
        finally:
            checking["s"] += time.perf_counter() - started

    ClientSession.validate_tool_result = timed_check  # type: ignore[method-assign]

    results: dict[str, dict[str, list[tuple[float, int, int]]]] = {
        b: {k: [] for k in KINDS} for b in backends
    }
    clients: dict[str, tuple[Any, dict[str, float]]] = {}
    if True:
        stack: list[Any] = []
        try:
            for name, url in backends.items():
                tally = {"requests": 0.0, "live_s": 0.0, "waits": 0.0}
                server = create_server(settings_for(base_url, url, work), ameyo_factory=counted_ameyo(tally))
                client = Client(server)
                await client.__aenter__()
                stack.append(client)
                clients[name] = (client, tally)
            samples = {name: draw(url) for name, url in backends.items()}
            for name, (client, _) in clients.items():  # warm up: login, campaigns, store opened
                for contact in samples[name][:5]:
                    await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": contact.phones[0]})
            for n in range(rounds):
                order = list(backends) if n % 2 == 0 else list(reversed(backends))
                for name in order:
                    client, tally = clients[name]
                    contact = samples[name][n % len(samples[name])]
                    for kind in KINDS if n % 2 == 0 else tuple(reversed(KINDS)):
                        if kind == "whole number":
                            args = {"phone": contact.phones[0]}
                        elif kind == "last 6 digits":
                            args = {"phone": contact.phones[0][-6:]}
                        else:
                            args = {"search": contact.names}
                        tally["requests"], tally["live_s"], tally["waits"], checking["s"] = 0, 0.0, 0, 0.0
                        started = time.perf_counter()
                        result = await client.call_tool("ameyo_get_contacts", {"campaign": 1, **args})
                        total = time.perf_counter() - started
                        text = result.content[0].text if result.content else ""
                        if result.is_error or "index of" not in text:
                            raise RuntimeError(f"{name} {kind} {args}: {text[:300]}")
                        own = total - tally["live_s"] - checking["s"]
                        results[name][kind].append((own, int(tally["requests"]), int(tally["waits"])))
        finally:
            for client in reversed(stack):
                await client.__aexit__(None, None, None)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--index", help="a SQLite index file to reuse (synced now when missing)")
    args = parser.parse_args()
    header(f"lookups through the index, {args.contacts:,} contacts, {args.rounds} rounds")
    work = Path(tempfile.mkdtemp(prefix="bench-lookups-"))
    server = None
    try:
        with Simulator(args.contacts) as url:
            db = Path(args.index) if args.index else work / "index.db"
            if not db.exists():
                report = run_sync(url, str(db))
                print(f"   SQLite sync: {report['contacts']:,} contacts in {report['elapsed_s']:.0f} s")
            contacts = draw_count(str(db))
            print(
                f"   SQLite index: {db.stat().st_size / contacts:.0f} bytes per contact on disk "
                f"({db.stat().st_size / 2**20:.0f} MiB; goal ≤ 300)"
            )
            backends = {"SQLite": str(db)}
            if args.postgres:
                server, pg_url = start_postgres(work)
                report = run_sync(url, pg_url)
                print(f"   PostgreSQL sync: {report['contacts']:,} contacts in {report['elapsed_s']:.0f} s")
                backends["PostgreSQL"] = pg_url
            results = asyncio.run(measure(url, backends, args.rounds, work))
        rows = []
        for name, kinds in results.items():
            for kind, figures in kinds.items():
                own = sorted(t for t, _, _ in figures)
                requests = sorted({r for _, r, _ in figures})
                waits = sorted({w for _, _, w in figures})
                rows.append(
                    [
                        f"{name}: {kind}",
                        f"{statistics.median(own) * 1000:.2f} ms",
                        f"{own[int(len(own) * 0.99)] * 1000:.2f} ms",
                        "/".join(str(r) for r in requests),
                        "/".join(str(w) for w in waits),
                    ]
                )
        table(rows, ["lookup (tool's own time)", "p50", "p99", "requests to Ameyo", "waits for Ameyo"])
        print(
            "   goals: p50 ≤ 5 ms, p99 ≤ 20 ms, one wait for Ameyo each (the index's customers by id\n"
            "   and the newest contacts, added since the sync, asked at once)"
        )
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def draw_count(database_url: str) -> int:
    from ameyo_mcp.store import Store

    store = Store(database_url)
    try:
        known = store.campaign(1)
        return known.contacts if known else 0
    finally:
        store.close()


if __name__ == "__main__":
    main()
