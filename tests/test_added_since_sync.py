"""The customers added in Ameyo since a campaign's index was synced are read live, newest first, down
to those the sync read (`index.added`): a lookup and every do-not-call check read only the 500
newest, so with more added since (by anyone, or by a file run killed and resumed) a do-not-call
customer among the first of them was not found: `ameyo_add_callback`, an upload's callback and a
file's update dialled them without the person's yes, and a lookup said nobody has the number. Past
`ADDED_CAP` the read stops, and the answers say what was not looked at."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.config import Settings
from ameyo_mcp.index.added import ADDED_CAP, FIRST_PAGE, PAGE
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from ameyo_mcp.simulator.state import ContactQuery, ContactRow, SimulatorState, UploadOptions
from tests.conftest import (
    InProcessSimulator,
    Simulator,
    process_env,
    server_of,
    settings_for,
    synced,
    text_of,
)
from tests.test_bulk_upload import read_result
from tests.test_file_do_not_call import added_after_the_sync
from tests.test_newest_reads import BATCH, ROWS, ZUBIN, new_people, run
from tests.test_store import execute_directly

pytestmark = pytest.mark.anyio

LATER = "2031-05-01T11:00:00"
OTHERS = PAGE + 100  # added after Zubin: he is not among the newest 500


def others_added(sim: Simulator, count: int) -> None:
    """`count` customers added to lead 1 in Ameyo after the sync (and after Zubin)."""
    records: list[object] = [{"phone1": f"97{i:08d}", "name": f"Later {i}"} for i in range(count)]
    assert all(o.customer_id for o in sim.state.upload_contacts(1, 1, UploadOptions(), records))


async def zubin_then_others(sim: Simulator, tmp_path: Path, others: int, **env: str) -> tuple[Settings, int]:
    """The campaign synced, then Zubin added with a do-not-call disposition, then `others` more:
    settings reading that index, and his id."""
    settings = settings_for(sim, tmp_path, **env)
    await synced(sim, settings)
    record = {"phone1": ZUBIN, "name": "Zubin"}
    zubin_id = added_after_the_sync(sim, record, disposition="DNC", status="CALLED")
    others_added(sim, others)
    return settings, zubin_id


def said(zubin_id: int) -> str:
    return f"customer {zubin_id}'s last disposition is 'DNC'"


def callback_record(**extra: object) -> dict[str, object]:
    return {"customer": {"phone1": ZUBIN, "name": "Zubin"}, "callback_time": LATER, **extra}


async def test_a_do_not_call_customer_beyond_the_newest_500_is_found_and_held_back(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    # On either store: the highest customer id the sync read is kept in each.
    settings, zubin_id = await zubin_then_others(simulator, tmp_path, OTHERS, AMEYO_DATABASE_URL=database_url)
    async with Client(server_of(simulator, settings)) as client:
        before = simulator.state.commands["getContacts"]
        looked = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": ZUBIN})
        # Three pages, newest first (a small one, then two of PAGE): the third reaches the
        # customers the sync read.
        assert simulator.state.commands["getContacts"] - before == 3
        text = text_of(looked)
        assert not looked.is_error and f"#{zubin_id} Zubin |" in text, text
        callback = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "phone": ZUBIN, "callback_time": LATER}
        )
        assert callback.is_error and said(zubin_id) in text_of(callback), text_of(callback)
        upload = await client.call_tool(
            "ameyo_upload_contacts_with_callbacks",
            {"campaign": 1, "lead_id": 1, "records": [callback_record()]},
        )
        assert said(zubin_id) in text_of(upload) and "record 1: " in text_of(upload), text_of(upload)
    assert [cb for cb in simulator.state.callbacks(1) if cb.phone.endswith(ZUBIN)] == []


@pytest.mark.network  # the CLI is a process of its own
async def test_a_files_update_holds_back_a_customer_beyond_the_newest_500_reading_each_page_once(
    tmp_path: Path,
) -> None:
    with SimulatorThread(SimulatorConfig(password="pw-5ec2e7-simulated")) as sim:
        settings, zubin_id = await zubin_then_others(sim, tmp_path, OTHERS)
        source = new_people(tmp_path / "people.csv", ZUBIN)  # eight batches, his row in the last
        env = process_env(sim, tmp_path) | {"AMEYO_DATABASE_URL": settings.database_url}
        command = [sys.executable, "-m", "ameyo_mcp", "upload", str(source), "--campaign", "1", "--lead", "1"]
        command += ["--update", "--batch-size", str(BATCH)]
        # The dry run reads the three pages down to the sync's customers once, and Zubin by id for the
        # batch that holds his number: not the pages again for every batch. It keeps them in the
        # index (index.catch_up): the run reads the one page down to them, and finds Zubin by it.
        for extra, name, reads in ((("--dry-run",), "check", 4), ((), "result", 2)):
            before = sim.state.commands["getContacts"]
            done = run([*command, *extra], env, tmp_path)
            assert "Traceback" not in done.stderr, done.stderr
            result = read_result(tmp_path / f"people.csv.lead-1.ameyo-{name}.csv")
            assert result[ROWS + 1]["result"] == "REFUSED" and said(zubin_id) in result[ROWS + 1]["reason"]
            assert sim.state.commands["getContacts"] - before == reads, done.stdout
        zubin = sim.state.contact(zubin_id)
        assert zubin is not None and zubin.columns["status"] == "CALLED", zubin.columns  # not requeued


async def test_past_the_cap_the_answers_say_what_was_not_looked_at(
    simulator: Simulator, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "updates.csv").write_text(f"phone1,name\n{ZUBIN},Zubin\n", encoding="utf-8")
    settings, zubin_id = await zubin_then_others(
        simulator, tmp_path, ADDED_CAP + 100, AMEYO_UPLOAD_DIRS=str(folder)
    )
    beyond = (
        "not checked against the customers added in Ameyo since the index's sync beyond the newest "
        f"{ADDED_CAP:,} contacts"
    )
    async with Client(server_of(simulator, settings)) as client:
        before = simulator.state.commands["getContacts"]
        looked = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": ZUBIN})
        # The pages to the cap, and the small first page.
        assert simulator.state.commands["getContacts"] - before == 1 + ADDED_CAP // PAGE
        text = text_of(looked)
        assert f"#{zubin_id} " not in text and "0 contacts match" in text, text
        assert f"beyond the newest {ADDED_CAP:,} contacts were not looked at" in text, text
        upload = await client.call_tool(
            "ameyo_upload_contacts_with_callbacks",
            {"campaign": 1, "lead_id": 1, "records": [callback_record()], "dry_run": True},
        )
        assert f"1 record was {beyond}" in text_of(upload), text_of(upload)
        file = await client.call_tool(
            "ameyo_upload_contacts_file",
            {"campaign": 1, "lead_id": 1, "file": "updates.csv", "update_existing": True},
        )
        assert f"1 row to update or call back was {beyond}" in text_of(file), text_of(file)
        # One found among the newest is not all there may be: the answer said "1 contact matches"
        # as if the look had been complete, and a callback by last digits took that one.
        newest = f"97{ADDED_CAP + 99:08d}"
        found = text_of(await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": newest}))
        assert "at least 1 contact match" in found, found
        assert f"beyond the newest {ADDED_CAP:,} contacts were not looked at, so more may match" in found, (
            found
        )
        asked = {"campaign": 1, "phone": newest[-7:], "callback_time": LATER}
        callback = await client.call_tool("ameyo_add_callback", asked)
        told = text_of(callback)
        assert callback.is_error and "another customer may have one too" in told, told
        assert "give the whole number or the customer_id" in told, told
    assert not [cb for cb in simulator.state.callbacks(1) if cb.phone == newest]


class FailingAfterOnePage(SimulatorState):
    """A simulated Ameyo that serves the first page of a read of the newest contacts and fails the
    next getContacts (its proxy's 502), as a loaded Ameyo may fail one page of twenty."""

    failing = False

    def get_contacts(self, query: ContactQuery) -> list[ContactRow]:
        rows = super().get_contacts(query)
        if (
            self.failing
            and query.order_by == "customerId desc"
            and query.limit_offset == f"LIMIT {FIRST_PAGE} OFFSET 0"
        ):
            self.faults.commands, self.faults.html_502 = {"getContacts"}, 1
        return rows


async def test_a_failed_read_of_the_customers_added_since_is_said(tmp_path: Path) -> None:
    """When a page of the customers added since the sync could not be read, the do-not-call check of
    an upload's callback and update passed without a word: the callback rang, and the update
    requeued, a customer on that page who asked not to be called. As for those past the cap (and a
    number the index does not know when Ameyo's reads fail: test_do_not_call_lookups), the records
    go ahead, and the answer says what they were not checked against."""
    config = SimulatorConfig(password="pw-5ec2e7-simulated")
    simulator = InProcessSimulator(config, FailingAfterOnePage(config))
    settings, _ = await zubin_then_others(simulator, tmp_path, OTHERS)
    simulator.state.failing = True
    update = {"phone1": ZUBIN, "name": "Zubin"}
    unread = (
        "Note: 1 record was not checked against the customers added in Ameyo since the index's sync "
        "(none could be read from Ameyo: Ameyo answered getContacts with an HTML page (HTTP 502)"
    )
    async with Client(server_of(simulator, settings)) as client:
        for tool, args in (
            ("ameyo_upload_contacts_with_callbacks", {"records": [callback_record()]}),
            ("ameyo_upload_contacts", {"records": [update], "update_existing": True}),
        ):
            result = await client.call_tool(tool, {"campaign": 1, "lead_id": 1} | args)
            text = text_of(result)
            assert not result.is_error and "Sent 1 record" in text, text
            assert unread in text, text


async def test_a_callback_by_phone_to_a_customer_added_since_reads_their_pages_once(
    simulator: Simulator, tmp_path: Path
) -> None:
    """ameyo_add_callback found a customer added since the sync by reading the pages down to the
    sync's customers, then its check of the others on the line read every page again: twice the
    requests, forty at the cap."""
    settings, zubin_id = await zubin_then_others(simulator, tmp_path, OTHERS)
    simulator.state.change_columns(zubin_id, disposition="Interested")
    async with Client(server_of(simulator, settings)) as client:
        before = simulator.state.commands["getContacts"]
        result = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "phone": ZUBIN, "callback_time": LATER}
        )
        assert not result.is_error and f"customer {zubin_id}" in text_of(result), text_of(result)
        # The three pages, and Zubin by id for the check of his line.
        assert simulator.state.commands["getContacts"] - before == 4


