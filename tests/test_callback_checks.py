"""What a person expects of a callback before anything is sent, through a real MCP client."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import text_of

pytestmark = pytest.mark.anyio

PRIYA = 12001  # Priya Sharma, lead 1
DNC_CUSTOMER = 12005  # Karthik Joshi: last disposition DNC


async def call(client: Client, **args: object) -> tuple[bool, str]:
    result = await client.call_tool("ameyo_add_callback", {"campaign": 1, **args})
    return result.is_error, text_of(result)


async def test_a_date_without_a_time_of_day_is_refused(client: Client, simulator: SimulatorThread) -> None:
    error, text = await call(client, customer_id=PRIYA, callback_time="2031-11-29")
    assert error and "no time of day" in text and "2031-11-29T10:00:00" in text
    assert simulator.state.executed["addCallback"] == 0


async def test_outside_calling_hours_needs_the_persons_yes(
    client: Client, simulator: SimulatorThread
) -> None:
    error, text = await call(client, customer_id=PRIYA, callback_time="2031-05-01T02:00:00")
    assert error and "outside calling hours" in text and "outside_calling_hours=true" in text
    assert simulator.state.executed["addCallback"] == 0
    error, text = await call(
        client, customer_id=PRIYA, callback_time="2031-05-01T02:00:00", outside_calling_hours=True
    )
    assert not error and "outside calling hours" in text
    assert simulator.state.executed["addCallback"] == 1


async def test_a_do_not_call_customer_needs_the_persons_yes(
    client: Client, simulator: SimulatorThread
) -> None:
    error, text = await call(client, customer_id=DNC_CUSTOMER, callback_time="2031-05-01T11:00:00")
    assert error and "DNC" in text and "despite_do_not_call=true" in text
    assert simulator.state.executed["addCallback"] == 0
    error, text = await call(
        client, customer_id=DNC_CUSTOMER, callback_time="2031-05-01T11:00:00", despite_do_not_call=True
    )
    assert not error and "DNC" in text


async def test_a_self_callback_needs_its_agent_before_anything_is_sent(
    client: Client, simulator: SimulatorThread
) -> None:
    error, text = await call(
        client, customer_id=PRIYA, callback_time="2031-05-01T11:00:00", self_callback=True
    )
    assert error and "give agent" in text
    assert simulator.state.executed["addCallback"] == 0
    error, text = await call(
        client, customer_id=PRIYA, callback_time="2031-05-01T11:00:00", self_callback=True, agent="agent2"
    )
    assert not error and "agent2 only (self callback)" in text and "Priya Sharma" in text


async def test_a_disabled_lead_is_noted(client: Client, simulator: SimulatorThread) -> None:
    customer = next(c for c in simulator.state.contacts(1) if c.lead_id == 35)
    error, text = await call(client, customer_id=customer.customer_id, callback_time="2031-05-01T11:00:00")
    assert not error and "lead 35 is disabled" in text


async def test_a_self_callback_without_its_agent_is_refused_by_the_upload_too(
    client: Client, simulator: SimulatorThread
) -> None:
    """The upload with callbacks saved the customer and scheduled nothing ("A self callback needs a
    userId"), after a dry run that accepted the record."""
    record = {"customer": {"phone1": "9876500601", "name": "Ana"}, "callback_time": "2031-05-01T11:00:00"}
    args = {"campaign": 1, "lead_id": 21, "records": [record | {"self_callback": True}]}
    for dry_run in (True, False):
        answer = await client.call_tool("ameyo_upload_contacts_with_callbacks", args | {"dry_run": dry_run})
        text = text_of(answer)
        assert "A self callback is reserved for one agent: give agent" in text and "record 1: " in text, text
    assert simulator.state.executed["uploadContactAndAddCallback"] == 0


async def test_namesakes_a_number_matches_are_told_apart_by_number_and_lead(
    client: Client, simulator: SimulatorThread
) -> None:
    """Two Priya Nairs whose numbers end in 0777: the refusal listed "customer 12527: Priya Nair"
    twice, and the person had nothing to choose by."""
    for lead, number in ((21, "9870010777"), (35, "9870020777")):
        added = await client.call_tool(
            "ameyo_upload_contacts",
            {"campaign": 1, "lead_id": lead, "records": [{"phone1": number, "name": "Priya Nair"}]},
        )
        assert not added.is_error, text_of(added)
    error, text = await call(client, phone="0777", callback_time="2031-05-01T11:00:00")
    assert error and "Several customers have a number matching 0777" in text, text
    assert "Priya Nair, 9870010777, lead 21" in text and "Priya Nair, 9870020777, lead 35" in text, text
    assert simulator.state.executed["addCallback"] == 0


async def test_a_foreign_customers_number_is_theirs_in_any_spelling(
    client: Client, simulator: SimulatorThread
) -> None:
    """Ameyo holds Spain's +34 697 91 20 72 as `34697912072`, which the Indian rule reads as one
    long national number: a callback to such a customer on `+34 697…` was refused as "not one of
    their numbers", and the spelling Ameyo holds is the one dialled."""
    spanish = next(
        c
        for c in simulator.state.contacts(1)
        if c.phone1.startswith("346") and len(c.phone1) == 11 and c.customer_data.get("phone2") in (None, "")
    )  # a Spanish mobile, a valid number
    national = spanish.phone1[2:]
    for given in (f"+34 {national[:3]} {national[3:6]} {national[6:]}", f"0034{national}"):
        error, text = await call(
            client, customer_id=spanish.customer_id, phone=given, callback_time="2031-05-01T11:00:00"
        )
        assert not error, (given, text)
        assert simulator.state.executed["addCallback"] == 1, text
    sent = [cb for cb in simulator.state.callbacks(1) if cb.customer_id == spanish.customer_id]
    assert sent and sent[-1].phone == spanish.phone1, sent


async def test_a_customers_callbacks_still_to_come_are_shown_with_them(
    client: Client, simulator: SimulatorThread
) -> None:
    """Ameyo's API cannot list callbacks: "what callbacks does Priya have?" had no answer but to
    schedule another, whose note named the others."""
    before = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [PRIYA]})
    assert "Callbacks this server asked Ameyo for" not in text_of(before), text_of(before)
    for at in ("2031-05-01T15:00:00", "2031-05-01T16:00:00"):
        error, text = await call(client, customer_id=PRIYA, callback_time=at)
        assert not error, text
    found = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": [PRIYA]})
    text = text_of(found)
    assert (
        "(for them or anyone who shares a number), still to come: 2 callbacks scheduled at "
        "2031-05-01 15:00 Asia/Kolkata, 2031-05-01 16:00 Asia/Kolkata."
    ) in text, text
    # The same beside the text, for a program: the times, in the Ameyo server's zone, named as
    # every other time in the answer (they were bare: "2031-05-01 15:00:00").
    assert found.structured_content is not None
    assert found.structured_content["callbacks_scheduled"] == [
        "2031-05-01 15:00 Asia/Kolkata",
        "2031-05-01 16:00 Asia/Kolkata",
    ]
    assert found.structured_content.get("callbacks_maybe_scheduled") is None
    assert before.structured_content is not None and "callbacks_scheduled" not in before.structured_content
    by_phone = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": "+91 73080 59204"})
    assert "2031-05-01 16:00 Asia/Kolkata." in text_of(by_phone), text_of(by_phone)


