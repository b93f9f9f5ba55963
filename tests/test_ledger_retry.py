"""A write sent again on purpose (allow_repeat, --retry-unknown) that certainly sent nothing leaves
the earlier write's unknown outcome as it stood: the retry's release had deleted the ledger's entry
and the file's rows, and the next plain request (another process, a copy of the file, the same
upload without --retry-unknown) was sent: a second callback, the rows twice.

Real server processes over stdio, the CLI as processes, the simulator over loopback HTTP; on a
SQLite file and on a real PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import text_of
from tests.test_ledger_everywhere import WHEN, callbacks_at, env_for, stdio_server

# Server processes and CLI runs, one after another: with the multi-process runs of `-m slow`.
pytestmark = [pytest.mark.anyio, pytest.mark.network, pytest.mark.slow]

TOOL = "ameyo_upload_contacts_with_callbacks"


def refuse_next(sim: SimulatorThread, command: str) -> None:
    """Ameyo refuses the next `command` with an error answer: it runs nothing."""
    from ameyo_mcp.simulator.state import invalid_request

    original = getattr(sim.state, command)

    def refused(*args: object, **kwargs: object) -> object:
        setattr(sim.state, command, original)
        raise invalid_request("the server is busy, try again")

    setattr(sim.state, command, refused)


async def test_a_retry_that_sent_nothing_leaves_the_callback_of_unknown_outcome_unknown(
    simulator: SimulatorThread, tmp_path: Path, database_url: str
) -> None:
    record = {"customer": {"phone1": "9876500077", "name": "Anil"}, "callback_time": WHEN}
    args = {"campaign": 1, "lead_id": 1, "records": [record]}
    env = env_for(simulator, tmp_path, database_url)
    faults = simulator.state.faults
    async with Client(stdio_server(env, tmp_path)) as client:
        faults.commands, faults.malformed = {"uploadContactAndAddCallback"}, 1  # run, answer unread
        first = await client.call_tool(TOOL, args)
        assert first.is_error and "unknown" in text_of(first), text_of(first)
        faults.reset()
        refuse_next(simulator, "upload_contacts_and_add_callbacks")
        second = await client.call_tool(TOOL, {**args, "allow_repeat": True})
        assert second.is_error and "busy" in text_of(second), text_of(second)
    check = await anyio.run_process([sys.executable, "-m", "ameyo_mcp", "check"], env=env, check=False)
    async with Client(stdio_server(env, tmp_path)) as client:  # another process, later
        third = await client.call_tool(TOOL, args)
    assert third.is_error and "unknown outcome" in text_of(third), text_of(third)
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1
    assert callbacks_at(simulator, "9876500077", WHEN) == 1
    assert "1 write has an unknown outcome" in check.stdout.decode(), check.stdout.decode()


async def test_a_retry_unknown_run_that_sent_nothing_leaves_the_files_rows_unknown(
    simulator: SimulatorThread, tmp_path: Path, database_url: str
) -> None:
    env = env_for(simulator, tmp_path, database_url, AMEYO_CONFIRM_OVER="1000")
    folder = tmp_path / "uploads"
    rows = "phone1,name\n" + "".join(f"98128{i:05d},Guest {i}\n" for i in range(5))
    (folder / "u.csv").write_text(rows, encoding="utf-8")
    (folder / "u-copy.csv").write_text(rows, encoding="utf-8")
    upload = [sys.executable, "-m", "ameyo_mcp", "upload", "--campaign", "1", "--lead", "21"]

    async def run(name: str, *extra: str) -> str:
        done = await anyio.run_process([*upload, str(folder / name), *extra], env=env, check=False)
        return done.stdout.decode() + done.stderr.decode()

    faults = simulator.state.faults
    faults.commands, faults.malformed = {"uploadContacts"}, 1  # Ameyo saves the rows; answer unread
    first = await run("u.csv")
    assert "OUTCOME_UNKNOWN" in first, first
    faults.reset()
    refuse_next(simulator, "upload_contacts")
    retried = await run("u.csv", "--retry-unknown")
    assert simulator.state.commands["uploadContacts"] == 2, retried
    assert "the next run resends it" not in retried, retried  # it does not: the rows are unknown
    copy = await run("u-copy.csv")
    again = await run("u.csv")
    assert simulator.state.commands["uploadContacts"] == 2, (retried, copy, again)
    assert "outcome unknown 5" in copy and "outcome unknown 5" in again, (copy, again)
