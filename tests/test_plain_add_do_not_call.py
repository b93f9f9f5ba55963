"""A plain add (no callback, no update) of a number a do-not-call customer holds is held back
without the person's yes, as a callback or an update to them is: Ameyo adds the record as a new
customer, NOT_TRIED, and the dialler rings that customer's line (their phone2, a family line; or
their phone1 in a spelling Ameyo does not match, for a customer added after the index's sync). A
record whose phone1 is a customer's phone1 as Ameyo holds it (or that the upload sends so) is
DUPLICATE_NOT_ADDED, nobody dialled, and goes. Plain adds were not judged at all: the records
tool, the file tool and `ameyo-mcp upload` added every one of them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.config import Settings
from ameyo_mcp.rules import phones
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import Simulator, process_env, server_of, settings_for, synced, text_of
from tests.test_bulk_exact import cli
from tests.test_bulk_upload import read_result
from tests.test_do_not_call_lookups import do_not_call_by_phone2
from tests.test_file_do_not_call import TOOL, _dry_run_then_confirmed, added_after_the_sync

pytestmark = pytest.mark.anyio

KARTHIK = 12005  # Karthik Joshi, lead 1: last disposition DNC
HELD = (1, 2, 3)  # the records `on_their_lines` holds back
KEPT = (1, 2)  # those it holds back once Zubin is in the index (3 is then sent as Ameyo holds it)


async def on_their_lines(simulator: Simulator, settings: Settings) -> tuple[list[dict[str, str]], list[str]]:
    """The campaign's index synced, then new people's records, and what holds back each of
    `HELD`:
    1. phone1 is a do-not-call customer's phone2 (a family line);
    2. phone2 is Karthik's phone1;
    3. phone1 is Zubin's, a do-not-call customer added after the sync (found among the newest), in
       another spelling than Ameyo's: Ameyo adds a second record on his line. The read that finds
       him keeps him in the index (`index.catch_up`): from then on the record goes out as Ameyo
       holds his number, as 4 does: DUPLICATE_NOT_ADDED;
    4. phone1 is Karthik's in another spelling: sent as Ameyo holds it, DUPLICATE_NOT_ADDED;
    5. phone1 is Zara's (do-not-call, added after the sync) as Ameyo holds it: DUPLICATE_NOT_ADDED;
    6. a new number."""
    family_id, family_line = do_not_call_by_phone2(simulator)
    karthik = simulator.state.contact(KARTHIK)
    assert karthik is not None and karthik.columns.get("disposition") == "DNC"
    await synced(simulator, settings)
    zubin = added_after_the_sync(simulator, {"phone1": "919812300077", "name": "Zubin"}, disposition="DNC")
    added_after_the_sync(simulator, {"phone1": "9812300088", "name": "Zara"}, disposition="DNC")
    records = [
        {"phone1": family_line, "name": "Family"},
        {"phone1": "9876500881", "phone2": karthik.phone1, "name": "Lodger"},
        {"phone1": "9812300077", "name": "Zubin again"},
        {"phone1": "+91 " + karthik.phone1.removeprefix("91"), "name": "Karthik Joshi"},
        {"phone1": "9812300088", "name": "Zara"},
        {"phone1": "9876500882", "name": "New"},
    ]
    # Each told whose line the new customer would be on, by which number.
    lines = ((family_line, family_id), (karthik.phone1, KARTHIK), ("9812300077", zubin))
    said = [
        f"a new customer on customer {i}'s line ({number}), whose last disposition is 'DNC' (do not call)"
        for number, i in lines
    ]
    return records, said


def as_csv(path: Path, records: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{r['phone1']},{r.get('phone2', '')},{r['name']}\n" for r in records]
    path.write_text("phone1,phone2,name\n" + "".join(lines), encoding="utf-8")
    return path


def added_on(simulator: Simulator, records: list[dict[str, str]], since: int) -> list[int]:
    """The positions of `records` whose number Ameyo has added a customer for since `since` (the
    highest customer id then)."""
    added = [c.phone1 for c in simulator.state.contacts(1) if c.customer_id > since]
    return [
        position
        for position, record in enumerate(records, start=1)
        if any(phones.same_number(phone, record["phone1"], "IN") for phone in added)
    ]


def last_id(simulator: Simulator) -> int:
    return max(c.customer_id for c in simulator.state.contacts(1))


def check_rows(rows: dict[int, dict[str, str]], said: list[str], sent: tuple[str, ...]) -> None:
    """A file's held lines refused with why (from line 2, one for each of `said`), the others `sent`
    (to line 7)."""
    for line, why in enumerate(said, start=2):
        assert rows[line]["result"] == "REFUSED" and why in rows[line]["reason"], rows[line]
    assert tuple(rows[line]["result"] for line in range(2 + len(said), 8)) == sent, rows


async def test_the_records_tool_holds_back_a_new_customer_on_a_do_not_call_line(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    records, said = await on_their_lines(simulator, settings)
    args, since = {"campaign": 1, "lead_id": 1, "records": records}, last_id(simulator)
    async with Client(server_of(simulator, settings)) as client:
        dry = await client.call_tool("ameyo_upload_contacts", args | {"dry_run": True})
        real = await client.call_tool("ameyo_upload_contacts", args)
        assert added_on(simulator, records, since) == [6], text_of(real)
        confirmed = await client.call_tool("ameyo_upload_contacts", args | {"despite_do_not_call": True})
    # The dry run's read of the newest found Zubin, and kept him in the index: the run sends his
    # record as Ameyo holds his number.
    for answer, held in ((dry, HELD), (real, KEPT)):
        out, text = answer.structured_content or {}, text_of(answer)
        refused = {r["position"]: r["reason"] for r in out["records"] if r["result"] == "REFUSED"}
        assert refused.keys() == set(held), text
        for position, why in zip(held, said, strict=False):
            assert why in refused[position] and "despite_do_not_call=true" in refused[position], text
    assert (dry.structured_content or {})["would_send"] == 3
    assert (real.structured_content or {})["counts"] == {"DUPLICATE_NOT_ADDED": 3, "ADDED": 1}, text_of(real)
    text = text_of(confirmed)
    assert not confirmed.is_error and "is added on their line, and dialled, as the person confirmed" in text
    assert added_on(simulator, records, since) == [*KEPT, 6], text


async def test_the_file_tool_holds_back_a_new_customer_on_a_do_not_call_line(
    simulator: Simulator, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    records, said = await on_their_lines(simulator, settings)
    as_csv(folder / "people.csv", records)
    args, since = {"campaign": 1, "lead_id": 1, "file": "people.csv"}, last_id(simulator)
    dry, real = await _dry_run_then_confirmed(simulator, settings, args)
    # The run's read of the newest, before its first check, keeps Zubin in the index (line 4).
    said = said[: len(KEPT)]
    assert all(why in text_of(dry) for why in said), text_of(dry)
    check_rows(read_result(folder / "people.csv.lead-1.ameyo-check.csv"), said, ("WOULD_SEND",) * 4)
    sent = ("DUPLICATE_NOT_ADDED", "DUPLICATE_NOT_ADDED", "DUPLICATE_NOT_ADDED", "ADDED")
    check_rows(read_result(folder / "people.csv.lead-1.ameyo-result.csv"), said, sent)
    assert added_on(simulator, records, since) == [6], text_of(real)
    async with Client(server_of(simulator, settings)) as client:
        confirmed = await client.call_tool(TOOL, args | {"dry_run": False, "despite_do_not_call": True})
    text = text_of(confirmed)
    assert "2 rows to add on the line of a customer whose last disposition is do-not-call" in text, text
    assert added_on(simulator, records, since) == [*KEPT, 6], text


@pytest.mark.network  # the CLI is a process of its own
async def test_the_cli_holds_back_a_new_customer_on_a_do_not_call_line(tmp_path: Path) -> None:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated")) as sim:
        settings = settings_for(sim, tmp_path)
        records, said = await on_their_lines(sim, settings)
        source, since = as_csv(tmp_path / "people.csv", records), last_id(sim)
        env = process_env(sim, tmp_path) | {"AMEYO_DATABASE_URL": str(tmp_path / "index.db")}

        def run(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                cli(source, *extra), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
            )

        # The dry run's read of the newest, before its first check, keeps Zubin in the index (line 4).
        said = said[: len(KEPT)]
        sent = ("DUPLICATE_NOT_ADDED", "DUPLICATE_NOT_ADDED", "DUPLICATE_NOT_ADDED", "ADDED")
        for extra, name, rows in ((("--dry-run",), "check", ("WOULD_SEND",) * 4), ((), "result", sent)):
            done = run(*extra)
            assert "Traceback" not in done.stderr, done.stderr
            assert done.returncode == 1 and "--despite-do-not-call" in done.stdout, done.stdout
            check_rows(read_result(tmp_path / f"people.csv.lead-1.ameyo-{name}.csv"), said, rows)
        assert added_on(sim, records, since) == [6], done.stdout


async def test_a_number_ameyo_failed_to_add_is_not_sent_again_in_that_spelling(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    """The ledger kept the spelling of every number an upload sent, as the one Ameyo holds, even a
    record Ameyo answered ADD_FAILED (a field longer than its columns take). A do-not-call customer
    added later in another spelling of the same numbers, and synced: the records tool and the file
    tool sent their new records in the failed spelling, which Ameyo matched to no one, so it added
    second customers on that customer's line, NOT_TRIED, and dialled them; the do-not-call check
    let them go as sent "as Ameyo holds it" (their customer's phone1), and the answer said so."""
    folder = tmp_path / "uploads"
    settings = settings_for(
        simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder), AMEYO_DATABASE_URL=database_url
    )
    await synced(simulator, settings)
    failed = [{"phone1": f"9198123000{n}", "note": "x" * 300} for n in (77, 78)]
    tool_args = {"campaign": 1, "lead_id": 1}
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool("ameyo_upload_contacts", tool_args | {"records": failed})
        assert "failed 2" in text_of(first), text_of(first)
    dnc = [
        added_after_the_sync(simulator, {"phone1": f"98123000{n}", "name": "Dee"}, disposition="DNC")
        for n in (77, 78)
    ]
    await synced(simulator, settings)
    as_csv(folder / "people.csv", [{"phone1": "9812300078", "name": "Dee at home"}])
    since = last_id(simulator)
    async with Client(server_of(simulator, settings)) as client:
        record = {"phone1": "9812300077", "name": "Dee at home"}
        tool = await client.call_tool("ameyo_upload_contacts", tool_args | {"records": [record]})
        run = await client.call_tool(TOOL, tool_args | {"file": "people.csv", "dry_run": False})
    assert [c.customer_id for c in simulator.state.contacts(1) if c.customer_id > since] == [], (
        text_of(tool),
        text_of(run),
    )
    records = (tool.structured_content or {})["records"]
    assert records[0]["result"] == "DUPLICATE_NOT_ADDED" and records[0]["customer_id"] == dnc[0], records
    assert "as Ameyo already holds it" not in text_of(tool), text_of(tool)
    [row] = read_result(folder / "people.csv.lead-1.ameyo-result.csv").values()
    assert row["result"] == "DUPLICATE_NOT_ADDED" and row["customer_id"] == str(dnc[1]), row


