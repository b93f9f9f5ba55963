"""At most once everywhere: the write ledger in the store, shared by every tool, process and the CLI.

Real server processes (over stdio and HTTP), the CLI as a real process and real MCP clients, against
the simulator over loopback HTTP, on a SQLite file and on a real PostgreSQL. Each test names the
way a customer used to be rung twice."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from contextlib import suppress
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.types import ElicitRequestParams, ElicitResult

from ameyo_mcp.rules import phones
from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import http_process, server_of, settings_for, synced, text_of

# Other processes and real connections are what these tests are about.
pytestmark = [pytest.mark.anyio, pytest.mark.network]

WHEN = "2031-05-01T11:00:00"
PRIYA, PRIYA_PHONE = 12001, "917308059204"  # Priya Sharma


def env_for(sim: SimulatorThread, tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    """One deployment's settings: every process given these shares the store (and the ledger)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    env.update(
        AMEYO_BASE_URL=sim.base_url,
        AMEYO_USER_ID=sim.state.config.user_id,
        AMEYO_PASSWORD=sim.state.config.password,
        AMEYO_TIMEZONE=sim.state.config.timezone,
        AMEYO_SESSION_FILE=str(tmp_path / "session.json"),
        AMEYO_AUDIT_FILE=str(tmp_path / "audit.jsonl"),
        AMEYO_DATABASE_URL=database_url,
        AMEYO_SYNC_INTERVAL_S="0",
        AMEYO_UPLOAD_DIRS=str(tmp_path / "uploads"),
        AMEYO_TIMEOUT_S="10",
        **extra,
    )
    (tmp_path / "uploads").mkdir(exist_ok=True)
    return env


def stdio_server(env: dict[str, str], tmp_path: Path) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "ameyo_mcp"], env=env, cwd=str(tmp_path))


def callbacks_at(sim: SimulatorThread, number: str, when: str) -> int:
    """Callbacks the simulator holds to `number` (any spelling) at `when`, whoever they are for."""
    wanted = when.replace("T", " ")[:16]
    return sum(
        1
        for cb in sim.state.callbacks(1)
        if phones.same_number(str(cb.phone), number, "IN") and str(cb.callback_time).startswith(wanted)
    )


def callback_args(when: str = WHEN, **extra: Any) -> dict[str, Any]:
    return {"campaign": 1, "customer_id": PRIYA, "callback_time": when, **extra}


# -- 1, 2: processes ---------------------------------------------------------------------------