async def test_an_index_synced_before_the_bound_was_kept_says_what_its_check_did_not_read(
    simulator: Simulator, tmp_path: Path
) -> None:
    """An index synced by a version that kept no bound (migration 18 leaves it NULL) reads the newest
    500 alone until its next sync: an upload's callback to a do-not-call customer added before them
    was scheduled without a word, though the answers say which customers a check did not read."""
    settings, zubin_id = await zubin_then_others(simulator, tmp_path, OTHERS)
    execute_directly(settings.database_url, "UPDATE campaigns SET synced_through = NULL")
    async with Client(server_of(simulator, settings)) as client:
        upload = await client.call_tool(
            "ameyo_upload_contacts_with_callbacks",
            {"campaign": 1, "lead_id": 1, "records": [callback_record()], "dry_run": True},
        )
    text = text_of(upload)
    assert said(zubin_id) not in text, text  # not found: he is not among the newest 500
    unread = (
        "1 record was not checked against the customers added in Ameyo since the index's sync beyond "
        f"the newest {PAGE} contacts"
    )
    assert unread in text and "sync again" in text, text


async def test_a_callback_by_last_digits_weighs_the_customers_added_since_the_sync(
    simulator: Simulator, tmp_path: Path
) -> None:
    """ameyo_add_callback by last digits took the index's only customer with them and scheduled the
    callback to their number, though a customer added in Ameyo since the sync ends with the same
    digits: the person may have meant either, and the one they did not mean was rung. Both are
    named now, at no request more (the check of the line reads the same pages)."""
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    [priya] = [c for c in simulator.state.contacts(1) if c.phone1.endswith("9204")]
    later = added_after_the_sync(simulator, {"phone1": "9811119204", "name": "Later Ninety"})
    async with Client(server_of(simulator, settings)) as client:
        asked = {"campaign": 1, "phone": "9204", "callback_time": LATER}
        result = await client.call_tool("ameyo_add_callback", asked)
        told = text_of(result)
        assert result.is_error and "Several customers" in told, told
        assert f"customer {priya.customer_id}: Priya Sharma" in told, told
        assert f"customer {later}: Later Ninety" in told, told
        assert not [cb for cb in simulator.state.callbacks(1) if cb.phone.endswith("9204")]
        before = simulator.state.commands["getContacts"]
        result = await client.call_tool("ameyo_add_callback", asked | {"phone": "19204"})
        assert not result.is_error and f"customer {later}" in text_of(result), text_of(result)
        # The customers added since (the lookup's one customer among them) and the index's
        # candidates by id, asked at once; and the customer by id for the line's check.
        assert simulator.state.commands["getContacts"] - before == 3
    assert [cb.phone for cb in simulator.state.callbacks(1) if cb.phone.endswith("9204")] == ["9811119204"]
