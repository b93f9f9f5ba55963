"""Every tool through a real MCP client session against the simulator (in memory)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import server_of, settings_for, text_of

pytestmark = pytest.mark.anyio

TOOLS = {
    "ameyo_login",
    "ameyo_ping_session",
    "ameyo_logout",
    "ameyo_list_campaigns",
    "ameyo_get_leads",
    "ameyo_get_contacts",
    "ameyo_call_history",
    "ameyo_upload_contacts",
    "ameyo_upload_contacts_with_callbacks",
    "ameyo_add_callback",
    "ameyo_upload_contacts_file",
}
WRITES = {
    "ameyo_upload_contacts",
    "ameyo_upload_contacts_with_callbacks",
    "ameyo_add_callback",
    "ameyo_upload_contacts_file",
}


async def test_tools_listed_with_true_annotations_and_small_schemas(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) >= TOOLS
    for name, tool in tools.items():
        assert tool.annotations is not None and tool.output_schema is not None
        hints = tool.annotations
        assert bool(hints.read_only_hint) is (name not in WRITES | {"ameyo_login", "ameyo_logout"})
        # Stated where a client could read a missing one otherwise (its default is true): whether
        # a tool that writes is destructive, and whether a tool reaches beyond this server.
        assert hints.read_only_hint or hints.destructive_hint is not None, name
        assert hints.open_world_hint is not None, name
        for prop in tool.input_schema.get("properties", {}).values():
            assert prop.get("description"), f"{name} has an argument without a description"
    # The records of the upload with callbacks are described field by field too (self_callback was
    # bare, where ameyo_add_callback's says what it does), in place: no $ref for a client to follow.
    schema = tools["ameyo_upload_contacts_with_callbacks"].input_schema
    assert "$defs" not in schema
    # A list of types ({"type": ["string", "integer"]}) is valid JSON Schema, but Gemini's function
    # declarations and some IDE clients refuse the whole tool list for one: alternatives stay anyOf.
    assert all('"type": [' not in json.dumps(t.input_schema) for t in tools.values())
    # A flag left out is off: only a flag that is on unless told otherwise shows its default.
    assert all('"default": false' not in json.dumps(t.input_schema) for t in tools.values())
    assert tools["ameyo_upload_contacts_file"].input_schema["properties"]["dry_run"]["default"] is True
    nested = schema["properties"]["records"]["items"]
    assert [n for n, prop in nested["properties"].items() if not prop.get("description")] == []
    assert tools["ameyo_upload_contacts"].annotations.destructive_hint  # type: ignore[union-attr]
    # Logging out ends the session every process on the store shares: not an additive update.
    assert tools["ameyo_logout"].annotations.destructive_hint  # type: ignore[union-attr]
    assert not tools["ameyo_add_callback"].annotations.idempotent_hint  # type: ignore[union-attr]
    # What reaches a model's context: names, descriptions, input schemas and hints (clients hand the
    # model no output schema, and show icons to people only). The output schemas are for programs,
    # and are capped too; the icons, a small SVG each, apart.
    dumped = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools.values()]
    icons = [d.pop("icons", []) for d in dumped]
    assert all(0 < len(json.dumps(i)) < 600 for i in icons), "each tool has a small icon"
    for_model = sum(len(json.dumps({k: v for k, v in d.items() if k != "outputSchema"})) for d in dumped)
    # Every conversation is sent these: under 12,000, each tool saying once what a model needs to
    # choose it and fill its arguments, the refusals saying the rest. A new tool or flag makes room.
    assert for_model < 12_000, f"tool definitions grew to {for_model} characters"
    # Output schemas grew with upload counts that add up, confirmation tokens and repeat flags.
    # ameyo_call_history's: 2,350 in all; where a lookup looked and what it could not rule out: 150;
    # customers' names beside their ids in the call history, the number a phone search matched and
    # the weekday of the server's time: 140; the chart's argument and counts by hour: 190; where
    # the call history starts (an empty answer is measured against it): 80; whether a ping logged in: 50;
    # and the model's part above grows the whole (despite_do_not_call of the upload: 120); the
    # record uploads' outcome_unknown, counted apart from failed (a client resends what failed): 70;
    # a listing's page contacts the index held as matching and Ameyo no longer does: 80; a
    # callback's other callbacks to the customer still to come, which stay beside it: 60; the
    # callback a call's outcome asked for, in the call history: 50; the callbacks to the customer
    # this server asked for whose answer never came: 50; the record uploads' customers moved into
    # the lead, apart from those updated: 170; whether a call was inbound: 30; whom an upload's
    # callbacks go to (agent, self callback), as ameyo_add_callback's answer has it: 180; one
    # customer's callbacks still to come and last pushed call beside ameyo_get_contacts's text
    # (the call in the call history's shape): 800; the first callbacks a file's dry run would
    # schedule, with their zone, as the record uploads' dry runs list them: 150; the record
    # uploads' would_send beside a dry run's sent (0), and what sent, would_send, refused and
    # dry_run mean: 450; the model's part above, the file tool's despite_do_not_call: 130; the
    # callbacks agents set on one customer's pushed calls, beside ameyo_get_contacts's and
    # ameyo_add_callback's text, described (they may since be dialled or removed): 400; the model's
    # part above, the records upload's despite_do_not_call: 110, a callback record's self_callback 50.
    assert sum(len(json.dumps(d)) for d in dumped) < 26_860


async def test_login_ping_campaigns_leads_logout(client: Client, simulator: SimulatorThread) -> None:
    login = await client.call_tool("ameyo_login", {})
    text = text_of(login)
    assert "MoviStarSurvey (1" in text and "20 characters" in text
    assert not any(
        s in text or s in json.dumps(login.structured_content) for s in simulator.state.live_sessions()
    )
    ping = await client.call_tool("ameyo_ping_session", {})
    assert "The Ameyo session is alive" in text_of(ping) and "Asia/Kolkata" in text_of(ping)
    assert ping.structured_content is not None and not ping.structured_content["new_session"]
    campaigns = await client.call_tool("ameyo_list_campaigns", {})
    assert [c["name"] for c in campaigns.structured_content["campaigns"]] == [  # type: ignore[index]
        "MoviStarSurvey",
        "MOSL_Frenchise",
        "TestInbound",
    ]
    leads = await client.call_tool("ameyo_get_leads", {"campaign": "moviStarsurvey"})
    assert "lead 35: DISABLED" in text_of(leads)
    logout = await client.call_tool("ameyo_logout", {})
    assert "seat is free" in text_of(logout)
    assert simulator.state.logins == 1 and simulator.state.live_sessions() == []
    # A ping after a logout takes a seat again: it says so, not "alive" as if nothing happened.
    again = await client.call_tool("ameyo_ping_session", {})
    assert again.structured_content is not None and again.structured_content["new_session"], text_of(again)
    assert "There was no live Ameyo session, so this ping logged in" in text_of(again)
    assert "released after 30 minutes without use" in text_of(again), text_of(again)  # not a setting's name
    assert simulator.state.logins == 2 and len(simulator.state.live_sessions()) == 1


async def test_get_contacts_by_status_and_by_phone(client: Client) -> None:
    busy = await client.call_tool("ameyo_get_contacts", {"campaign": "MoviStarSurvey", "status": ["busy"]})
    out = busy.structured_content
    assert out is not None and out["matched"] > 0
    assert set(out["by_status"]) == {"BUSY"}
    assert all(c["status"] == "BUSY" for c in out["contacts"])
    assert "<customer-data>" in text_of(busy)
    one = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": "8681166572"})
    assert one.structured_content is not None and one.structured_content["matched"] == 1
    line = text_of(one)
    assert "#12458" in line and "lead 1" in line and "BUSY, 5 attempts" in line
    # A whole number is not shown as if it were its last digits.
    assert "matches phone 8681166572 (any spelling)" in line, line
    spelt = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": "+91 86811 66572"})
    assert "matches phone +91 86811 66572 (any spelling)" in text_of(spelt), text_of(spelt)
    tail = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": "6572"})
    assert "phone ending …6572" in text_of(tail), text_of(tail)


@pytest.mark.parametrize("sim_config", [SimulatorConfig(contacts=100)])
async def test_hundred_contacts_answer_is_concise_and_pages(client: Client) -> None:
    result = await client.call_tool("ameyo_get_contacts", {"campaign": 1})
    text = text_of(result)
    out = result.structured_content
    assert out is not None and out["matched"] >= 100
    assert len(text) < 2_500, len(text)
    assert f"{out['matched'] - 20} more: call again with offset=20" in text
    page2 = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "offset": 20, "limit": 5})
    ids1 = [c["customer_id"] for c in out["contacts"]]
    ids2 = [c["customer_id"] for c in page2.structured_content["contacts"]]  # type: ignore[index]
    assert len(ids2) == 5 and not set(ids1) & set(ids2)
    detail = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "limit": 100, "detail": True})
    assert len(text_of(detail)) <= 20_000
    assert len(json.dumps(detail.structured_content)) <= 40_000
    # A page of 100 is a table, with every contact.
    page = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "limit": 100})
    table = text_of(page)
    assert page.structured_content is not None and len(page.structured_content["contacts"]) == 100
    assert "grouped by status; columns: id|name|phone|lead|attempts|disposition (letter)|last dialed" in table
    assert len(table) < 6_000, len(table)
    for contact in page.structured_content["contacts"]:
        assert f"\n{contact['customer_id']}|{contact.get('name') or '(no name)'}|" in table


async def test_errors_say_what_to_do_next(client: Client) -> None:
    wrong_lead = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "lead_ids": [2]})
    assert wrong_lead.is_error
    assert "Lead 2 is not in campaign MoviStarSurvey (1); its leads are 1, 21, 35, 39" in text_of(wrong_lead)
    unknown = await client.call_tool("ameyo_get_leads", {"campaign": "Nope"})
    assert (
        unknown.is_error
        and "MoviStarSurvey (1)" in text_of(unknown)
        and "did you mean" not in text_of(unknown)
    )
    typo = await client.call_tool("ameyo_get_leads", {"campaign": "moviestarsurvey"})
    assert "Unknown campaign 'moviestarsurvey' (did you mean MoviStarSurvey?)" in text_of(typo)
    assert "Unknown campaign" not in text_of(
        await client.call_tool("ameyo_get_leads", {"campaign": "movistarsurvey"})
    )
    past = await client.call_tool(
        "ameyo_add_callback", {"campaign": 1, "customer_id": 12458, "callback_time": "2020-01-01T10:00:00"}
    )
    assert past.is_error and "in the past" in text_of(past)
    column = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "columns": ["shoe_size"]})
    assert column.is_error and "last_status_1" in text_of(column)


async def test_upload_reports_each_record(client: Client, simulator: SimulatorThread) -> None:
    records = [
        {"phone1": "9876512345", "name": "Asha"},
        {"name": "No Phone"},
        {"phone1": "1" * 25, "name": "Too Long"},
        {"phone1": "0458681166572", "name": "Existing"},
    ]
    dry = await client.call_tool(
        "ameyo_upload_contacts", {"campaign": 1, "lead_id": 1, "records": records, "dry_run": True}
    )
    assert "would send 2 records to MoviStarSurvey (1), lead 1; 2 would be refused before sending" in text_of(
        dry
    )
    assert simulator.state.executed["uploadContacts"] == 0
    result = await client.call_tool(
        "ameyo_upload_contacts", {"campaign": 1, "lead_id": 1, "records": records}
    )
    text = text_of(result)
    assert "Sent 2 records to MoviStarSurvey (1), lead 1; 2 refused before sending" in text
    assert "added 1, updated 0, duplicates left unchanged 1, failed 0" in text
    assert "record 2: phone1 is missing" in text
    assert "record 3: phone1 has 25 digits, more than the 20 Ameyo allows" in text
    # Which customer, where, and the way on: update them. They are in lead 1 already: no move offered.
    assert (
        "record 4: 0458681166572: customer 12458 already in lead 1, left as it was "
        "(update_existing=true updates their fields)"
    ) in text, text
    assert "migrate_existing" not in text, text
    out = result.structured_content
    assert out is not None and len(out["added_customer_ids"]) == 1
    assert [r["position"] for r in out["records"]] == [2, 3, 4]
    assert simulator.state.executed["uploadContacts"] == 1


async def test_callbacks(client: Client, simulator: SimulatorThread) -> None:
    added = await client.call_tool(
        "ameyo_add_callback",
        {
            "campaign": "MoviStarSurvey",
            "phone": "0458681166572",
            "callback_time": "2030-03-01T15:00:00",
            "agent": "agent1",
        },
    )
    text = text_of(added)
    assert not added.is_error, text
    assert "2030-03-01 15:00 Asia/Kolkata" in text and "agent1" in text and "customer 12458" in text
    assert added.structured_content is not None and added.structured_content["callback_id"]
    # An offset is honoured: 09:30 UTC is 15:00 in Kolkata.
    utc = await client.call_tool(
        "ameyo_add_callback", {"campaign": 1, "customer_id": 12458, "callback_time": "2030-03-02T09:30:00Z"}
    )
    assert "2030-03-02 15:00 Asia/Kolkata" in text_of(utc)
    # Words are the model's to turn into a time: the refusal gives today's date on the server's
    # clock and tomorrow at 3 pm spelled as the tool takes it.
    words = await client.call_tool(
        "ameyo_add_callback", {"campaign": 1, "customer_id": 12458, "callback_time": "tomorrow 3pm"}
    )
    today = datetime.now(ZoneInfo("Asia/Kolkata"))
    tomorrow = f"{today + timedelta(days=1):%Y-%m-%d}T15:00:00"
    assert words.is_error and f"It is now {today:%Y-%m-%d}" in text_of(words), text_of(words)
    assert f"tomorrow at 3 pm is {tomorrow} (read in Asia/Kolkata)" in text_of(words)
    # A date the calendar lacks is not words to turn into a time: the refusal says what is wrong.
    for time, wrong in (("2030-02-30T15:00:00", "day is out of range"), ("2030-03-02T24:30", "hour")):
        missing = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "customer_id": 12458, "callback_time": time}
        )
        said = text_of(missing)
        assert missing.is_error and "not a real date and time" in said and wrong in said, said
        assert "tomorrow at 3 pm" not in said, said
    both = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks",
        {
            "campaign": 1,
            "lead_id": 21,
            "records": [
                {
                    "customer": {"phone1": "9000011111", "name": "Priya Nair"},
                    "callback_time": "2030-03-03T10:00:00",
                },
                {"customer": {"name": "nobody"}, "callback_time": "2030-03-03T10:00:00"},
                {"customer": {"phone1": "9000022222"}, "callback_time": "yesterday"},
            ],
        },
    )
    text = text_of(both)
    assert "added 1," in text and "record 2: phone1 is missing" in text
    assert "Sent 1 record to" in text and "Callbacks scheduled: 1" in text
    assert "record 3: 9000022222: callback_time is not an ISO 8601 time" in text
    assert "record 1: d" in text and "2030-03-03 10:00 Asia/Kolkata" in text
    assert simulator.state.executed["addCallback"] == 2
    # A dry run shows the time each callback would be scheduled at, as the server reads it: the
    # step where the person confirms "3 pm, in which zone".
    dry = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks",
        {
            "campaign": 1,
            "lead_id": 21,
            "dry_run": True,
            "records": [{"customer": {"phone1": "9000033333"}, "callback_time": "2030-03-04T05:30:00Z"}],
        },
    )
    assert "would send 1 record (with 1 callback to schedule)" in text_of(dry), text_of(dry)
    assert "record 1: 9000033333 at 2030-03-04 11:00 Asia/Kolkata" in text_of(dry)
    assert dry.structured_content is not None and dry.structured_content["callbacks"] == 0
    [planned] = dry.structured_content["records"]
    assert planned["result"] == "WOULD_SEND" and planned["callback_time"] == "2030-03-04 11:00 Asia/Kolkata"
    assert simulator.state.executed["addCallback"] == 2


async def test_prompts_and_resources(client: Client) -> None:
    prompts = {p.name: p for p in (await client.list_prompts()).prompts}
    assert {"ameyo_look_up_customer", "ameyo_schedule_callback", "ameyo_campaign_follow_up"} <= set(prompts)
    rendered = await client.get_prompt(
        "ameyo_schedule_callback", {"request": "call Priya back tomorrow at 3 pm"}
    )
    body = rendered.messages[0].content.text  # type: ignore[union-attr]
    assert "call Priya back tomorrow at 3 pm" in body and "ameyo_add_callback" in body
    clock = rendered.messages[-1].content.text  # type: ignore[union-attr]
    assert "the Ameyo server's zone and the person's" in clock and "Asia/Kolkata" in clock, clock
    # "tomorrow" is the person's: their date and offset, not the server's.
    asked = {"request": "call Priya back tomorrow at 3 pm", "timezone": "Europe/London"}
    london = await client.get_prompt("ameyo_schedule_callback", asked)
    clock = london.messages[-1].content.text  # type: ignore[union-attr]
    here = datetime.now(ZoneInfo("Europe/London"))
    tomorrow = (here + timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)
    assert f"in Europe/London (UTC{here.isoformat()[-6:]})" in clock, clock
    assert f"(not the request), tomorrow at 3 pm for the person is {tomorrow.isoformat()}." in clock
    with pytest.raises(MCPError, match="'Mars/Base' is not an IANA zone name"):
        await client.get_prompt("ameyo_schedule_callback", {"request": "call", "timezone": "Mars/Base"})
    campaigns = await client.read_resource("ameyo://campaigns")
    assert "MoviStarSurvey" in campaigns.contents[0].text  # type: ignore[union-attr]
    leads = await client.read_resource("ameyo://campaigns/MoviStarSurvey/leads")
    assert json.loads(leads.contents[0].text)["campaign"]["id"] == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("sim_config", [SimulatorConfig(masked_campaigns={1})])
async def test_phone_masking_preference_is_respected(client: Client) -> None:
    result = await client.call_tool(
        "ameyo_get_contacts", {"campaign": 1, "phone": "8681166572", "detail": True}
    )
    text = text_of(result)
    assert "0458681166572" not in text and "0458681166572" not in json.dumps(result.structured_content)
    assert "xxxxxxxxxx" in text


async def test_read_only_mode_changes_nothing(simulator: SimulatorThread, tmp_path: Path) -> None:
    before = (simulator.state.contacts(), simulator.state.callbacks())
    settings = settings_for(simulator, tmp_path, AMEYO_READ_ONLY="true")
    record = {"phone1": "9555500000", "name": "Should Not Exist"}
    calls = [
        ("ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": [record]}),
        ("ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": [record], "confirm": True}),
        (
            "ameyo_upload_contacts_with_callbacks",
            {
                "campaign": 1,
                "lead_id": 21,
                "records": [{"customer": record, "callback_time": "2031-01-01T10:00"}],
            },
        ),
        ("ameyo_add_callback", {"campaign": 1, "customer_id": 12458, "callback_time": "2031-01-01T10:00:00"}),
        (
            "ameyo_upload_contacts_file",
            {"campaign": 1, "lead_id": 21, "path": "/tmp/x.csv", "dry_run": False},
        ),
        ("ameyo_get_contacts", {"campaign": 1, "status": ["BUSY"]}),
        ("ameyo_get_leads", {"campaign": 1}),
        ("ameyo_login", {"new_session": True}),
        ("ameyo_ping_session", {}),
        ("ameyo_logout", {}),
    ]
    async with Client(server_of(simulator, settings)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert not names & WRITES
        for name, args in calls:
            result = await client.call_tool(name, args)
            assert result.is_error == (name not in names), name
    assert (simulator.state.contacts(), simulator.state.callbacks()) == before
    assert not any(
        simulator.state.executed[c] for c in ("uploadContacts", "uploadContactAndAddCallback", "addCallback")
    )


async def test_token_authentication_needs_no_session(simulator: SimulatorThread, tmp_path: Path) -> None:
    settings = settings_for(
        simulator,
        tmp_path,
        AMEYO_HASH_KEY="simulator-hash-key",
        AMEYO_REQUESTING_HOST="crm.example",
        AMEYO_USER_ID="",
        AMEYO_PASSWORD="",
    )
    async with Client(server_of(simulator, settings)) as client:
        leads = await client.call_tool("ameyo_get_leads", {"campaign": 1})
        assert not leads.is_error and "lead 35: DISABLED" in text_of(leads)
        contacts = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": "8681166572"})
        assert not contacts.is_error and "#12458" in text_of(contacts)
        by_name = await client.call_tool("ameyo_get_leads", {"campaign": "MoviStarSurvey"})
        assert by_name.is_error and "give the campaign's numeric id" in text_of(by_name)
    assert simulator.state.logins == 0


async def test_columns_asked_for_are_shown_without_detail(client: Client, simulator: SimulatorThread) -> None:
    called = next(c for c in simulator.state.contacts(1) if c.columns.get("last_user_id"))
    answer = await client.call_tool(
        "ameyo_get_contacts",
        {"campaign": 1, "customer_ids": [called.customer_id], "columns": ["last_user_id", "last_status_1"]},
    )
    out = answer.structured_content
    assert out is not None and out["contacts"][0]["data"]["last_user_id"] == called.columns["last_user_id"]
    assert f"last_user_id={called.columns['last_user_id']}" in text_of(answer)
    # One without a value is said to have none, not left out as if never asked for.
    never = next(c for c in simulator.state.contacts(1) if not c.columns.get("last_user_id"))
    unset = await client.call_tool(
        "ameyo_get_contacts",
        {"campaign": 1, "customer_ids": [never.customer_id], "columns": ["last_user_id"], "detail": True},
    )
    assert "last_user_id=(not set)" in text_of(unset), text_of(unset)
    # In the data, no value is null: "(not set)" would read as a value some customer could hold.
    assert unset.structured_content is not None
    assert unset.structured_content["contacts"][0]["data"]["last_user_id"] is None
    # Without columns, a line stays a line: no field beyond the summary's.
    plain = await client.call_tool(
        "ameyo_get_contacts", {"campaign": 1, "customer_ids": [called.customer_id]}
    )
    assert plain.structured_content is not None and "data" not in plain.structured_content["contacts"][0]
