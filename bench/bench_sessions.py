"""4. Session economy: 1,000 `ameyo_get_contacts` calls, 50 at a time, while the simulator expires
every session after each 100th call; then an idle spell.

    /work/venv/bin/python bench/bench_sessions.py [--calls 1000] [--concurrency 50] [--idle 1.0]

Expected: logins = expiries + 1 (one single-flight renewal per expiry, however many calls are in
flight), no keepalive ping while calls flow, and during the idle spell no more pings than
idle / ping interval. The simulator's ping interval is set to 200 ms so that idleness shows quickly;
the server is in memory (the session logic does not depend on the transport).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ameyo_settings, header, run_async, simulator, table, text_of

from ameyo_mcp.server.app import create_server
from ameyo_mcp.simulator import SimulatorConfig

PING_INTERVAL_MS = 200


async def run(calls: int, concurrency: int, idle_s: float) -> None:
    header(f"session economy: {calls} calls, {concurrency} at a time, every session expired each 100 calls")
    config = SimulatorConfig(ping_interval_ms=PING_INTERVAL_MS)
    with simulator(config) as sim, tempfile.TemporaryDirectory() as tmp:
        state = sim.state
        ids = [c.customer_id for c in state.contacts(1)[:20]]
        settings = ameyo_settings(sim, Path(tmp), AMEYO_SESSION_FILE=str(Path(tmp) / "session.json"))
        async with Client(create_server(settings), cache=None) as client:
            started = 0
            done = 0
            expiries = 0
            errors = 0

            async def worker() -> None:
                nonlocal started, done, expiries, errors
                while started < calls:
                    started += 1
                    index = started
                    arguments = {"campaign": 1, "customer_ids": [ids[index % len(ids)]]}
                    result = await client.call_tool("ameyo_get_contacts", arguments)
                    errors += bool(result.is_error)
                    if result.is_error and errors <= 3:
                        print(f"   an error: {text_of(result)[:300]}")
                    done += 1
                    if done % 100 == 0 and done < calls:
                        expiries += state.expire_all_sessions() > 0

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - start
            flowing = {"logins": state.logins, "pings": state.pings, "commands": dict(state.commands)}
            await asyncio.sleep(idle_s)
            idle_pings = state.pings - flowing["pings"]
    allowed_idle = int(idle_s * 1000 // PING_INTERVAL_MS)
    commands = flowing["commands"]
    assert isinstance(commands, dict)
    rows = [
        ("tool calls (errors)", f"{done} ({errors})", f"{calls} (0)"),
        ("session expiries", expiries, "-"),
        ("logins", flowing["logins"], f"{expiries + 1} = expiries + 1"),
        ("keepalive pings while calls flow", flowing["pings"], "0"),
        (f"pings in {idle_s:g} s idle ({PING_INTERVAL_MS} ms interval)", idle_pings, f"<= {allowed_idle}"),
        ("getContacts sent (incl. retries after expiry)", commands.get("getContacts", 0), f">= {calls}"),
    ]
    table(rows, ("figure", "measured", "expected"))
    print(f"   {done} calls in {elapsed:.2f} s ({done / elapsed:.0f} calls/s)")
    ok = (
        errors == 0
        and flowing["logins"] == expiries + 1
        and flowing["pings"] == 0
        and idle_pings <= allowed_idle
    )
    print(f"   goal (logins = expiries+1, no pings in flow, idle pings bounded): {'met' if ok else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--idle", type=float, default=1.0)
    args = parser.parse_args()
    run_async(lambda: run(args.calls, args.concurrency, args.idle))


if __name__ == "__main__":
    main()
