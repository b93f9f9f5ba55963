"""The cost of a call at 50 HTTP sessions: `ameyo-mcp --transport http` against the bare server.

    python bench/bench_calls.py [--clients 50] [--seconds 6] [--rounds 2]

A simulator (2,000 contacts), `ameyo-mcp --transport http` (SQLite store) and `bench/bare_server.py
--transport http` run in their own processes for the whole run. Each round measures both, in ABBA
order: `--clients` MCP clients (the mcp client's default protocol, each its own session) call back
to back for `--seconds`. Ours: `ameyo_get_contacts` by 20 customer ids (one getContacts to the
simulator, 20 contacts parsed, answered as text and structured data). The baseline: the bare server's
`echo` with a 2,000-character text (about our answer's text), which is all the MCP and HTTP work
and none of ours. Beside them, for what the one upstream request costs: the bare server's `relay`,
which POSTs the very getContacts body ours sends (built by the same code, with a session of its
own) over one `httpx.AsyncClient` with our connection limits, decodes the JSON and answers 2,000
characters of it. Printed: calls per second and each server process's CPU per call (from /proc);
ours and the relay also show the simulator's CPU per call, which is Ameyo's work, not the server's.

Goal: our server's CPU per call ≤ 2.5× the bare server's echo.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH, PYTHON, SimulatorProcess, header, http_server, median, run_async, server_env, table
from _cpu import cpu_s
from bench_replicas import SimulatorPid

PASSWORD = "pw-bench-calls"
GOAL = 2.5


async def load(url: str, clients: int, seconds: float, tool: str, args: dict[str, Any]) -> tuple[int, int]:
    """Calls completed within `seconds` by `clients` clients of `url`, and the error answers."""
    done = errors = 0

    async def one(until: float) -> None:
        nonlocal done, errors
        async with Client(url) as client:
            while time.monotonic() < until:
                result = await client.call_tool(tool, args)
                if result.is_error:
                    errors += 1
                else:
                    done += 1

    until = time.monotonic() + seconds
    async with anyio.create_task_group() as group:
        for _ in range(clients):
            group.start_soon(one, until)
    return done, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    header(f"a call at {options.clients} HTTP sessions, {options.seconds:g} s a measurement, ABBA")
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sim_url = stack.enter_context(SimulatorProcess(2_000, PASSWORD))
        sim_pid = stack.enter_context(SimulatorPid())
        env = server_env(sim_url, PASSWORD, folder, AMEYO_DATABASE_URL=str(folder / "index.db"))
        ours = stack.enter_context(http_server([PYTHON, "-m", "ameyo_mcp"], env, folder))
        bare = stack.enter_context(http_server([PYTHON, str(BENCH / "bare_server.py")], env, folder))
        ids = list(range(12001, 12021))
        variants = {
            "ameyo-mcp": (ours, "ameyo_get_contacts", {"campaign": 1, "customer_ids": ids}),
            "bare MCPServer": (bare, "echo", {"text": "x" * 2_000}),
            "bare + relay": (bare, "relay", relay_args(sim_url, ids)),
        }
        for (url, _), tool, args in variants.values():  # warm up: sessions, login, imports
            run_async(lambda url=url, tool=tool, args=args: _once(url, tool, args))
        rates: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        failed: dict[str, int] = dict.fromkeys(variants, 0)
        names = list(variants)
        for name in [n for _ in range(options.rounds) for n in (*names, *reversed(names))]:
            (url, pid), tool, args = variants[name]
            before = cpu_s(pid), cpu_s(sim_pid.pid)
            box: list[tuple[int, int]] = []

            async def measure(
                url: str = url,
                tool: str = tool,
                args: dict[str, Any] = args,
                box: list[tuple[int, int]] = box,
            ) -> None:
                box.append(await load(url, options.clients, options.seconds, tool, args))

            run_async(measure)
            calls, errors = box[0]
            failed[name] += errors
            rates[name].append(calls / options.seconds)
            server_ms = (cpu_s(pid) - before[0]) * 1000 / max(calls, 1)
            sim_ms = (cpu_s(sim_pid.pid) - before[1]) * 1000 / max(calls, 1)
            cpu[name].append((server_ms, sim_ms))
            print(
                f"   {name}: {calls / options.seconds:,.0f} calls/s, {server_ms:.2f} ms server CPU a call",
                flush=True,
            )
        rows = []
        for name in variants:
            server_ms = median([c[0] for c in cpu[name]])
            rows.append(
                [
                    name,
                    f"{median(rates[name]):,.0f}",
                    f"{server_ms:.2f}",
                    f"{median([c[1] for c in cpu[name]]):.2f}" if name != "bare MCPServer" else "–",
                    str(failed[name]),
                ]
            )
        table(rows, ["server", "calls/s", "server CPU ms/call", "simulator CPU ms/call", "errors"])
        ratio = median([c[0] for c in cpu["ameyo-mcp"]]) / median([c[0] for c in cpu["bare MCPServer"]])
        verdict = "met" if ratio <= GOAL else "MISSED"
        print(f"   our CPU per call is {ratio:.2f}× the bare server's (goal ≤ {GOAL}×: {verdict})")
        relay = median([c[0] for c in cpu["bare + relay"]]) / median([c[0] for c in cpu["bare MCPServer"]])
        print(f"   the bare server with the one upstream request: {relay:.2f}× its echo")


def relay_args(sim_url: str, ids: list[int]) -> dict[str, Any]:
    """The relay's arguments: the getContacts body `ameyo_get_contacts` sends for `ids` in campaign
    1 (the same request model, columns and encoding), with a session logged in here."""
    import httpx

    from ameyo_mcp.ameyo.client import request_body
    from ameyo_mcp.ameyo.columns import CAMPAIGN_COLUMN_PREFIX
    from ameyo_mcp.ameyo.models import GetContactsRequest
    from ameyo_mcp.server.tools.contacts import SUMMARY_COLUMNS

    url = sim_url + "/ameyowebaccess/command"
    login = {"userId": "CustomerManager", "password": PASSWORD, "terminal": "127.0.0.1"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    session = httpx.post(url, content=request_body("login", login), headers=form).json()["sessionId"]
    request = GetContactsRequest(
        campaign_id=1,
        customer_ids=[str(i) for i in ids],
        other_columns={CAMPAIGN_COLUMN_PREFIX + c: c for c in SUMMARY_COLUMNS},
        session_id=session,
    )
    return {"url": url, "body": request_body(request.command, request.wire()).decode()}


async def _once(url: str, tool: str, args: dict[str, Any]) -> None:
    async with Client(url) as client:
        result = await client.call_tool(tool, args)
        if result.is_error:
            raise RuntimeError(f"{tool}: {result.content}")


if __name__ == "__main__":
    main()
