"""An upload with migrate_existing moves an existing customer from another lead into the upload's:
Marta Sánchez (customer 12108, last disposition DNC, parked in disabled lead 35) was moved into
enabled lead 21, which the dialler works, without a word about do-not-call and without the person's
yes ("would move", then "moved"), where an update of the same customer, or a callback to her, is
refused without despite_do_not_call. A move into a disabled lead (Ameyo moves nobody there) or
within the customer's own lead dials nobody, and is not held back."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import Simulator, process_env, server_of, settings_for, synced, text_of
from tests.test_bulk_exact import cli
from tests.test_bulk_upload import read_result
from tests.test_file_do_not_call import refusal

pytestmark = pytest.mark.anyio

MARTA = 12108  # lead 35 (disabled) of MoviStarSurvey: last disposition DNC
KARTHIK = 12005  # lead 1 (enabled): last disposition DNC
SAID = f"customer {MARTA}'s last disposition is 'DNC' (do not call); moving them into lead 21 puts them back"
TOOL = "ameyo_upload_contacts_file"
# The port the CLI's simulator is served on (this machine's tests keep to 34800-34899).
CLI_PORT = 34851


def lead_of(simulator: Simulator, customer_id: int) -> int | None:
    contact = simulator.state.contact(customer_id)
    assert contact is not None
    return contact.lead_id


def phone_of(simulator: Simulator, customer_id: int) -> str:
    contact = simulator.state.contact(customer_id)
    assert contact is not None and contact.columns.get("disposition") == "DNC", contact
    return contact.phone1


async def test_moving_a_do_not_call_customer_into_an_enabled_lead_needs_the_persons_yes(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    upload = {
        "campaign": "MoviStarSurvey",
        "lead_id": 21,
        "migrate_existing": True,
        "records": [{"phone1": phone_of(simulator, MARTA)}, {"phone1": "9123499981", "name": "New"}],
    }
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool("ameyo_upload_contacts", upload | {"dry_run": True})
        text = text_of(dry)
        assert SAID in text and "despite_do_not_call=true" in text, text
        assert (dry.structured_content or {})["would_send"] == 1, text
        sent = await client.call_tool("ameyo_upload_contacts", upload)
        out = sent.structured_content or {}
        refused = [(r["position"], r["result"]) for r in out["records"] if r["result"] == "REFUSED"]
        assert refused == [(1, "REFUSED")], text_of(sent)
        assert SAID in out["records"][0]["reason"], out["records"]
        assert (out["added"], out["moved"]) == (1, 0), text_of(sent)
        assert lead_of(simulator, MARTA) == 35  # not back in the dialler's queue behind the person's back
        confirmed = await client.call_tool("ameyo_upload_contacts", upload | {"despite_do_not_call": True})
    text = text_of(confirmed)
    assert not confirmed.is_error and (confirmed.structured_content or {})["moved"] == 1, text
    assert f"{SAID} in the dialler's queue; they are moved as the person confirmed" in text, text
    assert lead_of(simulator, MARTA) == 21


async def test_a_move_that_dials_nobody_is_not_held_back(simulator: Simulator, tmp_path: Path) -> None:
    """Into disabled lead 35 Ameyo moves nobody (NOT_MIGRATED), and Karthik is in lead 1 already (a
    duplicate, left as he was): neither puts a customer in a lead the dialler works."""
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    records = [{"phone1": phone_of(simulator, KARTHIK)}]
    async with Client(server_of(simulator, settings)) as client:
        for lead in (35, 1):
            upload = {"campaign": 1, "lead_id": lead, "migrate_existing": True, "records": records}
            sent = await client.call_tool("ameyo_upload_contacts", upload)
            [record] = (sent.structured_content or {})["records"]
            assert record["result"] in ("NOT_MIGRATED", "DUPLICATE_NOT_ADDED"), text_of(sent)
            assert "do not call" not in text_of(sent), text_of(sent)
    assert lead_of(simulator, KARTHIK) == 1


async def test_the_upload_with_callbacks_holds_the_move_back_too(
    simulator: Simulator, tmp_path: Path
) -> None:
    """Its callback dials the customer it moves: held back for the callback (as before a migrate was
    judged), and nobody moved; the other record goes."""
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    later = "2031-05-01T11:00:00"
    upload = {
        "campaign": 1,
        "lead_id": 21,
        "migrate_existing": True,
        "records": [
            {"customer": {"phone1": phone_of(simulator, MARTA)}, "callback_time": later},
            {"customer": {"phone1": "9123499983"}, "callback_time": later},
        ],
    }
    async with Client(server_of(simulator, settings)) as client:
        sent = await client.call_tool("ameyo_upload_contacts_with_callbacks", upload)
    first, second = (sent.structured_content or {})["records"]
    assert first["result"] == "REFUSED" and f"customer {MARTA}'s last disposition" in first["reason"], first
    assert second["result"] == "ADDED", text_of(sent)
    assert lead_of(simulator, MARTA) == 35


async def test_without_an_index_a_move_says_it_was_not_checked(simulator: Simulator, tmp_path: Path) -> None:
    settings = settings_for(simulator, tmp_path)
    upload = {"campaign": 1, "lead_id": 21, "migrate_existing": True, "records": [{"phone1": "9123499982"}]}
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool("ameyo_upload_contacts", upload | {"dry_run": True})
    text = text_of(dry)
    assert "whether the customers of 1 record asked not to be called" in text, text
    assert "a move into lead 21 puts them back in the dialler's queue" in text, text


def moves_file(simulator: Simulator, path: Path) -> Path:
    """Line 2 moves Marta; line 3 adds a new customer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"phone1,name\n{phone_of(simulator, MARTA)},Marta\n9876500881,Ana\n", encoding="utf-8")
    return path


