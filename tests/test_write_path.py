"""The one write path, through a real MCP client against the simulator over loopback HTTP: every write
keyed by what Ameyo will do, sent at most once, to a full number of the right customer, settled
whatever ends the call, audited first, and confirmed by the person when large."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from ameyo_mcp.writes.audit import read_trail
from tests.conftest import ameyo_of, server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

WHEN = "2031-05-01T11:00:00"
PRIYA = 12001  # Priya Sharma: phone1 917308059204, phone2 09059650502
PRIYA_PHONE = "917308059204"


def audit_lines(tmp_path: Path) -> list[dict[str, Any]]:
    return list(read_trail(tmp_path / "audit.jsonl"))


def callbacks_of(simulator: SimulatorThread, customer_id: int) -> list[Any]:
    return [cb for cb in simulator.state.callbacks(1) if cb.customer_id == customer_id]


async def test_a_partial_number_is_never_dialed(client: Client, simulator: SimulatorThread) -> None:
    before = len(callbacks_of(simulator, 12068))
    refused = await client.call_tool(
        "ameyo_add_callback", {"campaign": 1, "customer_id": 12068, "phone": "9766", "callback_time": WHEN}
    )
    assert refused.is_error and "not a full number" in text_of(refused)
    assert simulator.state.executed["addCallback"] == 0
    done = await client.call_tool(
        "ameyo_add_callback", {"campaign": 1, "customer_id": 12068, "callback_time": WHEN}
    )
    assert not done.is_error, text_of(done)
    new = callbacks_of(simulator, 12068)[before:]
    assert [cb.phone for cb in new] == ["917776244646"]  # the full stored phone1


async def test_another_customers_number_is_refused_naming_both(
    client: Client, simulator: SimulatorThread
) -> None:
    refused = await client.call_tool(
        "ameyo_add_callback",
        {"campaign": 1, "customer_id": 12068, "phone": "+91 73080 59204", "callback_time": WHEN},
    )
    text = text_of(refused)
    assert refused.is_error and "12001" in text and "12068" in text and "Priya Sharma" in text
    assert simulator.state.executed["addCallback"] == 0


async def test_one_of_the_customers_own_numbers_is_dialed_as_stored(
    client: Client, simulator: SimulatorThread
) -> None:
    done = await client.call_tool(
        "ameyo_add_callback",
        {"campaign": 1, "customer_id": PRIYA, "phone": "9059650502", "callback_time": WHEN},
    )
    assert not done.is_error, text_of(done)
    assert callbacks_of(simulator, PRIYA)[-1].phone == "09059650502"


async def test_callbacks_to_two_countries_numbers_with_the_same_digits_are_two_callbacks(
    client: Client, simulator: SimulatorThread
) -> None:
    """A callback is one per number with its country: +44 7911 123456 and 7911123456 (in India)
    are two people. Keyed by the national digits alone, the second was refused as already
    scheduled for the first."""
    records = [{"phone1": "+447911123456", "name": "Ann"}, {"phone1": "7911123456", "name": "Anil"}]
    added = await client.call_tool(
        "ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": records}
    )
    ids = added.structured_content["added_customer_ids"]  # type: ignore[index]
    assert len(ids) == 2, text_of(added)
    for customer_id in ids:
        done = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "customer_id": customer_id, "callback_time": WHEN}
        )
        assert not done.is_error, text_of(done)
    assert simulator.state.executed["addCallback"] == 2


async def test_the_same_write_spelt_four_ways_at_once_is_sent_once(
    client: Client, simulator: SimulatorThread
) -> None:
    spellings: list[dict[str, Any]] = [
        {"customer_id": PRIYA},
        {"phone": PRIYA_PHONE},
        {"phone": "+91 73080 59204"},
        {"phone": "7308059204"},
    ]
    results: list[Any] = []

    async def one(extra: dict[str, Any]) -> None:
        results.append(
            await client.call_tool(
                "ameyo_add_callback", {"campaign": "MoviStarSurvey", "callback_time": WHEN, **extra}
            )
        )

    async with anyio.create_task_group() as group:
        for extra in spellings:
            group.start_soon(one, extra)
    assert all(not r.is_error for r in results), [text_of(r) for r in results]
    assert simulator.state.executed["addCallback"] == 1
    assert sum(text_of(r).startswith("REPEAT:") for r in results) == 3
    assert len({r.structured_content["callback_id"] for r in results}) == 1


async def test_an_empty_answer_to_a_write_is_an_unknown_outcome(
    client: Client, simulator: SimulatorThread, tmp_path: Path
) -> None:
    args = {"campaign": 1, "customer_id": PRIYA, "callback_time": WHEN}
    simulator.state.faults.commands = {"addCallback"}
    simulator.state.faults.empty_list = 1
    lost = await client.call_tool("ameyo_add_callback", args)
    assert lost.is_error and "outcome unknown" in text_of(lost)
    again = await client.call_tool("ameyo_add_callback", args)
    assert again.is_error and "allow_repeat=true" in text_of(again)
    assert simulator.state.executed["addCallback"] == 1
    events = [(e["event"], e.get("outcome_unknown")) for e in audit_lines(tmp_path)]
    assert events == [("intent", None), ("error", True)]


@pytest.mark.parametrize("ending", ["cancelled", "read timeout"])
async def test_a_write_the_client_gives_up_on_is_settled_as_unknown(
    simulator: SimulatorThread, tmp_path: Path, ending: str
) -> None:
    settings = settings_for(simulator, tmp_path)
    args = {"campaign": 1, "customer_id": PRIYA, "callback_time": WHEN}
    async with Client(server_of(simulator, settings)) as client:
        await client.call_tool("ameyo_login", {})
        simulator.state.faults.commands = {"addCallback"}
        simulator.state.faults.delay_s = 2.0  # executed at once, answered late
        if ending == "cancelled":
            with anyio.move_on_after(0.7):
                await client.call_tool("ameyo_add_callback", args)
                pytest.fail("the call was not cancelled")
        else:
            with pytest.raises(Exception):  # noqa: B017 - the SDK's timeout error type is not the point
                await client.call_tool("ameyo_add_callback", args, read_timeout_seconds=0.7)
        simulator.state.faults.delay_s = 0.0
        again = await client.call_tool("ameyo_add_callback", args)
        assert again.is_error and "unknown outcome" in text_of(again), text_of(again)
        assert simulator.state.executed["addCallback"] == 1
    events = [(e["event"], e.get("outcome_unknown")) for e in audit_lines(tmp_path)]
    assert events == [("intent", None), ("error", True)]


async def test_no_write_is_sent_unaudited(simulator: SimulatorThread, tmp_path: Path) -> None:
    (tmp_path / "trail").write_text("")  # a file where the trail's folder should be
    settings = settings_for(simulator, tmp_path, AMEYO_AUDIT_FILE=str(tmp_path / "trail" / "audit.jsonl"))
    async with Client(server_of(simulator, settings)) as client:
        refused = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "customer_id": PRIYA, "callback_time": WHEN}
        )
    assert refused.is_error and "audit trail" in text_of(refused) and "Nothing was sent" in text_of(refused)
    assert simulator.state.executed["addCallback"] == 0


async def test_a_large_write_needs_the_token_of_a_dry_run_of_the_same_records(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_CONFIRM_OVER="3")
    records = [{"phone1": f"98100000{i:02d}", "name": f"Bulk {i}"} for i in range(5)]
    args = {"campaign": 1, "lead_id": 39, "records": records}
    async with Client(server_of(simulator, settings)) as client:
        alone = await client.call_tool("ameyo_upload_contacts", {**args, "confirm": "true"})
        assert alone.is_error and "dry_run=true" in text_of(alone)
        dry = await client.call_tool("ameyo_upload_contacts", {**args, "dry_run": True})
        token = dry.structured_content["confirm_token"]  # type: ignore[index]
        assert token in text_of(dry)
        other = await client.call_tool(
            "ameyo_upload_contacts",
            {**args, "records": [*records[:4], {"phone1": "9810000099"}], "confirm": token},
        )
        assert other.is_error and "does not match" in text_of(other)
        assert simulator.state.executed["uploadContacts"] == 0
        done = await client.call_tool("ameyo_upload_contacts", {**args, "confirm": token})
        assert not done.is_error and "added 5," in text_of(done), text_of(done)
    result = audit_lines(tmp_path)[-1]
    assert result["event"] == "result" and len(result["customer_ids"]) == 5


async def test_the_persons_question_names_campaign_lead_and_counts(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    from mcp.types import ElicitResult

    asked: list[str] = []

    async def elicit(_context: object, params: object) -> ElicitResult:
        asked.append(str(getattr(params, "message", "")))
        return ElicitResult(action="decline")

    settings = settings_for(simulator, tmp_path, AMEYO_CONFIRM_OVER="1")
    records = [{"phone1": f"98200000{i:02d}"} for i in range(2)] + [{"phone1": "12ab"}]
    async with Client(
        server_of(simulator, settings),
        elicitation_callback=elicit,  # type: ignore[arg-type]
        mode="legacy",
    ) as client:
        declined = await client.call_tool(
            "ameyo_upload_contacts", {"campaign": 1, "lead_id": 39, "records": records}
        )
    assert declined.is_error and "did not confirm" in text_of(declined)
    assert asked and "2 records into lead 39 of MoviStarSurvey (1)" in asked[0] and "1 more" in asked[0]
    assert simulator.state.executed["uploadContacts"] == 0


async def test_the_ledger_forgets_writes_after_its_days(simulator: SimulatorThread, tmp_path: Path) -> None:
    from ameyo_mcp.ameyo.models import CampaignInfo
    from ameyo_mcp.store import Store
    from ameyo_mcp.writes import path as writes
    from ameyo_mcp.writes import plans

    ameyo = ameyo_of(simulator, settings_for(simulator, tmp_path))
    store = Store(str(tmp_path / "ledger.db"))
    now = [1_900_000_000.0]
    path = writes.WritePath(
        ameyo,
        audit=None,
        window_s=600,
        confirm_over=None,
        store=lambda: store,
        ledger_days=1,
        clock=lambda: now[0],
    )
    campaign = CampaignInfo(campaign_name="MoviStarSurvey", campaign_id=1)

    def upload(phone: str) -> plans.Write:
        write = plans.plan_upload(
            ameyo.settings.base_url,
            campaign,
            39,
            [{"phone1": phone}],
            status="NOT_TRIED",
            attempts=0,
            update_existing=False,
            migrate_existing=False,
        )
        return replace(write, lasting=True)  # kept for the whole ledger, as a file's batch is

    try:
        await path.send(upload("9770000001"))
        now[0] += 3600  # within the ledger's day: a repeat
        assert (await path.send(upload("9770000001"))).repeat_of_s == 3600
        now[0] += 2 * 86400  # past it: pruned when the next write is claimed, and sent again
        await path.send(upload("9770000002"))
        assert not store.ledger_entries([upload("9770000001").identity])
        assert (await path.send(upload("9770000001"))).repeat_of_s is None
    finally:
        await ameyo.aclose()
        store.close()
    assert simulator.state.executed["uploadContacts"] == 3


def _one_callback(ameyo: Any, when: str = "2031-05-02 11:00:00") -> Any:
    from ameyo_mcp.ameyo.models import CampaignInfo
    from ameyo_mcp.writes import plans

    campaign = CampaignInfo(campaign_name="MoviStarSurvey", campaign_id=1)
    return plans.plan_callback(
        ameyo.settings.base_url,
        campaign,
        customer_id=PRIYA,
        number=PRIYA_PHONE,
        when_wire=when,
        agent=None,
        self_callback=False,
        region=ameyo.settings.phone_region,
    )


async def test_a_write_claimed_long_before_it_could_be_sent_is_not_sent(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """A process paused between its claim and its request (past half its lease) sends nothing: by
    then others may have been told the write's outcome is unknown, and be sending it themselves."""
    from ameyo_mcp.errors import WriteError
    from ameyo_mcp.store import Store
    from ameyo_mcp.writes import path as writes

    ameyo = ameyo_of(simulator, settings_for(simulator, tmp_path))
    store = Store(str(tmp_path / "ledger.db"))
    times = iter([1_900_000_000.0])  # the claim's time; every later look is 40 s on
    path = writes.WritePath(
        ameyo,
        audit=None,
        window_s=600,
        confirm_over=None,
        store=lambda: store,
        lease_s=60,
        clock=lambda: next(times, 1_900_000_040.0),
    )
    try:
        with pytest.raises(WriteError, match="waited too long between being claimed and being sent"):
            await path.send(_one_callback(ameyo))
        assert store.ledger_entries([_one_callback(ameyo).identity]) == []  # released: never sent
        assert (await path.send(_one_callback(ameyo))).repeat_of_s is None
    finally:
        await ameyo.aclose()
        store.close()
    assert simulator.state.executed["addCallback"] == 1