@pytest.mark.slow
async def test_three_server_processes_on_one_store_send_a_callback_once(
    simulator: SimulatorThread, tmp_path: Path, database_url: str
) -> None:
    env = env_for(simulator, tmp_path, database_url)
    params = stdio_server(env, tmp_path)
    async with Client(params) as one, Client(params) as two, Client(params) as three:
        # One after the other.
        first = await one.call_tool("ameyo_add_callback", callback_args())
        assert not first.is_error, text_of(first)
        second = await two.call_tool("ameyo_add_callback", callback_args())
        assert "REPEAT" in text_of(second) and "nothing was sent again" in text_of(second), text_of(second)
        # At once, while Ameyo is slow: the others wait for the first and report its answer.
        simulator.state.faults.commands = {"addCallback"}
        simulator.state.faults.delay_s = 1.0
        texts: list[str] = []

        async def ask(client: Client) -> None:
            done = await client.call_tool("ameyo_add_callback", callback_args("2031-05-01T12:00:00"))
            texts.append(text_of(done))

        async with anyio.create_task_group() as group:
            for client in (one, two, three):
                group.start_soon(ask, client)
    assert sum("REPEAT" in t for t in texts) == 2, texts
    assert simulator.state.executed["addCallback"] == 2
    assert callbacks_at(simulator, PRIYA_PHONE, WHEN) == 1
    assert callbacks_at(simulator, PRIYA_PHONE, "2031-05-01T12:00:00") == 1


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
async def test_a_callback_in_flight_when_its_server_dies_is_not_sent_again_by_the_next(
    simulator: SimulatorThread, tmp_path: Path, how: str, database_url: str
) -> None:
    # SIGTERM drains first (tests/test_replicas.py): here its grace period is over before Ameyo answers.
    env = env_for(simulator, tmp_path, database_url, AMEYO_DRAIN_S="0")
    simulator.state.faults.commands = {"addCallback"}
    simulator.state.faults.delay_s = 10.0  # Ameyo runs it at once and answers late
    with http_process(env, tmp_path) as (url, proc):

        async def call() -> None:
            with suppress(Exception):  # the server dies under it; how the client ends is not the point
                async with Client(url) as client:
                    await client.call_tool("ameyo_add_callback", callback_args())

        async with anyio.create_task_group() as group:
            group.start_soon(call)
            with anyio.fail_after(30):  # Ameyo has it: the server dies with the write in flight
                while simulator.state.executed["addCallback"] < 1:  # noqa: ASYNC110 - another thread counts
                    await anyio.sleep(0.02)
            proc.send_signal(signal.SIGKILL if how == "SIGKILL" else signal.SIGTERM)
            await anyio.to_thread.run_sync(lambda: proc.wait(timeout=10))
            group.cancel_scope.cancel()
    simulator.state.faults.delay_s = 0.0
    # The person who runs the deployment is shown it at once, with what to do: not only once someone
    # has asked for the same write again.
    check = await anyio.run_process([sys.executable, "-m", "ameyo_mcp", "check"], env=env, check=False)
    said = check.stdout.decode()
    assert "1 write has an unknown outcome" in said, said
    assert "a callback to customer 12001 in MoviStarSurvey (1) at 2031-05-01 11:00:00, sent" in said, said
    assert "Look for this callback in Ameyo's own callback list" in said, said  # not ameyo_get_contacts
    async with Client(stdio_server(env, tmp_path)) as client:
        again = await client.call_tool("ameyo_add_callback", callback_args())
    assert again.is_error and "unknown outcome" in text_of(again), text_of(again)
    assert "allow_repeat=true" in text_of(again)
    assert simulator.state.executed["addCallback"] == 1


