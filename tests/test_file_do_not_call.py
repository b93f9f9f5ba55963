"""A contact file's callbacks meet the do-not-call rule that `ameyo_add_callback` and the upload
with callbacks apply: a row whose callback goes to a customer the campaign's index finds by its
number, whose last disposition is do-not-call, is refused (its line and why) unless the person
confirmed it, in the dry run as in the run, through the file tool and the CLI alike. The file
tool and `ameyo-mcp upload` had scheduled them without a word."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ameyo_mcp.config import Settings
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import Simulator, process_env, server_of, settings_for, synced, text_of
from tests.test_bulk_upload import read_result

pytestmark = pytest.mark.anyio

TOOL = "ameyo_upload_contacts_file"
KARTHIK = 12005  # Karthik Joshi, lead 1: last disposition DNC
LATER = "2031-05-01T11:00:00"
SAID = f"customer {KARTHIK}'s last disposition is 'DNC' (do not call)"


def dnc_file(simulator: Simulator, path: Path) -> Path:
    """Line 2 calls Karthik back, in another spelling of his number than Ameyo's; line 3 calls a new
    customer back; line 4 has no callback."""
    karthik = simulator.state.contact(KARTHIK)
    assert karthik is not None and karthik.columns.get("disposition") == "DNC"
    number = karthik.phone1.removeprefix("91")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "phone1,name,callback_time\n"
        f"+91 {number},Karthik Joshi,{LATER}\n"
        f"9876500871,Ana,{LATER}\n"
        "9876500872,Bo,\n",
        encoding="utf-8",
    )
    return path


def added_after_the_sync(simulator: Simulator, record: dict[str, str], **columns: str) -> int:
    """A customer added to lead 1 in Ameyo's own screens after the index's sync, with `columns` (a
    do-not-call disposition): their id."""
    from ameyo_mcp.simulator.state import UploadOptions

    [added] = simulator.state.upload_contacts(1, 1, UploadOptions(), [record])
    assert added.customer_id is not None
    simulator.state.change_columns(added.customer_id, **columns)
    return added.customer_id


def refusal(text: str) -> str:
    """The answer's line for the file's line 2 ("line 2: phone1: reason")."""
    return next((line for line in text.splitlines() if line.startswith("line 2: ")), "")


def karthiks_callbacks(simulator: Simulator) -> list[Any]:
    """The callbacks to his number (Ameyo schedules one for a customer it did not add by number)."""
    return [cb for cb in simulator.state.callbacks(1) if cb.phone.endswith("8783936422")]


async def test_a_files_callback_to_a_do_not_call_customer_needs_the_persons_yes(
    simulator: Simulator, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    dnc_file(simulator, folder / "callbacks.csv")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    await synced(simulator, settings)
    args = {"campaign": 1, "lead_id": 1, "file": "callbacks.csv"}
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool(TOOL, args)
        checked = read_result(folder / "callbacks.csv.lead-1.ameyo-check.csv")
        real = await client.call_tool(TOOL, args | {"dry_run": False})
        done = read_result(folder / "callbacks.csv.lead-1.ameyo-result.csv")
        assert karthiks_callbacks(simulator) == []
        confirmed = await client.call_tool(TOOL, args | {"dry_run": False, "despite_do_not_call": True})
    for answer, rows in ((dry, checked), (real, done)):
        text = text_of(answer)
        assert not answer.is_error, text
        assert SAID in refusal(text) and "despite_do_not_call=true" in refusal(text), text
        assert rows[2]["result"] == "REFUSED" and SAID in rows[2]["reason"], rows
        assert rows[3]["result"] in ("WOULD_SEND", "ADDED") and rows[4]["result"] in ("WOULD_SEND", "ADDED")
        assert "was not checked" not in text
    assert answer.structured_content is not None and answer.structured_content["callbacks"] == 1
    text = text_of(confirmed)
    assert not confirmed.is_error and "as the person confirmed" in text and SAID in text, text
    assert len(karthiks_callbacks(simulator)) == 1


async def test_without_an_index_a_files_callbacks_are_said_unchecked(
    simulator: Simulator, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    dnc_file(simulator, folder / "callbacks.csv")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool(TOOL, {"campaign": 1, "lead_id": 1, "file": "callbacks.csv"})
    text = text_of(dry)
    assert "whether the customers of 2 rows with a callback asked not to be called" in text, text
    assert "has no contacts index to find them by number" in text, text


@pytest.mark.network  # the CLI is a process of its own
async def test_the_cli_refuses_a_do_not_call_callback_without_its_flag(tmp_path: Path) -> None:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated")) as sim:
        source = dnc_file(sim, tmp_path / "callbacks.csv")
        settings = settings_for(sim, tmp_path)
        await synced(sim, settings)
        env = process_env(sim, tmp_path) | {"AMEYO_DATABASE_URL": str(tmp_path / "index.db")}
        command = [sys.executable, "-m", "ameyo_mcp", "upload", str(source), "--campaign", "1", "--lead", "1"]

        def run(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*command, *extra], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
            )

        for extra, name in ((("--dry-run",), "check"), ((), "result")):
            done = run(*extra)
            assert "Traceback" not in done.stderr, done.stderr
            said = refusal(done.stdout)
            assert SAID in said and "--despite-do-not-call" in said, done.stdout
            rows = read_result(tmp_path / f"callbacks.csv.lead-1.ameyo-{name}.csv")
            assert rows[2]["result"] == "REFUSED" and SAID in rows[2]["reason"], rows
        assert karthiks_callbacks(sim) == []
        confirmed = run("--despite-do-not-call")
        assert confirmed.returncode == 0, (confirmed.stdout, confirmed.stderr)
        assert "as the person confirmed" in confirmed.stdout, confirmed.stdout
        assert len(karthiks_callbacks(sim)) == 1


async def test_a_long_disposition_leaves_a_files_refusal_its_way_through(
    simulator: Simulator, tmp_path: Path
) -> None:
    """A row's reason in the answer was cut at 200 characters: a do-not-call customer's disposition
    of a few hundred characters (quoted to 30) cut the end off a refusal of a new customer on their
    line ("… send it again with despite_do_not_call=true (CLI…"), and off a migrate's, whose words
    are longer, even with 'DNC': the person was not told the flag, or that it is only for people who
    asked to be called. The quoted disposition is what is shortened."""
    marta = 12108  # lead 35 (disabled): moved into enabled lead 21 by a migrate
    long = "DNC: " + "the customer asked us never to ring this number again; " * 6
    assert len(long) > 300
    karthik, moved = simulator.state.contact(KARTHIK), simulator.state.contact(marta)
    assert karthik is not None and moved is not None
    for customer_id in (KARTHIK, marta):
        simulator.state.change_columns(customer_id, disposition=long)
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "lodger.csv").write_text(f"phone1,phone2,name\n9876500881,{karthik.phone1},Lodger\n")
    (folder / "moves.csv").write_text(f"phone1,name\n{moved.phone1},Marta\n")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    await synced(simulator, settings)
    step = (
        ": ask the person, and send it again with despite_do_not_call=true (CLI: --despite-do-not-call) "
        "only if they asked to be called"
    )
    async with Client(server_of(simulator, settings)) as client:
        for args, said, then in (
            (
                {"lead_id": 1, "file": "lodger.csv"},
                f"a new customer on customer {KARTHIK}'s line ({karthik.phone1}), whose last disposition is",
                "",
            ),
            (
                {"lead_id": 21, "file": "moves.csv", "migrate_existing": True},
                f"customer {marta}'s last disposition is",
                "; moving them into lead 21 puts them back in the dialler's queue",
            ),
        ):
            dry = await client.call_tool(TOOL, {"campaign": 1, **args})
            line = refusal(text_of(dry))
            assert said in line and line.endswith(f"(do not call){then}{step}"), text_of(dry)
            quoted = line.partition(f"{said} '")[2].partition("' (do not call)")[0]
            assert quoted.startswith("DNC: the cust") and quoted.endswith("…"), line


async def test_a_files_update_of_a_do_not_call_customer_needs_the_persons_yes(
    simulator: Simulator, tmp_path: Path
) -> None:
    """An update gives the customer the upload's status and attempts, and Ameyo dials them again as
    if new: a file's row updating a do-not-call customer is held back as a callback to them is."""
    folder = tmp_path / "uploads"
    karthik = simulator.state.contact(KARTHIK)
    assert karthik is not None
    before = (karthik.columns["status"], karthik.columns["attempts"])
    number = karthik.phone1.removeprefix("91")
    folder.mkdir()
    (folder / "updates.csv").write_text(
        f"phone1,name\n+91 {number},Karthik Joshi\n9876500873,Cy\n", encoding="utf-8"
    )
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    await synced(simulator, settings)
    args = {"campaign": 1, "lead_id": 1, "file": "updates.csv", "update_existing": True}
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool(TOOL, args)
        real = await client.call_tool(TOOL, args | {"dry_run": False})
        done = read_result(folder / "updates.csv.lead-1.ameyo-result.csv")
        karthik = simulator.state.contact(KARTHIK)
        assert karthik is not None and (karthik.columns["status"], karthik.columns["attempts"]) == before
        confirmed = await client.call_tool(TOOL, args | {"dry_run": False, "despite_do_not_call": True})
    for answer in (dry, real):
        assert SAID in refusal(text_of(answer)), text_of(answer)
    assert done[2]["result"] == "REFUSED" and done[3]["result"] == "ADDED", done
    text = text_of(confirmed)
    assert "1 row to update or call back a customer whose last disposition is do-not-call" in text, text
    karthik = simulator.state.contact(KARTHIK)
    assert karthik is not None and karthik.columns["status"] == "NOT_TRIED", karthik.columns


