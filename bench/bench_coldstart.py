"""2. Cold start: process start to the first `tools/list` answered over stdio, for `ameyo-mcp`
(`python -m ameyo_mcp`, pointed at a simulator in this process by AMEYO_* variables) and for a bare
`MCPServer` with one tool (`python bench/bare_server.py`), alternated run by run (ABBA order).

    /work/venv/bin/python bench/bench_coldstart.py [--pairs 12]

The timed span covers spawning the interpreter, imports, the MCP handshake and `tools/list`; it
ends when the answer is in, before shutdown. It also checks that no Ameyo command (no login) was
sent, and which imports the server does that the bare one does not (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    AMEYO_CMD,
    BARE_CMD,
    ameyo_env,
    bare_env,
    header,
    median,
    ms,
    p95,
    run_async,
    simulator,
    stdio_params,
    table,
)

GOAL_RATIO = 1.15


async def first_list(cmd: Sequence[str], env: dict[str, str], workdir: Path) -> tuple[float, int]:
    start = time.perf_counter()
    async with Client(stdio_params(cmd, env, workdir), cache=None) as client:
        tools = (await client.list_tools()).tools
        elapsed = time.perf_counter() - start
    return elapsed, len(tools)


def import_times(cmd: Sequence[str], env: dict[str, str], workdir: Path) -> dict[str, tuple[int, int]]:
    """Module -> (self µs, cumulative µs) of a server process started with stdin at EOF."""
    done = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]],
        env=env,
        cwd=str(workdir),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    found: dict[str, tuple[int, int]] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        found[name.strip()] = (int(own), int(cumulative))
    return found


async def run(pairs: int) -> None:
    header("cold start: process start to the first tools/list answered over stdio")
    with simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        envs = {"ameyo": ameyo_env(sim, workdir), "bare": bare_env(workdir)}
        cmds = {"ameyo": AMEYO_CMD, "bare": BARE_CMD}
        times: dict[str, list[float]] = {"ameyo": [], "bare": []}
        counts: dict[str, int] = {}
        await first_list(AMEYO_CMD, envs["ameyo"], workdir)  # warm the OS file cache once each
        await first_list(BARE_CMD, envs["bare"], workdir)
        for i in range(pairs):
            for name in ("ameyo", "bare") if i % 2 == 0 else ("bare", "ameyo"):
                elapsed, counts[name] = await first_list(cmds[name], envs[name], workdir)
                times[name].append(elapsed)
        sent = sum(sim.state.commands.values())
        imports = {name: import_times(cmds[name], envs[name], workdir) for name in cmds}
    ours, base = times["ameyo"], times["bare"]
    ratio = median(ours) / median(base)
    print(f"   {pairs} runs each, ABBA order; Ameyo commands sent by all starts: {sent} (0 expected)")
    table(
        [
            ("ameyo-mcp", counts["ameyo"], ms(median(ours)), ms(p95(ours)), ms(min(ours))),
            ("bare MCPServer", counts["bare"], ms(median(base)), ms(p95(base)), ms(min(base))),
        ],
        ("server", "tools", "median", "p95", "min"),
    )
    verdict = "met" if ratio <= GOAL_RATIO else "MISSED"
    print(f"   ratio of medians: {ratio:.3f}x (goal <= {GOAL_RATIO}x: {verdict})")
    ours_imports, base_imports = imports["ameyo"], imports["bare"]
    simulator_loaded = any(name.startswith("ameyo_mcp.simulator") for name in ours_imports)
    print(f"   ameyo_mcp.simulator imported without --demo: {'YES (bug)' if simulator_loaded else 'no'}")
    extra = {n: t for n, t in ours_imports.items() if n not in base_imports}
    extra_self = sum(own for own, _ in extra.values())
    print(
        f"   -X importtime: {len(extra)} modules the bare server does not import, "
        f"{extra_self / 1000:.1f} ms of import time together; the costliest (cumulative):"
    )
    top = sorted(extra.items(), key=lambda item: -item[1][1])
    shown = [(n, f"{c / 1000:.1f} ms", f"{o / 1000:.1f} ms") for n, (o, c) in top if "." not in n][:8]
    shown += [(n, f"{c / 1000:.1f} ms", f"{o / 1000:.1f} ms") for n, (o, c) in top if "." in n][:8]
    table(shown, ("module", "cumulative", "self"))
    assert sent == 0, "the server contacted Ameyo before the first tool call"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=12)
    args = parser.parse_args()
    run_async(lambda: run(args.pairs))


if __name__ == "__main__":
    main()
