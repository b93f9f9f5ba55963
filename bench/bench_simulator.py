"""Simulator at campaign scale: start time and a full getContacts pass at 100,000 and 1,000,000 contacts.

    python bench/bench_simulator.py [--rounds 2] [--page 500] [--dial-seconds 5]

"server/page" is the getContacts handler alone, in this process (request JSON in, answer text out,
no HTTP), median over 40 pages spread across the campaign. Each size then runs
`ameyo-mcp simulator --contacts N` as its own process (the way a sync is tested against it), and a
bare httpx loop pages through campaign 1 by customer id with `LIMIT page OFFSET m`
and four extra columns, discarding the answers. Figures: process start to the port answering, the
in-process build of the state, pages per second and the median page time seen by the client, and the
simulator's RSS after start, after the first pass and after a second pass (memory must not grow with
the pages served). Sizes run in a shuffled order per round; medians over rounds are reported.

Then the dialer, on 1,000,000 contacts: `--push-rate` 50, 200 and 1,000 against a bare endpoint in
another process that answers 200 to everything, each for `--dial-seconds`: pushes answered per
second, as asked and as got.
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

from ameyo_mcp.simulator import SimulatorConfig, SimulatorState, SimulatorThread
from ameyo_mcp.simulator.app import _dumps, _run

SIZES = (100_000, 1_000_000)
ALIAS = "__campaign_customer_table_alias__."
TOKEN_HEADERS = {"hash-key": "simulator-hash-key", "policy-name": "token-based-authorization-policy",
                 "requesting-host": "bench"}  # fmt: skip
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


def server_times(state: SimulatorState, page: int, count: int = 40) -> list[float]:
    """The getContacts handler alone (request JSON in, answer text out), at offsets across the campaign."""
    times = []
    size = state.config.contacts
    for k in range(count):
        data = {"campaignId": 1, "orderBy": "customerId", "otherColumns": COLUMNS,
                "limitOffset": f"LIMIT {page} OFFSET {k * (size - page) // count}"}  # fmt: skip
        began = time.perf_counter()
        _status, payload, _ = _run(state, "getContacts", json.dumps(data), TOKEN_HEADERS)
        _dumps(payload)
        times.append(time.perf_counter() - began)
    return times


def one(size: int, page: int) -> dict[str, float]:
    built = time.perf_counter()
    state = SimulatorState(SimulatorConfig(contacts=size))
    build_s = time.perf_counter() - built
    server_page = median(server_times(state, page))
    del state
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
        "server": server_page,
        "rss_start": rss_start / 1024,
        "rss_one": rss_one / 1024,
        "rss_two": rss_two / 1024,
    }


_BARE_ENDPOINT = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def dial(rate: float, seconds: float) -> tuple[float, int]:
    port = free_port()
    endpoint = subprocess.Popen([sys.executable, "-c", _BARE_ENDPOINT, str(port)])
    try:
        while True:
            with socket.socket() as sock:
                if sock.connect_ex((LOOPBACK, port)) == 0:
                    break
            time.sleep(0.01)
        url = f"http://{LOOPBACK}:{port}/ameyo/status?token=bench"
        # A million contacts: the dialer dials a contact at most once per REDIAL_GAP, and idles once
        # it draws none it may dial, so a small campaign would time its idling, not its pushes.
        config = SimulatorConfig(contacts=1_000_000, push_url=url, push_rate=rate, push_shape="mixed")
        with SimulatorThread(config) as sim:
            time.sleep(seconds)
            pushed = sim.state.pushed_calls()
        delivered = sum(p.delivered for p in pushed)
        return delivered / seconds, len(pushed) - delivered
    finally:
        endpoint.terminate()
        endpoint.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--page", type=int, default=500)
    parser.add_argument("--dial-seconds", type=float, default=5.0)
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
            f"{med(size, 'server') * 1000:.2f} ms",
            f"{med(size, 'page') * 1000:.2f} ms",
            f"{med(size, 'rss_start'):.1f} / {med(size, 'rss_one'):.1f} / {med(size, 'rss_two'):.1f} MiB",
        ]
        for size in SIZES
    ]
    head = ["contacts", "state build", "process start", "full pass", "contacts/s", "server/page"]
    table(rows, [*head, "client/page", "RSS start / after pass 1 / 2"])

    print()
    header(f"dialer pace against a bare endpoint, {args.dial_seconds:g} s each")
    dialed = []
    for rate in (50, 200, 1000):
        got, undelivered = dial(rate, args.dial_seconds)
        dialed.append([f"{rate}/s", f"{got:,.0f}/s", str(undelivered)])
    table(dialed, ["push rate asked", "pushes answered 200", "not answered 200"])


if __name__ == "__main__":
    main()
