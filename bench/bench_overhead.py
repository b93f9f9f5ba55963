"""1. Call overhead: `ameyo_get_contacts` for 20 contacts over stdio, streamable HTTP and in memory,
side by side with (a) a raw httpx POST of the same getContacts to the same simulator and (b) a trivial
echo tool on a bare `MCPServer` over the same transport.

    /work/venv/bin/python bench/bench_overhead.py [--rounds 600] [--warmup 40]

The arguments `{"campaign": 1, "limit": 20, "customer_ids": [20 ids]}` make exactly one upstream
getContacts (checked): with customer ids the tool asks Ameyo for those contacts and does not page.
Every round runs each variant once, in a shuffled order, so all of them see the same noise.
What the server adds of its own = median(call) - median(raw POST) - median(echo), per transport.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    AMEYO_CMD,
    BARE_CMD,
    ameyo_env,
    ameyo_settings,
    bare_env,
    header,
    http_server,
    median,
    ms,
    p95,
    run_async,
    simulator,
    stdio_params,
    table,
)

from ameyo_mcp.ameyo.client import AmeyoClient
from ameyo_mcp.ameyo.columns import CAMPAIGN_COLUMN_PREFIX as CAMPAIGN_COLUMN
from ameyo_mcp.ameyo.models import GetContactsRequest
from ameyo_mcp.server.app import create_server
from ameyo_mcp.simulator import SimulatorThread

TRANSPORTS = ("stdio", "http", "memory")
GOAL_S = 0.0005
# The columns the tool asks for in its concise mode (contacts.py, _SUMMARY_COLUMNS).
SUMMARY_COLUMNS = ("status", "attempts", "disposition", "last_dialed_time")

Call = Callable[[], Awaitable[None]]


async def raw_caller(sim: SimulatorThread, workdir: Path, ids: list[int], stack: AsyncExitStack) -> Call:
    """A plain httpx POST of the getContacts the tool sends, with a session of its own."""
    login_client = AmeyoClient(ameyo_settings(sim, workdir))
    sid = (await login_client.login()).session_id
    await login_client.aclose()
    data = GetContactsRequest(
        session_id=sid,
        campaign_id=1,
        customer_ids=[str(i) for i in ids],
        other_columns={CAMPAIGN_COLUMN + c: c for c in SUMMARY_COLUMNS},
    ).wire()
    form = {"command": "getContacts", "data": json.dumps(data, ensure_ascii=False, separators=(",", ":"))}
    http = await stack.enter_async_context(httpx.AsyncClient())
    url = sim.command_url

    async def call() -> None:
        response = await http.post(url, data=form)
        body = response.json()
        assert len(body["beanResponse"]) == len(ids), body

    return call


def tool_caller(client: Client, name: str, arguments: dict[str, Any], check: Callable[[Any], None]) -> Call:
    async def call() -> None:
        result = await client.call_tool(name, arguments)
        check(result)

    return call


def check_contacts(result: Any) -> None:
    assert not result.is_error, result.content
    assert len(result.structured_content["contacts"]) == 20, result.structured_content


def check_echo(result: Any) -> None:
    assert not result.is_error, result.content


async def connect(
    stack: AsyncExitStack, transport: str, sim: SimulatorThread, workdir: Path
) -> tuple[Client, Client]:
    """An MCP client of our server and one of the bare server, over `transport`."""
    if transport == "memory":
        from bare_server import server as bare

        ours = Client(create_server(ameyo_settings(sim, workdir)), cache=None)
        base = Client(bare, cache=None)
    elif transport == "stdio":
        ours = Client(stdio_params(AMEYO_CMD, ameyo_env(sim, workdir), workdir), cache=None)
        base = Client(stdio_params(BARE_CMD, bare_env(workdir), workdir), cache=None)
    else:
        ours_url, _ = stack.enter_context(http_server(AMEYO_CMD, ameyo_env(sim, workdir), workdir))
        base_url, _ = stack.enter_context(http_server(BARE_CMD, bare_env(workdir), workdir))
        ours, base = Client(ours_url, cache=None), Client(base_url, cache=None)
    return await stack.enter_async_context(ours), await stack.enter_async_context(base)


async def validation_cost(client: Client, arguments: dict[str, Any], repeat: int = 200) -> float:
    """Seconds the client spends re-validating one 20-contact answer against the outputSchema."""
    result = await client.call_tool("ameyo_get_contacts", arguments)
    session = client.session
    start = time.perf_counter()
    for _ in range(repeat):
        await session.validate_tool_result("ameyo_get_contacts", result)
    return (time.perf_counter() - start) / repeat


async def run(rounds: int, warmup: int) -> None:
    header("call overhead: ameyo_get_contacts, 20 contacts by customer id (one getContacts upstream)")
    with simulator() as sim, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ids = [c.customer_id for c in sim.state.contacts(1)[:20]]
        arguments = {"campaign": 1, "limit": 20, "customer_ids": ids}
        async with AsyncExitStack() as stack:
            variants: dict[str, Call] = {"raw": await raw_caller(sim, workdir, ids, stack)}
            for transport in TRANSPORTS:
                ours, base = await connect(stack, transport, sim, workdir)
                if transport == "memory":
                    memory_client = ours
                variants[f"ameyo/{transport}"] = tool_caller(
                    ours, "ameyo_get_contacts", arguments, check_contacts
                )
                variants[f"echo/{transport}"] = tool_caller(base, "echo", {"text": "ping"}, check_echo)
            for name, call in variants.items():
                before = sim.state.commands["getContacts"]
                await call()  # the first call of our server logs in
                before = sim.state.commands["getContacts"]
                await call()
                upstream = sim.state.commands["getContacts"] - before
                expected = 0 if name.startswith("echo") else 1
                assert upstream == expected, f"{name}: {upstream} getContacts per call"
                for _ in range(warmup):
                    await call()
            validation = await validation_cost(memory_client, arguments)
            times: dict[str, list[float]] = {name: [] for name in variants}
            order = list(variants)
            shuffle = random.Random(5)
            for _ in range(rounds):
                shuffle.shuffle(order)
                for name in order:
                    start = time.perf_counter()
                    await variants[name]()
                    times[name].append(time.perf_counter() - start)
    raw = times["raw"]
    print(
        f"   of 'own': the MCP client's jsonschema check of the declared output schema costs "
        f"{ms(validation)} per call (client side, caused by the tool's outputSchema)"
    )
    print(f"   {rounds} rounds after {warmup} warm-up calls each; one getContacts per ameyo call (checked)")
    print(f"   (a) raw httpx POST + JSON decode: median {ms(median(raw))}, p95 {ms(p95(raw))}")
    rows = []
    for transport in TRANSPORTS:
        call, echo = times[f"ameyo/{transport}"], times[f"echo/{transport}"]
        own = median(call) - median(raw) - median(echo)
        rows.append(
            (
                transport,
                ms(median(call)),
                ms(p95(call)),
                ms(median(echo)),
                ms(p95(echo)),
                ms(own),
                "met" if own < GOAL_S else "MISSED",
            )
        )
    table(
        rows,
        ("transport", "call median", "call p95", "(b) echo median", "echo p95", "own = call-a-b", "< 0.5 ms"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=600)
    parser.add_argument("--warmup", type=int, default=40)
    args = parser.parse_args()
    run_async(lambda: run(args.rounds, args.warmup))


if __name__ == "__main__":
    main()