async def test_a_files_move_of_a_do_not_call_customer_needs_the_persons_yes(
    simulator: Simulator, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    moves_file(simulator, folder / "moves.csv")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    await synced(simulator, settings)
    args = {"campaign": 1, "lead_id": 21, "file": "moves.csv", "migrate_existing": True}
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool(TOOL, args)
        checked = read_result(folder / "moves.csv.lead-21.ameyo-check.csv")
        real = await client.call_tool(TOOL, args | {"dry_run": False})
        done = read_result(folder / "moves.csv.lead-21.ameyo-result.csv")
        assert lead_of(simulator, MARTA) == 35
        confirmed = await client.call_tool(TOOL, args | {"dry_run": False, "despite_do_not_call": True})
    for answer, rows in ((dry, checked), (real, done)):
        text = text_of(answer)
        assert SAID in refusal(text) and "despite_do_not_call=true" in refusal(text), text
        assert rows[2]["result"] == "REFUSED" and SAID in rows[2]["reason"], rows
        assert rows[3]["result"] in ("WOULD_SEND", "ADDED"), rows
    text = text_of(confirmed)
    assert not confirmed.is_error, text
    assert "1 row to move (or add on the line of) a customer whose last disposition is do-not-call" in text, (
        text
    )
    assert lead_of(simulator, MARTA) == 21


async def test_without_an_index_a_files_moves_are_said_unchecked(
    simulator: Simulator, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    moves_file(simulator, folder / "moves.csv")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    args = {"campaign": 1, "lead_id": 21, "file": "moves.csv", "migrate_existing": True}
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool(TOOL, args)
    text = text_of(dry)
    assert "whether the customers of 2 rows to move or add asked not to be called" in text, text
    assert "has no contacts index to find them by number" in text, text


@pytest.mark.network  # the CLI is a process of its own
async def test_the_cli_refuses_a_do_not_call_move_without_its_flag(tmp_path: Path) -> None:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated"), port=CLI_PORT) as sim:
        source = moves_file(sim, tmp_path / "moves.csv")
        settings = settings_for(sim, tmp_path)
        await synced(sim, settings)
        env = process_env(sim, tmp_path)

        def run(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                cli(source, "--migrate", *extra, lead=21),
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )

        outcomes: list[Any] = []
        for extra, name in ((("--dry-run",), "check"), ((), "result")):
            done = run(*extra)
            assert "Traceback" not in done.stderr, done.stderr
            said = refusal(done.stdout)
            # The note names the way through for every line held back, as the row's reason does.
            assert SAID in said and "held back: each would move a customer" in done.stdout, done.stdout
            assert "run it again with despite_do_not_call=true (CLI: --despite-do-not-call)" in done.stdout
            outcomes.append(read_result(tmp_path / f"moves.csv.lead-21.ameyo-{name}.csv")[2]["result"])
        assert outcomes == ["REFUSED", "REFUSED"]
        assert lead_of(sim, MARTA) == 35
        confirmed = run("--despite-do-not-call")
        assert confirmed.returncode == 0, (confirmed.stdout, confirmed.stderr)
        assert "as the person confirmed" in confirmed.stdout, confirmed.stdout
        assert lead_of(sim, MARTA) == 21


async def test_a_lead_enabled_a_moment_ago_is_read_as_enabled_by_the_next_move(
    simulator: Simulator, tmp_path: Path
) -> None:
    """A write read its lead's state from a copy kept for a minute: a lead enabled in Ameyo within
    that minute was still taken as disabled, where Ameyo moves nobody, so a move of a do-not-call
    customer into it went without the person's yes and put him in the dialler's queue."""
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    upload = {
        "campaign": 1,
        "lead_id": 35,
        "migrate_existing": True,
        "records": [{"phone1": phone_of(simulator, KARTHIK)}],
    }
    async with Client(server_of(simulator, settings)) as client:
        before = await client.call_tool("ameyo_upload_contacts", upload | {"dry_run": True})
        assert "do not call" not in text_of(before), text_of(before)
        simulator.state.set_lead_enabled(35, True)
        after = await client.call_tool("ameyo_upload_contacts", upload | {"dry_run": True})
    text = text_of(after)
    assert (
        f"customer {KARTHIK}'s last disposition is 'DNC' (do not call); moving them into lead 35" in text
    ), text
    assert "despite_do_not_call=true" in text, text