async def test_a_settlement_the_store_refused_is_given_again_before_the_next_claim(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    from ameyo_mcp.store import Store
    from ameyo_mcp.writes import path as writes

    class FullOnce(Store):
        """A store whose disk is full for one settlement (a real SQLite file otherwise)."""

        full = True

        def settle_write(self, *args: Any, **kwargs: Any) -> None:
            if self.full:
                self.full = False
                raise OSError(28, "No space left on device")
            super().settle_write(*args, **kwargs)

    ameyo = ameyo_of(simulator, settings_for(simulator, tmp_path))
    store = FullOnce(str(tmp_path / "ledger.db"))
    path = writes.WritePath(ameyo, audit=None, window_s=600, confirm_over=None, store=lambda: store)
    try:
        first = await path.send(_one_callback(ameyo))
        with anyio.fail_after(5):  # not a wait for the lease: its own answer is given again
            again = await path.send(_one_callback(ameyo))
    finally:
        await ameyo.aclose()
        store.close()
    assert again.repeat_of_s is not None and again.call_id == first.call_id
    assert simulator.state.executed["addCallback"] == 1


async def test_a_file_upload_sends_no_batch_unaudited(simulator: SimulatorThread, tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "list.csv").write_text("phone1,name\n9812300101,Asha\n9812300102,Ravi\n", encoding="utf-8")
    (tmp_path / "trail").write_text("")  # a file where the trail's folder should be
    settings = settings_for(
        simulator,
        tmp_path,
        AMEYO_UPLOAD_DIRS=str(folder),
        AMEYO_AUDIT_FILE=str(tmp_path / "trail" / "audit.jsonl"),
    )
    async with Client(server_of(simulator, settings)) as client:
        done = await client.call_tool(
            "ameyo_upload_contacts_file", {"file": "list.csv", "campaign": 1, "lead_id": 21, "dry_run": False}
        )
    text = text_of(done)
    assert "audit trail" in text and "Nothing was sent" in text, text
    assert simulator.state.executed["uploadContacts"] == 0


async def test_the_same_rows_in_two_files_are_sent_once(simulator: SimulatorThread, tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    rows = "phone1,name\n9812300201,Asha\n9812300202,Ravi\n"
    (folder / "monday.csv").write_text(rows, encoding="utf-8")
    (folder / "monday-copy.csv").write_text(rows, encoding="utf-8")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    base = {"campaign": 1, "lead_id": 21, "dry_run": False}
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool("ameyo_upload_contacts_file", {**base, "file": "monday.csv"})
        second = await client.call_tool("ameyo_upload_contacts_file", {**base, "file": "monday-copy.csv"})
    assert "added 2," in text_of(first), text_of(first)
    assert "these same rows went to this lead by the upload of monday.csv" in text_of(second), text_of(second)
    assert simulator.state.executed["uploadContacts"] == 1


async def test_two_write_paths_of_one_process_wait_for_each_others_writes(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """A write path took another of its own process for a dead sender (it knew only its own name),
    and told the person a write still being answered was of unknown outcome. Several share a
    process where a server and a tool of its own run side by side, and in tests."""
    from ameyo_mcp.store import Store
    from ameyo_mcp.writes import path as writes

    ameyo = ameyo_of(simulator, settings_for(simulator, tmp_path))
    store = Store(str(tmp_path / "ledger.db"))
    one, two = (
        writes.WritePath(ameyo, audit=None, window_s=600, confirm_over=None, store=lambda: store)
        for _ in range(2)
    )
    answers: list[Any] = []
    simulator.state.faults.delay_s = 1.5  # executed at once, answered late
    try:
        async with anyio.create_task_group() as tg:

            async def first() -> None:
                answers.append(await one.send(_one_callback(ameyo)))

            tg.start_soon(first)
            await anyio.sleep(0.5)  # claimed and in flight
            answers.append(await two.send(_one_callback(ameyo)))
    finally:
        simulator.state.faults.delay_s = 0.0
        await ameyo.aclose()
        store.close()
    assert len(answers) == 2 and answers[1].repeat_of_s is not None, answers
    assert answers[0].call_id == answers[1].call_id
    assert simulator.state.executed["addCallback"] == 1