async def _synced_then_added(
    simulator: Simulator, tmp_path: Path, phone: str, name: str
) -> tuple[Path, Settings, int]:
    """An upload folder, settings reading it, the campaign's index synced, and then a do-not-call
    customer (`phone`, `name`) added in Ameyo, whom the index does not hold: the folder, the
    settings and their id."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    await synced(simulator, settings)
    record = {"phone1": phone, "name": name}
    return folder, settings, added_after_the_sync(simulator, record, disposition="DNC", status="CALLED")


async def _dry_run_then_confirmed(
    simulator: Simulator, settings: Settings, args: dict[str, Any]
) -> tuple[Any, Any]:
    """The file tool's dry run of `args`, then its run with the dry run's confirmation token."""
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool(TOOL, args)
        token = (dry.structured_content or {}).get("confirm_token")  # (none for a small file)
        return dry, await client.call_tool(TOOL, args | {"dry_run": False, "confirm": token})


async def test_a_customer_added_since_the_sync_stays_checked_after_the_files_own_rows_are_added(
    simulator: Simulator, tmp_path: Path
) -> None:
    """A do-not-call customer added in Ameyo after the index's sync is found among the newest
    contacts. A file's first batches add customers of their own, which are then the newest: read
    again for a later batch, the window held only those, and the row updating that customer was let
    through in the run, though its dry run (which adds nobody) held it back."""
    from ameyo_mcp.index.added import PAGE as NEWEST

    phone = "9812300077"
    folder, settings, zubin_id = await _synced_then_added(simulator, tmp_path, phone, "Zubin")
    # Three batches of new customers before his row: with one request at a time, the third waits
    # for the first to be answered, so his row is judged after the run's own 500 were added.
    rows = "".join(f"98765{i:05d},New {i}\n" for i in range(3 * NEWEST))
    (folder / "big.csv").write_text(f"phone1,name\n{rows}{phone},Zubin\n", encoding="utf-8")
    args = {
        "campaign": 1,
        "lead_id": 1,
        "file": "big.csv",
        "update_existing": True,
        "batch_size": NEWEST,
        "concurrency": 1,
    }
    dry, real = await _dry_run_then_confirmed(simulator, settings, args)
    said = f"customer {zubin_id}'s last disposition is 'DNC'"
    assert said in text_of(dry), text_of(dry)
    zubin = simulator.state.contact(zubin_id)
    assert zubin is not None and zubin.columns["status"] == "CALLED", text_of(real)
    assert said in text_of(real), text_of(real)


async def test_a_callback_after_the_files_own_additions_still_finds_a_customer_added_since_the_sync(
    simulator: Simulator, tmp_path: Path
) -> None:
    """A file's rows without a callback are sent as they are read, while its rows with one wait to
    be judged a batch's worth at a time: the newest contacts were first read when the first of those
    was judged, after the run's own rows had filled the window, so the callback to a do-not-call
    customer added since the index's sync was scheduled by the run its dry run had held back."""
    from ameyo_mcp.index.added import PAGE as NEWEST

    phone = "9812300078"
    folder, settings, zia_id = await _synced_then_added(simulator, tmp_path, phone, "Zia")
    rows = "".join(f"98766{i:05d},New {i},\n" for i in range(2 * NEWEST))
    (folder / "mixed.csv").write_text(
        f"phone1,name,callback_time\n{rows}{phone},Zia,{LATER}\n", encoding="utf-8"
    )
    args = {"campaign": 1, "lead_id": 1, "file": "mixed.csv", "batch_size": 100, "concurrency": 1}
    dry, real = await _dry_run_then_confirmed(simulator, settings, args)
    said = f"customer {zia_id}'s last disposition is 'DNC'"
    assert said in text_of(dry), text_of(dry)
    assert [cb for cb in simulator.state.callbacks(1) if cb.phone.endswith(phone)] == [], text_of(real)
    assert said in text_of(real), text_of(real)