async def test_a_files_row_is_judged_in_the_spelling_it_goes_out_in(
    simulator: Simulator, tmp_path: Path
) -> None:
    """A do-not-call customer added after the index's sync, whose number a records tool upload sent
    as they hold it (DUPLICATE_NOT_ADDED): the ledger keeps that spelling, and every later upload of
    the number goes out in it. The records tool judged the record so, and let it go; the file's
    row was judged in the file's spelling, which that customer's phone1 is not, as a new customer
    on their line, and refused in the dry run and the run, though Ameyo would leave them as they
    were, nobody dialled."""
    folder = tmp_path / "uploads"
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    await synced(simulator, settings)
    dee = added_after_the_sync(simulator, {"phone1": "919812300077", "name": "Dee"}, disposition="DNC")
    as_csv(folder / "people.csv", [{"phone1": "9812300077", "name": "Dee"}])
    args = {"campaign": 1, "lead_id": 1}
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool(
            "ameyo_upload_contacts", args | {"records": [{"phone1": "919812300077"}]}
        )
        assert "left as it was" in text_of(first), text_of(first)
    since = last_id(simulator)
    dry, real = await _dry_run_then_confirmed(simulator, settings, args | {"file": "people.csv"})
    [checked] = read_result(folder / "people.csv.lead-1.ameyo-check.csv").values()
    assert checked["result"] == "WOULD_SEND", (checked, text_of(dry))
    [row] = read_result(folder / "people.csv.lead-1.ameyo-result.csv").values()
    assert row["result"] == "DUPLICATE_NOT_ADDED" and row["customer_id"] == str(dee), (row, text_of(real))
    assert last_id(simulator) == since
