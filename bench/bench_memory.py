"""5. Memory: peak RSS (VmHWM) of the server process over stdio after start (first `tools/list`
answered) and after a workload like the runs above, for `ameyo-mcp` and for a bare `MCPServer`.

    /work/venv/bin/python bench/bench_memory.py [--rounds 3] [--calls 300]

Workload for ameyo-mcp: `calls` 20-contact calls by customer id (50 at a time), a scan of a
1,000-contact campaign, a 100-contact page and a second tools/list. For the bare server: as many
echo calls, 50 at a time, and a second tools/list. Rounds alternate A/B/A/B; medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    AMEYO_CMD,
    BARE_CMD,
    ameyo_env,
    bare_env,
    children,
    header,
    median,
    memory_kib,
    run_async,
    simulator,
    stdio_params,
    table,
)

from ameyo_mcp.simulator import SimulatorConfig

Workload = Callable[[Client], Awaitable[None]]


async def in_batches(calls: Sequence[Callable[[], Awaitable[object]]], width: int = 50) -> None:
    for i in range(0, len(calls), width):
        await asyncio.gather(*(call() for call in calls[i : i + width]))


async def measure(
    cmd: Sequence[str], env: dict[str, str], workdir: Path, workload: Workload
) -> tuple[dict[str, int], dict[str, int]]:
    before = children()
    async with Client(stdio_params(cmd, env, workdir), cache=None) as client:
        await client.list_tools()
        (pid,) = children() - before
        started = memory_kib(pid)
        await workload(client)
        after = memory_kib(pid)
    return started, after


async def run(rounds: int, calls: int) -> None:
    header("memory: server process RSS over stdio, after start and after a workload")
    with simulator(SimulatorConfig(contacts=1000)) as sim, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ids = [c.customer_id for c in sim.state.contacts(1)[:20]]

        async def ameyo_work(client: Client) -> None:
            one = {"campaign": 1, "limit": 20, "customer_ids": ids}
            await in_batches([lambda: client.call_tool("ameyo_get_contacts", one)] * calls)
            await client.call_tool("ameyo_get_contacts", {"campaign": 1})
            await client.call_tool("ameyo_get_contacts", {"campaign": 1, "limit": 100})
            await client.list_tools()

        async def bare_work(client: Client) -> None:
            await in_batches([lambda: client.call_tool("echo", {"text": "ping"})] * calls)
            await client.list_tools()

        setups = {
            "ameyo-mcp": (AMEYO_CMD, ameyo_env(sim, workdir), ameyo_work),
            "bare MCPServer": (BARE_CMD, bare_env(workdir), bare_work),
        }
        figures: dict[str, list[tuple[dict[str, int], dict[str, int]]]] = {name: [] for name in setups}
        for i in range(rounds):
            for name in list(setups) if i % 2 == 0 else list(setups)[::-1]:
                cmd, env, work = setups[name]
                figures[name].append(await measure(cmd, env, workdir, work))

    def mib(name: str, which: int, key: str) -> float:
        return median([f[which][key] for f in figures[name]]) / 1024

    rows = [
        (
            name,
            f"{mib(name, 0, 'VmHWM'):.1f} MiB",
            f"{mib(name, 1, 'VmHWM'):.1f} MiB",
            f"{mib(name, 1, 'VmRSS'):.1f} MiB",
        )
        for name in setups
    ]
    table(rows, ("server", "peak RSS after start", "peak RSS after workload", "RSS after workload"))
    start_ratio = mib("ameyo-mcp", 0, "VmHWM") / mib("bare MCPServer", 0, "VmHWM")
    peak_ratio = mib("ameyo-mcp", 1, "VmHWM") / mib("bare MCPServer", 1, "VmHWM")
    print(
        f"   {rounds} rounds, A/B alternated; ratios: after start {start_ratio:.2f}x, peak {peak_ratio:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    run_async(lambda: run(args.rounds, args.calls))


if __name__ == "__main__":
    main()
