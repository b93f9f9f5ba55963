"""A large write is confirmed by the person on both protocol eras, through a real MCP client against
the simulator: by an elicitation request in a 2025-11-25 session, by the input-required round trip
on a 2026-07-28 request, and by the dry-run token only where the client can do neither. Yes sends
once, no sends nothing, and nothing reaches Ameyo before the yes."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ElicitResult, ErrorData, InputRequiredResult

from ameyo_mcp.config import Settings
from ameyo_mcp.listener import server_socket
from ameyo_mcp.server.app import create_server
from ameyo_mcp.server.http import http_app
from ameyo_mcp.simulator import SimulatorThread
from ameyo_mcp.writes.audit import read_trail
from tests.conftest import server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "2026-07-28"]  # the 2025-11-25 handshake, and the per-request protocol
WHEN = "2031-05-01T11:00:00"
YES = ElicitResult(action="accept", content={"confirm": True})
WRITE_COMMANDS = ("uploadContacts", "uploadContactAndAddCallback")
KEY = "ameyo_confirm"  # the confirmation's key in an input_required result


def large_writes(tmp_path: Path) -> list[tuple[str, dict[str, Any], str]]:
    """Each tool that uploads, with three records (over AMEYO_CONFIRM_OVER=2), and its command."""
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    rows = "".join(f"98330001{i:02d},File {i}\n" for i in range(3))
    (folder / "list.csv").write_text("phone1,name\n" + rows, encoding="utf-8")
    records = [{"phone1": f"98310001{i:02d}", "name": f"Bulk {i}"} for i in range(3)]
    with_callbacks = [
        {"customer": {"phone1": f"98320001{i:02d}", "name": f"Later {i}"}, "callback_time": WHEN}
        for i in range(3)
    ]
    return [
        ("ameyo_upload_contacts", {"campaign": 1, "lead_id": 39, "records": records}, "uploadContacts"),
        (
            "ameyo_upload_contacts_with_callbacks",
            {"campaign": 1, "lead_id": 39, "records": with_callbacks},
            "uploadContactAndAddCallback",
        ),
        (
            "ameyo_upload_contacts_file",
            {"file": "list.csv", "campaign": 1, "lead_id": 21, "dry_run": False},
            "uploadContacts",
        ),
    ]


def confirming(simulator: SimulatorThread, tmp_path: Path) -> Settings:
    return settings_for(
        simulator, tmp_path, AMEYO_CONFIRM_OVER="2", AMEYO_UPLOAD_DIRS=str(tmp_path / "uploads")
    )


def client_for(simulator: SimulatorThread, tmp_path: Path, era: str, person: Person | None = None) -> Client:
    """A real MCP client of `era`, in process; it can be asked (elicitation) when it has a `person`."""
    settings = confirming(simulator, tmp_path)
    return Client(server_of(simulator, settings), elicitation_callback=person, mode=era)  # type: ignore[arg-type]


def received(simulator: SimulatorThread) -> dict[str, int]:
    """The write requests Ameyo received, by command (whether or not it ran them)."""
    return {c: simulator.state.commands[c] for c in WRITE_COMMANDS if simulator.state.commands[c]}


class Person:
    """The client's elicitation callback: gives `answer` to every question, and notes each question
    with the write requests Ameyo had received by the time it was asked."""

    def __init__(self, simulator: SimulatorThread, answer: ElicitResult) -> None:
        self.simulator = simulator
        self.answer = answer
        self.asked: list[tuple[str, dict[str, int]]] = []

    async def __call__(self, _context: object, params: Any) -> ElicitResult:
        self.asked.append((str(params.message), received(self.simulator)))
        return self.answer


@pytest.mark.parametrize("era", ERAS)
async def test_yes_sends_each_large_write_once(simulator: SimulatorThread, tmp_path: Path, era: str) -> None:
    writes = large_writes(tmp_path)
    person = Person(simulator, YES)
    async with client_for(simulator, tmp_path, era, person) as client:
        assert client.protocol_version == ("2025-11-25" if era == "legacy" else era)
        sent_before: dict[str, int] = {}
        for tool, args, _ in writes:
            done = await client.call_tool(tool, args)
            assert not done.is_error and "added 3," in text_of(done), (tool, text_of(done))
            question, seen = person.asked[-1]
            assert "3 records into lead" in question and "MoviStarSurvey (1)" in question, question
            assert seen == sent_before, f"{tool}: Ameyo received the write before the person's yes"
            sent_before = received(simulator)
    assert len(person.asked) == len(writes)  # each asked once, even where the call was run twice
    # The round that asked left nothing in the audit trail: it sent nothing, and failed nothing.
    events = Counter(line["event"] for line in read_trail(tmp_path / "audit.jsonl"))
    assert events == {"intent": 3, "result": 3}
    assert received(simulator) == {"uploadContacts": 2, "uploadContactAndAddCallback": 1}
    assert simulator.state.executed["uploadContacts"] == 2
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1


@pytest.mark.parametrize(
    "answer",
    [
        ElicitResult(action="decline"),
        ElicitResult(action="accept", content={"confirm": False}),
        ElicitResult(action="accept", content={"confirm": "yes"}),  # not the boolean asked for
    ],
    ids=["declined", "unticked", "a string yes"],
)
@pytest.mark.parametrize("era", ERAS)
async def test_no_sends_nothing(
    simulator: SimulatorThread, tmp_path: Path, era: str, answer: ElicitResult
) -> None:
    writes = large_writes(tmp_path)
    person = Person(simulator, answer)
    async with client_for(simulator, tmp_path, era, person) as client:
        for tool, args, _ in writes:
            refused = await client.call_tool(tool, args)
            text = text_of(refused)
            assert refused.is_error and "did not confirm" in text and "nothing was sent" in text, text
    assert len(person.asked) == len(writes)
    assert received(simulator) == {}


async def test_a_question_the_client_fails_to_put_is_no_yes_and_no_token_gets_round_it(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """A client that declared it can ask, then answered the question with an error (a person who
    closed the dialog, perhaps), was treated as one that cannot ask: the dry-run token then sent
    the rows nobody had said yes to."""

    async def failing(_context: object, _params: Any) -> ErrorData:
        return ErrorData(code=-32603, message="the dialog was closed")

    tool, args, _ = large_writes(tmp_path)[0]
    settings = confirming(simulator, tmp_path)
    async with Client(server_of(simulator, settings), elicitation_callback=failing, mode="legacy") as client:
        refused = await client.call_tool(tool, args)
        dry = await client.call_tool(tool, {**args, "dry_run": True})
    text = text_of(refused)
    assert refused.is_error and "could not put the question to the person" in text, text
    assert "the dialog was closed" in text and "nothing was sent" in text
    # A client that can ask is asked when the rows are sent: its dry run offers no token around that.
    assert dry.structured_content is not None and "confirm_token" not in dry.structured_content
    assert "confirm=" not in text_of(dry)
    assert received(simulator) == {}


@pytest.mark.parametrize("era", ERAS)
async def test_a_client_that_cannot_ask_needs_the_dry_run_token(
    simulator: SimulatorThread, tmp_path: Path, era: str
) -> None:
    writes = large_writes(tmp_path)
    async with client_for(simulator, tmp_path, era) as client:
        for tool, args, _ in writes:
            refused = await client.call_tool(tool, args)
            text = text_of(refused)
            assert refused.is_error and "Nothing was sent" in text and "dry_run=true" in text, text
        assert received(simulator) == {}
        for tool, args, _ in writes:
            dry = await client.call_tool(tool, {**args, "dry_run": True})
            token = (dry.structured_content or {}).get("confirm_token")
            assert token, text_of(dry)
            done = await client.call_tool(tool, {**args, "confirm": token})
            assert not done.is_error and "added 3," in text_of(done), (tool, text_of(done))
    assert received(simulator) == {"uploadContacts": 2, "uploadContactAndAddCallback": 1}


async def test_an_answer_counts_once_and_only_to_a_question_asked(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """The round trip driven by hand, as a client that replays or makes up answers would."""
    tool, args, _ = large_writes(tmp_path)[0]
    args = {**args, "allow_repeat": True}  # so that only the confirmation stands between a replay and Ameyo
    person = Person(simulator, YES)
    async with client_for(simulator, tmp_path, "2026-07-28", person) as client:
        session = client.session
        unasked = await session.call_tool(tool, args, input_responses={KEY: YES}, allow_input_required=True)
        assert isinstance(unasked, InputRequiredResult), "a yes to no question was taken"
        assert received(simulator) == {}

        asked = await session.call_tool(tool, args, allow_input_required=True)
        assert isinstance(asked, InputRequiredResult) and asked.input_requests
        question = asked.input_requests[KEY]
        assert "3 records into lead 39" in str(getattr(question.params, "message", ""))
        assert received(simulator) == {}

        state = asked.request_state
        other = {**args, "records": [*args["records"][:2], {"phone1": "9831000199"}]}
        with pytest.raises(MCPError, match="requestState"):  # the SDK seals it to these arguments
            await session.call_tool(
                tool, other, input_responses={KEY: YES}, request_state=state, allow_input_required=True
            )
        assert received(simulator) == {}

        done = await session.call_tool(
            tool, args, input_responses={KEY: YES}, request_state=state, allow_input_required=True
        )
        assert isinstance(done, CallToolResult) and not done.is_error, done
        assert received(simulator) == {"uploadContacts": 1}

        replayed = await session.call_tool(
            tool, args, input_responses={KEY: YES}, request_state=state, allow_input_required=True
        )
        assert isinstance(replayed, InputRequiredResult), "the same yes was spent twice"
    assert received(simulator) == {"uploadContacts": 1}
    assert person.asked == []  # every answer above was the test's own


# -- over streamable HTTP ---------------------------------------------------------------------------


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The server's own HTTP app (`ameyo-mcp --transport http`), in this process, on loopback."""
    import uvicorn

    sock = server_socket("127.0.0.1", 0)  # bound here, so that no other process takes its port
    port = int(sock.getsockname()[1])
    app = http_app(create_server(settings), settings, "127.0.0.1", port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@pytest.mark.network
@pytest.mark.parametrize("era", ERAS)
async def test_yes_over_http_sends_once(simulator: SimulatorThread, tmp_path: Path, era: str) -> None:
    tool, args, _ = large_writes(tmp_path)[0]
    person = Person(simulator, YES)
    with serving(confirming(simulator, tmp_path)) as url:
        async with Client(url, elicitation_callback=person, mode=era) as client:  # type: ignore[arg-type]
            done = await client.call_tool(tool, args)
            assert not done.is_error and "added 3," in text_of(done), text_of(done)
            again = await client.call_tool(tool, args)  # the same write: answered again, not sent
            assert text_of(again).startswith("REPEAT:"), text_of(again)
    assert [seen for _, seen in person.asked] == [{}]
    assert received(simulator) == {"uploadContacts": 1}
