"""The simulator's dialer: calls placed on contacts and pushed over real loopback HTTP to a small receiver."""

from __future__ import annotations

import html
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from ameyo_mcp.simulator import PushedCall, SimulatorConfig, SimulatorThread

KOLKATA = ZoneInfo("Asia/Kolkata")
PATH = "/ameyowebaccess/command"
ALIAS = "__campaign_customer_table_alias__."
TOKEN = "push-token-5ec2e7"
JAVA_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.0)?$")
CALL_TYPES = {"outbound.manual.dial", "auto.dial.customer", "inbound.call.dial"}


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: bytes

    def fields(self) -> dict[str, Any]:
        """The pushed fields, whichever way they came."""
        if self.method == "GET":
            return {k: v for k, v in self.query.items() if k != "token"}
        if self.content_type.startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl(self.body.decode(), keep_blank_values=True))
        value: dict[str, Any] = json.loads(self.body)
        return value


@dataclass
class Receiver:
    """A bare HTTP endpoint that records every request and answers the statuses it is given."""

    url: str
    received: list[Received] = field(default_factory=list)
    fail_next: int = 0  # answer 500 to this many requests first
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.received)} pushes received, expected {count}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            parts = urlsplit(self.path)
            got = Received(
                self.command,
                parts.path,
                dict(parse_qsl(parts.query, keep_blank_values=True)),
                self.headers.get("content-type", ""),
                self.rfile.read(length),
            )
            rec = state[0]
            with rec.lock:
                rec.received.append(got)
                failing = rec.fail_next > 0
                rec.fail_next -= failing
            self.send_response(500 if failing else 200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = _record

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/ameyo/status?token={TOKEN}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()


def config(receiver: Receiver, **overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = {
        "contacts": 60,
        "push_url": receiver.url,
        "push_rate": 0,
        "push_retry_delay_s": 0.01,
        "now": datetime(2026, 11, 28, 11, 0, tzinfo=KOLKATA),
    }
    values.update(overrides)
    return SimulatorConfig(**values)


def contact_row(sim: SimulatorThread, customer_id: int, campaign_id: int) -> dict[str, Any]:
    with httpx.Client(base_url=sim.base_url, timeout=5) as http:
        login = {"userId": "CustomerManager", "password": "simulator", "terminal": "127.0.0.1"}
        sid = http.post(PATH, data={"command": "login", "data": json.dumps(login)}).json()["sessionId"]
        columns = {f"{ALIAS}{c}": c for c in ("status", "attempts", "disposition", "last_user_id")}
        query = {
            "sessionId": sid,
            "campaignId": campaign_id,
            "customerIds": [customer_id],
            "otherColumns": columns,
        }
        body = http.post(PATH, data={"command": "getContacts", "data": json.dumps(query)}).json()
    [row] = body["beanResponse"]
    result: dict[str, Any] = row
    return result


@pytest.mark.parametrize(
    ("shape", "method", "content_type"),
    [
        ("get", "GET", ""),
        ("form", "POST", "application/x-www-form-urlencoded"),
        ("json", "POST", "application/json"),
        ("text", "POST", "text/plain;charset=UTF-8"),
    ],
)
def test_each_push_shape_carries_the_calls_fields_and_the_token(
    receiver: Receiver, shape: str, method: str, content_type: str
) -> None:

    with SimulatorThread(config(receiver, push_shape=shape)) as sim:
        pushed = sim.dial(12)
        got = receiver.wait_for(12)
        assert [p.shape for p in pushed] == [shape] * 12 and all(
            p.delivered and p.attempts == 1 for p in pushed
        )
        assert sim.state.pushed_calls() == pushed
        for request, call in zip(got, pushed, strict=True):
            assert (request.method, request.path, request.query["token"]) == (method, "/ameyo/status", TOKEN)
            assert request.content_type.startswith(content_type)
            assert request.fields() == call.as_received()
            fields = request.fields()
            assert fields["callId"] and fields["customerId"] == str(call.call.customer_id)
            assert fields.get("callType", "outbound.manual.dial") in CALL_TYPES
            for name in ("dialedTime", "callEndTime"):
                assert not fields.get(name) or JAVA_TIME.match(fields[name]), fields[name]

        # getContacts shows what the last call to each customer left.
        last: dict[int, PushedCall] = {p.call.customer_id: p for p in pushed}
        for customer_id, call in last.items():
            row = contact_row(sim, customer_id, call.call.campaign_id)
            extra = row["extraData"]
            stored = sim.state.contact(customer_id)
            assert stored is not None
            if call.call.outbound:
                assert extra["status"] == call.call.status
            assert extra["attempts"] == stored.columns["attempts"]
            if "numAttempts" in call.fields and call.fields["numAttempts"] is not None:
                assert str(call.fields["numAttempts"]) == str(extra["attempts"])
            if "lastStatus" in call.fields and call.fields["lastStatus"] is not None:
                assert call.fields["lastStatus"] == extra["status"]
            if call.call.disposition is not None:
                assert extra["disposition"] == call.call.disposition


def test_a_push_not_answered_200_is_retried(receiver: Receiver) -> None:
    with SimulatorThread(config(receiver, push_shape="form", push_retries=3)) as sim:
        receiver.fail_next = 2
        [pushed] = sim.dial(1)
        assert (pushed.attempts, pushed.status, pushed.delivered) == (3, 200, True)
        got = receiver.wait_for(3)
        assert len({r.body for r in got}) == 1  # the same push each time

        receiver.fail_next = 100
        [failed] = sim.dial(1)
        assert (failed.attempts, failed.status, failed.delivered) == (4, 500, False)
        assert len(receiver.wait_for(3 + 4)) == 7


def test_a_push_nobody_answers_is_retried_then_given_up(receiver: Receiver) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/ameyo/status?token={TOKEN}"
    with SimulatorThread(config(receiver, push_url=url, push_retries=2)) as sim:
        [pushed] = sim.dial(1)
    assert (pushed.attempts, pushed.status, pushed.delivered) == (3, None, False)


def test_the_simulator_stops_promptly_while_pushes_hang() -> None:
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/ameyo/status"
        sim = SimulatorThread(SimulatorConfig(contacts=20, push_url=url, push_rate=50)).start()
        time.sleep(0.5)
        began = time.monotonic()
        sim.stop()
        assert time.monotonic() - began < 4  # a second of grace for the pushes in flight, then cancelled
    assert not any(t.name == "ameyo-simulator" for t in threading.enumerate())
    cut = sim.state.pushed_calls()  # placed, sent, cut off by the stop: kept as not delivered
    assert cut and all((p.status, p.delivered, p.attempts) == (None, False, 1) for p in cut)


def test_the_same_seed_and_clock_push_the_same_calls(receiver: Receiver) -> None:
    def calls() -> list[tuple[Any, ...]]:
        with SimulatorThread(config(receiver, contacts=20_000)) as sim:
            # Ids carry the instance's server id (a restarted simulator's calls are new calls).
            server_id, host = sim.state.server_id, f"{sim.host}:{sim.port}"
            return [
                (p.shape, json.dumps(p.fields, sort_keys=True).replace(server_id, "ID").replace(host, "H"))
                for p in sim.dial(30)
            ]

    first, second = calls(), calls()
    assert first == second
    assert len({shape for shape, *_ in first}) == 4  # "mixed" draws every shape
    ids = {json.loads(fields)["callId"] for _, fields in first}
    assert len(ids) == 30


def test_fields_have_the_quirks_of_live_pushes(receiver: Receiver) -> None:
    with SimulatorThread(config(receiver, push_shape="json")) as sim:
        pushed = sim.dial(200)
    fields = [p.fields for p in pushed]
    associations = [f["userAssociations"] for f in fields if f.get("userAssociations")]
    assert associations and all(str(a).startswith("[{&quot;userId&quot;") for a in associations)
    decoded = json.loads(html.unescape(str(associations[0])))
    assert decoded[0]["userId"].startswith("agent")
    assert {f.get("callType") for f in fields} >= CALL_TYPES
    assert any("talkTime" not in f for f in fields) and any(f.get("recordingFileUrl") is None for f in fields)
    assert any(str(f.get("dialedTime", "")).endswith(".0") for f in fields)
    assert any("name" in f or "city" in f for f in fields)  # custom customer fields echoed back
    for f in fields:
        assert {"callId", "customerId", "phone"} <= f.keys()


def test_the_dialer_paces_itself_and_stops_with_the_simulator(receiver: Receiver) -> None:
    sim = SimulatorThread(config(receiver, push_rate=40, now=None)).start()
    try:
        receiver.wait_for(10)
    finally:
        sim.stop()
    done = len(receiver.received)
    time.sleep(0.3)
    assert len(receiver.received) == done  # nothing is pushed after stop
    assert not any(t.name == "ameyo-simulator" for t in threading.enumerate())
    assert len(sim.state.pushed_calls()) >= 10


def test_the_simulator_command_dials_without_printing_the_token(receiver: Receiver) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ameyo_mcp", "simulator", "--port", "0", "--push-url", receiver.url,
         "--push-rate", "20", "--push-shape", "get"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        got = receiver.wait_for(5, timeout=30)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert all(r.method == "GET" and r.query["token"] == TOKEN for r in got)
    assert TOKEN not in (out + err).decode() and out == b""

    bad = subprocess.run(
        [sys.executable, "-m", "ameyo_mcp", "simulator", "--push-url", "ftp://x", "--port", "0"],
        capture_output=True,
        timeout=30,
    )
    assert bad.returncode == 2 and b"push_url must be an http:// or https:// URL" in bad.stderr


def test_the_dialer_never_calls_a_contact_of_a_disabled_lead(receiver: Receiver) -> None:
    with SimulatorThread(config(receiver, contacts=2_000)) as sim:
        disabled = {lead.lead_id for lead in sim.state.leads(1) if not lead.enabled}
        held = [sim.state.contact(i) for i in range(1, 20_000)]
        assert disabled and any(c is not None and c.lead_id in disabled for c in held)  # a test that can fail
        pushed = sim.dial(300)
        leads = {sim.state.contact(int(p.fields["customerId"])).lead_id for p in pushed}  # type: ignore[union-attr]
    assert leads and not leads & disabled


def test_once_every_contact_is_inside_the_redial_gap_the_dialer_idles(receiver: Receiver) -> None:
    # A fixed clock never moves past REDIAL_GAP: each contact may be dialled once, after which the
    # dialer's turns go idle rather than dial a contact again, or one of the disabled lead.
    with SimulatorThread(config(receiver, contacts=20)) as sim:
        disabled = {lead.lead_id for lead in sim.state.leads(1) if not lead.enabled}
        pushed = sim.dial(1_000)
        customers = [p.call.customer_id for p in pushed if p.call.outbound]
        leads = {sim.state.contact(c).lead_id for c in customers}  # type: ignore[union-attr]
    assert customers and len(customers) == len(set(customers))
    assert disabled and not leads & disabled and len(pushed) < 1_000