async def test_an_upload_sets_aside_a_record_whose_callback_is_scheduled_and_sends_the_rest(
    client: Client, simulator: SimulatorThread
) -> None:
    """The dry run said "would send 3", and the real run was refused whole ("Nothing was sent:
    another write scheduled a callback…") for one record, naming none, and sent the others neither."""
    error, text = await call(client, customer_id=PRIYA, callback_time="2031-05-01T15:00:00")
    assert not error, text
    records = [
        {"customer": {"phone1": "917308059204"}, "callback_time": "2031-05-01T15:00:00"},
        {"customer": {"phone1": "9876500801", "name": "New One"}, "callback_time": "2031-05-01T15:00:00"},
        {"customer": {"phone1": "9876500802", "name": "New Two"}, "callback_time": "2031-05-01T16:00:00"},
    ]
    upload = {"campaign": 1, "lead_id": 21, "records": records}
    dry = await client.call_tool("ameyo_upload_contacts_with_callbacks", upload | {"dry_run": True})
    sent = await client.call_tool("ameyo_upload_contacts_with_callbacks", upload)
    for answer in (dry, sent):
        text = text_of(answer)
        assert not answer.is_error, text
        assert "record 1: 917308059204: not sent: another write scheduled a callback to" in text, text
        assert "pass allow_repeat=true only if a second callback is meant" in text
    assert "would send 2 records (with 2 callbacks to schedule)" in text_of(dry), text_of(dry)
    assert "Sent 2 records" in text_of(sent) and "Callbacks scheduled: 2" in text_of(sent), text_of(sent)
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1