async def test_the_cli_beside_the_server_schedules_one_callback(
    simulator: SimulatorThread, tmp_path: Path, database_url: str
) -> None:
    env = env_for(simulator, tmp_path, database_url)
    source = tmp_path / "uploads" / "callbacks.csv"
    source.write_text("phone1,name,callback_time\n+91 73080 59204,Priya Sharma,2031-05-01 11:00\n")
    done = await anyio.run_process(
        [sys.executable, "-m", "ameyo_mcp", "upload", str(source), "--campaign", "1", "--lead", "1"],
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    async with Client(stdio_server(env, tmp_path)) as client:
        refused = await client.call_tool("ameyo_add_callback", callback_args())
    assert refused.is_error and "another write scheduled" in text_of(refused), text_of(refused)
    assert simulator.state.executed["addCallback"] == 0
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1


# -- 3, 4: tools and spellings -----------------------------------------------------------------


@pytest.mark.parametrize("order", ["add_callback first", "upload first"])
async def test_one_callback_through_two_tools_in_another_spelling_is_sent_once(
    client: Client, simulator: SimulatorThread, order: str
) -> None:
    upload = {
        "campaign": 1,
        "lead_id": 1,
        "records": [{"customer": {"phone1": "+91 73080 59204"}, "callback_time": WHEN}],
        "update_existing": True,
    }
    calls = [("ameyo_add_callback", callback_args()), ("ameyo_upload_contacts_with_callbacks", upload)]
    if order == "upload first":
        calls.reverse()
    first = await client.call_tool(*calls[0])
    assert not first.is_error, text_of(first)
    second = await client.call_tool(*calls[1])
    assert "scheduled a callback" in text_of(second), text_of(second)
    assert callbacks_at(simulator, PRIYA_PHONE, WHEN) == 1, (text_of(first), simulator.state.callbacks(1))


async def test_four_spellings_through_the_upload_tool_make_one_callback(
    client: Client, simulator: SimulatorThread
) -> None:
    for spelling in ("9876500011", "09876500011", "919876500011", "+91 98765 00011"):
        await client.call_tool(
            "ameyo_upload_contacts_with_callbacks",
            {
                "campaign": 1,
                "lead_id": 1,
                "records": [{"customer": {"phone1": spelling, "name": "Anil"}, "callback_time": WHEN}],
            },
        )
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1
    assert callbacks_at(simulator, "9876500011", WHEN) == 1


def records_of(sim: SimulatorThread, number: str) -> list[Any]:
    return [c for c in sim.state.contacts(1) if phones.same_number(c.phone1, number, "IN")]


async def test_one_new_person_in_four_spellings_over_four_calls_is_one_customer_record(
    client: Client, simulator: SimulatorThread
) -> None:
    texts = []
    for spelling in ("9876500011", "09876500011", "919876500011", "+91 98765 00011"):
        done = await client.call_tool(
            "ameyo_upload_contacts",
            {
                "campaign": 1,
                "lead_id": 1,
                "records": [{"phone1": spelling, "name": "Anil"}],
                "update_existing": True,
            },
        )
        texts.append(text_of(done))
    assert len(records_of(simulator, "9876500011")) == 1, texts
    # Respelt, the second call is the first one again; the fourth, with other fields, is sent.
    assert "spelt as uploaded earlier (e.g. 09876500011 → 9876500011)" in texts[1], texts[1]
    assert "nothing was sent again" in texts[1], texts[1]
    final = await client.call_tool(
        "ameyo_upload_contacts",
        {
            "campaign": 1,
            "lead_id": 1,
            "records": [{"phone1": "09876500011", "name": "Anil K"}],
            "update_existing": True,
        },
    )
    assert "updated 1" in text_of(final), text_of(final)
    assert "1 number was sent as Ameyo already holds it (e.g. 09876500011 → 9876500011)" in text_of(final)
    assert len(records_of(simulator, "9876500011")) == 1


async def test_two_spellings_of_one_number_in_one_call_are_one_record(
    client: Client, simulator: SimulatorThread
) -> None:
    done = await client.call_tool(
        "ameyo_upload_contacts",
        {"campaign": 1, "lead_id": 1, "records": [{"phone1": "9876500012"}, {"phone1": "+91 98765 00012"}]},
    )
    assert "the same number as record 1's" in text_of(done), text_of(done)
    assert len(records_of(simulator, "9876500012")) == 1


async def test_an_indexed_customer_in_another_spelling_is_updated_not_added(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        done = await client.call_tool(
            "ameyo_upload_contacts",
            {
                "campaign": 1,
                "lead_id": 1,
                "records": [{"phone1": "+91 73080 59204", "city": "Pune"}],
                "update_existing": True,
            },
        )
    assert "updated 1" in text_of(done) and "added 0" in text_of(done), text_of(done)
    assert "sent as Ameyo already holds it" in text_of(done), text_of(done)
    assert [c.customer_id for c in records_of(simulator, PRIYA_PHONE)] == [PRIYA]


@pytest.mark.parametrize("through", ["file tool", "cli"])
async def test_an_indexed_customer_in_another_spelling_in_a_file_is_updated_not_added(
    simulator: SimulatorThread, tmp_path: Path, through: str
) -> None:
    """As the record tools do: a file's row (and its callback) for an indexed customer in another
    spelling goes out as Ameyo holds the number. It had added a second customer beside the first."""
    from ameyo_mcp.config import load_settings

    env = env_for(simulator, tmp_path, str(tmp_path / "index.db"))
    settings = load_settings(env, env_file=None)
    await synced(simulator, settings)
    (tmp_path / "uploads" / "priya.csv").write_text(
        f"phone1,name,callback_time\n+91 73080 59204,Priya Sharma,{WHEN}\n", encoding="utf-8"
    )
    if through == "cli":
        command = [sys.executable, "-m", "ameyo_mcp", "upload", str(tmp_path / "uploads" / "priya.csv")]
        done = await anyio.run_process([*command, "--campaign", "1", "--lead", "21"], env=env, check=False)
        text = done.stdout.decode() + done.stderr.decode()
        assert done.returncode == 0, text
    else:
        args = {"file": "priya.csv", "campaign": 1, "lead_id": 21, "dry_run": False}
        async with Client(server_of(simulator, settings)) as client:
            text = text_of(await client.call_tool("ameyo_upload_contacts_file", args))
    assert [c.customer_id for c in records_of(simulator, PRIYA_PHONE)] == [PRIYA], text
    assert "1 number was sent as Ameyo already holds it (e.g. +91 73080 59204 → 917308059204)" in text, text
    assert callbacks_at(simulator, PRIYA_PHONE, WHEN) == 1
    # The ledger keeps the spelling that went out, which later uploads of the number send again:
    # it had kept the file's, and the next upload added the second customer after all.
    async with Client(server_of(simulator, settings)) as client:
        record = {"phone1": "07308059204", "city": "Agra"}
        args = {"campaign": 1, "lead_id": 21, "records": [record], "update_existing": True}
        again = text_of(await client.call_tool("ameyo_upload_contacts", args))
    assert [c.customer_id for c in records_of(simulator, PRIYA_PHONE)] == [PRIYA], again
    assert "updated 1" in again, again


async def test_one_new_person_in_two_spellings_from_two_processes_at_once_is_one_record(
    simulator: SimulatorThread, tmp_path: Path, database_url: str
) -> None:
    params = stdio_server(env_for(simulator, tmp_path, database_url), tmp_path)
    async with Client(params) as one, Client(params) as two:
        for n in range(6):
            spellings = (f"98130000{n:02d}", f"9198130000{n:02d}")

            async def upload(client: Client, phone: str) -> None:
                args = {"campaign": 1, "lead_id": 1, "records": [{"phone1": phone}], "update_existing": True}
                await client.call_tool("ameyo_upload_contacts", args)

            async with anyio.create_task_group() as group:
                group.start_soon(upload, one, spellings[n % 2])
                group.start_soon(upload, two, spellings[1 - n % 2])
            assert len(records_of(simulator, spellings[0])) == 1, (n, records_of(simulator, spellings[0]))


async def test_an_upload_callback_naming_a_customer_must_dial_one_of_their_numbers(
    client: Client, simulator: SimulatorThread
) -> None:
    record = {"customer": {"phone1": "9876500001"}, "customer_id": PRIYA, "callback_time": WHEN}
    refused = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks", {"campaign": 1, "lead_id": 1, "records": [record]}
    )
    assert "customer_id 12001's stored numbers do not include" in text_of(refused), text_of(refused)
    assert simulator.state.executed["uploadContactAndAddCallback"] == 0
    unknown = {**record, "customer_id": 999999}
    refused = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks", {"campaign": 1, "lead_id": 1, "records": [unknown]}
    )
    assert "customer_id 999999 is not a customer of MoviStarSurvey (1)" in text_of(refused), text_of(refused)


