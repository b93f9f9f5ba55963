"""Simulator at campaign scale: start time and a full getContacts pass at 100,000 and 1,000,000 contacts.

    python bench/bench_simulator.py [--rounds 2] [--page 500]

Each variant runs `ameyo-mcp simulator --contacts N` as its own process (the way a sync is tested
against it), and a bare httpx loop pages through campaign 1 by customer id with `LIMIT page OFFSET m`
and four extra columns, discarding the answers. Figures: process start to the port answering, the
in-process build of the state, pages per second and the median page time seen by the client, and the
simulator's RSS after start, after the first pass and after a second pass (memory must not grow with
the pages served). Sizes run in a shuffled order per round; medians over rounds are reported.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import AMEYO_CMD, LOOPBACK, free_port, header, median, memory_kib, table

from ameyo_mcp.simulator import SimulatorConfig, SimulatorState

SIZES = (100_000, 1_000_000)
ALIAS = "__campaign_customer_table_alias__."
COLUMNS = {f"{ALIAS}{c}": c for c in ("status", "disposition", "attempts", "last_dialed_time")}


def start(size: int) -> tuple[subprocess.Popen[bytes], int, float]:
    port = free_port()
    began = time.perf_counter()
    proc = subprocess.Popen(
        [*AMEYO_CMD, "simulator", "--contacts", str(size), "--host", LOOPBACK, "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        with socket.socket() as sock:
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return proc, port, time.perf_counter() - began
        if proc.poll() is not None:
            raise RuntimeError("the simulator exited at start")
        time.sleep(0.005)


def full_pass(client: httpx.Client, session_id: str, page: int) -> tuple[int, float, list[float]]:
    seen, offset, times = 0, 0, []
    began = time.perf_counter()
    while True:
        data = {
            "sessionId": session_id,
            "campaignId": 1,
            "orderBy": "customerId",
            "limitOffset": f"LIMIT {page} OFFSET {offset}",
            "otherColumns": COLUMNS,
        }
        sent = time.perf_counter()
        response = client.post(
            "/ameyowebaccess/command", data={"command": "getContacts", "data": json.dumps(data)}
        )
        rows = response.json()["beanResponse"]
        times.append(time.perf_counter() - sent)
        if not rows:
            return seen, time.perf_counter() - began, times
        seen += len(rows)
        offset += len(rows)


def one(size: int, page: int) -> dict[str, float]:
    built = time.perf_counter()
    SimulatorState(SimulatorConfig(contacts=size))
    build_s = time.perf_counter() - built
    proc, port, start_s = start(size)
    try:
        rss_start = memory_kib(proc.pid)["VmRSS"]
        with httpx.Client(base_url=f"http://{LOOPBACK}:{port}", timeout=30) as client:
            login = {"userId": "CustomerManager", "password": "simulator", "terminal": "127.0.0.1"}
            response = client.post(
                "/ameyowebaccess/command", data={"command": "login", "data": json.dumps(login)}
            )
            session_id = response.json()["sessionId"]
            seen, pass_s, times = full_pass(client, session_id, page)
            rss_one = memory_kib(proc.pid)["VmRSS"]
            full_pass(client, session_id, page)
            rss_two = memory_kib(proc.pid)["VmRSS"]
    finally:
        proc.terminate()
        proc.wait(10)
    if seen != size + 1:  # + the document's customer 112
        raise RuntimeError(f"the pass saw {seen} contacts, not {size + 1}")
    return {
        "build": build_s,
        "start": start_s,
        "pass": pass_s,
        "rate": seen / pass_s,
        "page": median(times),
        "rss_start": rss_start / 1024,
        "rss_one": rss_one / 1024,
        "rss_two": rss_two / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--page", type=int, default=500)
    args = parser.parse_args()
    header(f"simulator at scale: {args.rounds} rounds, pages of {args.page}")
    results: dict[int, list[dict[str, float]]] = {size: [] for size in SIZES}
    for _ in range(args.rounds):
        order = list(SIZES)
        random.shuffle(order)
        for size in order:
            results[size].append(one(size, args.page))

    def med(size: int, key: str) -> float:
        return median([r[key] for r in results[size]])

    rows = [
        [
            f"{size:,}",
            f"{med(size, 'build') * 1000:.0f} ms",
            f"{med(size, 'start') * 1000:.0f} ms",
            f"{med(size, 'pass'):.1f} s",
            f"{med(size, 'rate'):,.0f}/s",
            f"{med(size, 'page') * 1000:.2f} ms",
            f"{med(size, 'rss_start'):.1f} / {med(size, 'rss_one'):.1f} / {med(size, 'rss_two'):.1f} MiB",
        ]
        for size in SIZES
    ]
    head = ["contacts", "state build", "process start", "full pass", "contacts/s", "page median"]
    table(rows, [*head, "RSS start / after pass 1 / 2"])


if __name__ == "__main__":
    main()