@pytest.mark.parametrize(
    ("held", "given"),
    [("447911123456", "+44 7911 123456"), ("19175551234", "+1 917 555 1234")],
    ids=["uk", "us"],
)
async def test_a_british_or_american_customers_number_is_theirs_with_its_plus(
    client: Client, simulator: SimulatorThread, held: str, given: str
) -> None:
    """Their national digits (7911123456, 9175551234) are Indian mobiles too, which the reading of a
    run together for search keys sets aside: the callback was refused as not their number."""
    up = await client.call_tool(
        "ameyo_upload_contacts",
        {"campaign": 1, "lead_id": 1, "records": [{"phone1": held, "name": "Oliver"}]},
    )
    assert up.structured_content is not None, text_of(up)
    [customer] = up.structured_content["added_customer_ids"]
    error, text = await call(client, customer_id=customer, phone=given, callback_time="2031-05-01T11:00:00")
    assert not error, text
    sent = [cb for cb in simulator.state.callbacks(1) if cb.customer_id == customer]
    assert sent and sent[-1].phone == held, sent
    record = {"customer": {"phone1": held}, "callback_time": "2031-05-02T11:00:00", "callback_phone": given}
    checked = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks",
        {"campaign": 1, "lead_id": 21, "records": [record], "dry_run": True},
    )
    assert "would send 1 record" in text_of(checked), text_of(checked)


UP = "ameyo_upload_contacts_with_callbacks"
LATER = "2031-05-01T15:30:00"
RECORDS = [
    {"customer": {"phone1": "917308059204"}, "callback_time": LATER},
    {"customer": {"phone1": "9876500811", "name": "New One"}, "callback_time": LATER},
]


async def test_the_same_call_again_after_a_set_aside_is_a_repeat_not_a_refusal(
    client: Client, simulator: SimulatorThread
) -> None:
    """Record 1's callback is held by an earlier ameyo_add_callback, so record 2 alone is sent.
    The very same call again (a client retrying a lost answer) must be answered as a REPEAT with
    record 2's callback id, as an upload with nothing set aside is: every record was 'refused',
    record 2 because 'another write scheduled' it, that other write being this call's."""
    done = await client.call_tool(
        "ameyo_add_callback", {"campaign": 1, "customer_id": PRIYA, "callback_time": LATER}
    )
    assert not done.is_error, text_of(done)
    upload = {"campaign": 1, "lead_id": 21, "records": RECORDS}
    first = await client.call_tool(UP, upload)
    assert not first.is_error and first.structured_content is not None, text_of(first)
    callback_id = first.structured_content["records"][1]["callback_id"]
    again = await client.call_tool(UP, upload)
    text = text_of(again)
    assert not again.is_error, text
    assert "REPEAT" in text and callback_id in text, text
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1


async def test_two_records_of_one_callback_in_one_call_are_not_both_scheduled(
    client: Client, simulator: SimulatorThread
) -> None:
    """Two records whose callbacks are one callback (same number dialled, same time, any agent):
    the second is what a separate call would refuse ('another write scheduled a callback to the
    customer on 9876500902 at …'), and within one call both were scheduled, the number rung twice
    at one time, without allow_repeat."""
    records = [
        {
            "customer": {"phone1": "9876500901", "phone2": "9876500902", "name": "A"},
            "callback_time": LATER,
            "callback_phone": "9876500902",
        },
        {"customer": {"phone1": "9876500902", "name": "B"}, "callback_time": LATER},
    ]
    sent = await client.call_tool(UP, {"campaign": 1, "lead_id": 21, "records": records})
    assert not sent.is_error and sent.structured_content is not None, text_of(sent)
    assert sent.structured_content["callbacks"] == 1, text_of(sent)
    on_902 = [cb for cb in simulator.state.callbacks(1) if cb.phone.endswith("9876500902")]
    assert len(on_902) == 1, on_902


async def test_a_callback_being_scheduled_meanwhile_sets_its_record_aside_and_the_rest_go(
    client: Client, simulator: SimulatorThread
) -> None:
    """While an ameyo_add_callback of record 1's callback was on its way to Ameyo, the upload was
    refused whole ('Nothing was sent: another write scheduled …'), naming no record, and record 2,
    whose callback nobody held, was not sent."""
    simulator.state.faults.commands = {"addCallback"}
    simulator.state.faults.delay_s = 1.5
    answers: dict[str, Any] = {}

    async def schedule() -> None:
        answers["callback"] = await call(client, customer_id=PRIYA, callback_time=LATER)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(schedule)
            await anyio.sleep(0.6)
            answers["upload"] = await client.call_tool(UP, {"campaign": 1, "lead_id": 21, "records": RECORDS})
    finally:
        simulator.state.faults.reset()
    assert not answers["callback"][0], answers["callback"]
    text = text_of(answers["upload"])
    assert not answers["upload"].is_error and "record 1: 917308059204: not sent" in text, text
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1