async def test_a_file_row_in_another_spelling_goes_to_the_same_customer(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    env = env_for(simulator, tmp_path, str(tmp_path / "state" / "index.db"))
    folder = tmp_path / "uploads"
    (folder / "a.csv").write_text("phone1,name\n919813700001,Ravi\n", encoding="utf-8")
    (folder / "b.csv").write_text("phone1,name,city\n9813700001,Ravi,Pune\n", encoding="utf-8")
    base = {"campaign": 1, "lead_id": 21, "dry_run": False, "update_existing": True}
    async with Client(stdio_server(env, tmp_path)) as client:
        await client.call_tool("ameyo_upload_contacts_file", {**base, "file": "a.csv"})
        second = await client.call_tool("ameyo_upload_contacts_file", {**base, "file": "b.csv"})
    text = text_of(second)
    held = "1 number was sent as Ameyo already holds it (e.g. 9813700001 → 919813700001)"
    assert "updated 1" in text and held in text, text
    assert [c.phone1 for c in records_of(simulator, "9813700001")] == ["919813700001"]


# -- 6, 7: files ---------------------------------------------------------------------------------


def callback_file(path: Path, rows: int = 20) -> Path:
    lines = "".join(f"98124{i:05d},Guest {i},2031-05-02 1{i % 8}:00\n" for i in range(rows))
    path.write_text("phone1,name,callback_time\n" + lines, encoding="utf-8")
    return path


@pytest.mark.parametrize("how", ["copy", "hard link", "rename", "second journal"])
async def test_a_callback_file_under_another_name_sends_nothing_twice(
    simulator: SimulatorThread, tmp_path: Path, how: str, database_url: str
) -> None:
    env = env_for(simulator, tmp_path, database_url)
    folder = tmp_path / "uploads"
    source = callback_file(folder / "monday.csv")
    base = {"campaign": 1, "lead_id": 21, "dry_run": False}
    async with Client(stdio_server(env, tmp_path)) as client:
        first = await client.call_tool("ameyo_upload_contacts_file", {**base, "file": "monday.csv"})
        assert first.structured_content is not None and first.structured_content["callbacks"] == 20
        second_args = {**base, "file": "monday-again.csv"}
        if how == "copy":
            shutil.copy(source, folder / "monday-again.csv")
        elif how == "hard link":
            os.link(source, folder / "monday-again.csv")
        elif how == "rename":
            source.rename(folder / "monday-again.csv")
        else:
            second_args = {**base, "file": "monday.csv", "result_file": "again.csv"}
            (folder / "monday.csv.ameyo-journal").rename(folder / "old-journal")
        second = await client.call_tool("ameyo_upload_contacts_file", second_args)
    text = text_of(second)
    assert "Not sent again: 20 rows that an earlier upload already sent" in text, text
    assert "by the upload of monday.csv" in text, text
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1
    assert sum(1 for cb in simulator.state.callbacks(1) if str(cb.phone).startswith("98124")) <= 20


@pytest.mark.parametrize("era", ["legacy", "2026-07-28"])
async def test_a_file_replaced_while_the_person_is_asked_sends_nothing(
    simulator: SimulatorThread, tmp_path: Path, era: Any
) -> None:
    env = env_for(simulator, tmp_path, str(tmp_path / "state" / "index.db"), AMEYO_CONFIRM_OVER="10")
    folder = tmp_path / "uploads"
    small = "phone1,name\n" + "".join(f"98125{i:05d},Guest {i}\n" for i in range(150))
    # As many rows, other people: the question reads the same, the rows are not the same.
    other = "phone1,name\n" + "".join(f"98126{i:05d},Other {i}\n" for i in range(150))
    (folder / "d.csv").write_text(small, encoding="utf-8")
    asked: list[str] = []

    async def swap_then_agree(_context: object, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        if len(asked) == 1:
            (folder / "d.csv").write_text(other, encoding="utf-8")
        return ElicitResult(action="accept", content={"confirm": True})

    async with Client(stdio_server(env, tmp_path), elicitation_callback=swap_then_agree, mode=era) as client:
        done = await client.call_tool(
            "ameyo_upload_contacts_file", {"file": "d.csv", "campaign": 1, "lead_id": 21, "dry_run": False}
        )
    assert asked and "about 150 records" in asked[0], asked
    if era == "legacy":  # asked within the call: the rows confirmed are not the file's any more
        assert "changed after it was read for the confirmation" in text_of(done), text_of(done)
        assert simulator.state.executed["uploadContacts"] == 0
    else:  # the call is run again with the answer: the new rows are a new question, asked again
        assert len(asked) == 2 and asked[1] == asked[0], asked
        sent = {c.phone1 for c in simulator.state.contacts(1)}
        assert "9812600000" in sent and "9812500000" not in sent
