"""A model's ordinary mistakes, and a read-only server, answered in plain sentences through a real
MCP client: harmless spellings accepted, the rest one short sentence per argument."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from ameyo_mcp.server.tools import WRITE_TOOL_NAMES
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import server_of, settings_for, text_of

pytestmark = pytest.mark.anyio


def assert_plain(text: str) -> None:
    assert "pydantic" not in text and "http" not in text and "validation error" not in text, text
    assert len(text) <= 1000, len(text)


async def test_harmless_spellings_are_accepted(client: Client) -> None:
    as_number = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": 8681166572})
    assert not as_number.is_error, text_of(as_number)
    assert "#12458" in text_of(as_number)
    one_status = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "status": "BUSY"})
    assert not one_status.is_error, text_of(one_status)
    assert set(one_status.structured_content["by_status"]) == {"BUSY"}  # type: ignore[index]
    nulls = await client.call_tool(
        "ameyo_get_contacts",
        {"campaign": 1, "phone": None, "status": None, "limit": None, "detail": None, "offset": None},
    )
    assert not nulls.is_error, text_of(nulls)
    one_id = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "customer_ids": 12458})
    assert one_id.structured_content is not None and one_id.structured_content["matched"] == 1


async def test_a_whole_number_sent_as_a_double_is_taken_where_text_is_expected(client: Client) -> None:
    """A client that keeps every JSON number as a double (Gemini's function calls) sends campaign 1
    as 1.0: taken while a campaign's schema was text or integer, refused as "must be text, not 1.0"
    once it was text alone. A whole double is the same text; 1.5 stays refused."""
    for tool, arguments in [
        ("ameyo_get_leads", {"campaign": 1.0}),
        ("ameyo_call_history", {"campaign": 1.0}),
    ]:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, text_of(result)
    found = await client.call_tool("ameyo_get_contacts", {"campaign": 1.0, "phone": 8681166572.0})
    assert not found.is_error and "#12458" in text_of(found), text_of(found)
    half = await client.call_tool("ameyo_get_leads", {"campaign": 1.5})
    assert half.is_error and "campaign must be text, not 1.5" in text_of(half), text_of(half)


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        (
            "ameyo_upload_contacts",
            {"campaign": 1, "lead_id": 21.5, "records": [{"phone1": "9"}]},
            "lead_id must be a whole number, not 21.5",
        ),
        ("ameyo_get_contacts", {"campaign": 1, "limit": 1000}, "limit must be at most 100, not 1000"),
        ("ameyo_get_leads", {}, "campaign is required: Campaign name"),
        ("ameyo_get_leads", {"campaign": None}, "campaign is required: Campaign name"),
        (
            "ameyo_get_contacts",
            {"campaign": 1, "statuses": ["BUSY"]},
            "statuses is not an argument of this tool",
        ),
        ("ameyo_get_contacts", {"campaign": 1, "detail": "very"}, "detail must be true or false, not 'very'"),
        (  # the calendar's last day has no next midnight: the hint overflowed into 'unexpected'
            "ameyo_call_history",
            {"since": "9999-12-31", "until": "9999-12-31"},
            "For the whole of 9999-12-31 give until 9999-12-31T23:59:59,",
        ),
        (
            "ameyo_get_contacts",
            {"campaign": 1, "lead_ids": ["x"]},
            "lead_ids[0] must be a whole number, not 'x'",
        ),
        (
            "ameyo_upload_contacts_with_callbacks",
            {"campaign": 1, "lead_id": 21, "records": [{"customer": {"phone1": "9"}, "callback_time": 5.5}]},
            "records[0].callback_time must be text, not 5.5",
        ),
        (
            "ameyo_upload_contacts_with_callbacks",
            {"campaign": 1, "lead_id": 21, "records": [{"phone1": "9000011111", "callback_time": "x"}]},
            'records[0] is refused: the customer\'s fields (phone1) go inside customer: {"customer"',
        ),
    ],
)
async def test_each_mistake_is_one_short_sentence(
    client: Client, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    result = await client.call_tool(tool, arguments)
    text = text_of(result)
    assert result.is_error and expected in text, text
    assert_plain(text)
    assert text.count(". ") <= 1, text


async def test_a_wall_of_mistakes_is_capped(client: Client) -> None:
    records = [{"customer": ["not", "an", "object"], "callback_time": [i]} for i in range(1500)]
    result = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks", {"campaign": 1, "lead_id": 21, "records": records}
    )
    text = text_of(result)
    assert result.is_error and "records takes at most 1000 items (it has 1500)" in text, text
    assert_plain(text)
    many = [{"customer": "nope", "callback_time": i} for i in range(40)]
    result = await client.call_tool(
        "ameyo_upload_contacts_with_callbacks", {"campaign": 1, "lead_id": 21, "records": many}
    )
    text = text_of(result)
    assert "records[0].customer must be an object" in text and "more problems" in text, text
    assert_plain(text)


async def test_unknown_columns_are_quoted_short_and_clean(client: Client) -> None:
    """The refusal quoted each unknown column whole: five 4,000-character names made an error of
    20,000 characters, and escape and bidirectional characters reached the model as sent."""
    long = await client.call_tool(
        "ameyo_get_contacts", {"campaign": 1, "columns": [f"{'x' * 4000}{i}" for i in range(7)]}
    )
    text = text_of(long)
    assert long.is_error and "column" in text and "x" * 100 not in text, text
    assert_plain(text)
    odd = await client.call_tool(
        "ameyo_get_contacts", {"campaign": 1, "columns": ["last_status_1\x1b[2J\u202eevil", "shoe_size"]}
    )
    text = text_of(odd)
    assert odd.is_error and "'last_status_1evil', 'shoe_size'" in text and "last_status_2" in text, text
    assert "\x1b" not in text and "\u202e" not in text
    assert_plain(text)


async def test_a_nul_in_a_path_is_answered_plainly(simulator: SimulatorThread, tmp_path: Path) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(tmp_path))
    async with Client(server_of(simulator, settings)) as client:
        result = await client.call_tool(
            "ameyo_upload_contacts_file", {"file": "in\x00.csv", "campaign": 1, "lead_id": 21}
        )
    assert result.is_error and "file contains a NUL character" in text_of(result), text_of(result)


async def test_prompt_mistakes_are_answered_without_a_traceback(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(MCPError) as missing:
        await client.get_prompt("ameyo_schedule_callback", {})
    assert "needs request" in str(missing.value) and "Internal" not in str(missing.value)
    with pytest.raises(MCPError) as unknown:
        await client.get_prompt("ameyo_no_such_prompt", {})
    assert "the prompts are" in str(unknown.value)
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


async def test_read_only_server_speaks_read_only(simulator: SimulatorThread, tmp_path: Path) -> None:
    settings = settings_for(simulator, tmp_path, AMEYO_READ_ONLY="true")
    async with Client(server_of(simulator, settings)) as client:
        told = client.instructions or ""
        assert "read-only" in told and not any(name in told for name in WRITE_TOOL_NAMES), told
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert "ameyo_schedule_callback" not in prompts and "ameyo_campaign_follow_up" in prompts
        for name in prompts:
            prompt = next(p for p in (await client.list_prompts()).prompts if p.name == name)
            args = {a.name: "1" for a in prompt.arguments or []}
            body = (await client.get_prompt(name, args)).messages[0].content.text  # type: ignore[union-attr]
            assert not any(tool in body for tool in WRITE_TOOL_NAMES), (name, body)
        with pytest.raises(MCPError) as hidden:
            await client.get_prompt("ameyo_schedule_callback", {"request": "call Priya"})
        assert "read-only" in str(hidden.value)
        write = await client.call_tool(
            "ameyo_add_callback", {"campaign": 1, "customer_id": 12458, "callback_time": "2031-01-01T10:00"}
        )
        assert write.is_error and "read-only" in text_of(write) and "Unknown tool" not in text_of(write)
    assert simulator.state.executed["addCallback"] == 0
    async with Client(server_of(simulator, settings_for(simulator, tmp_path))) as client:
        told = client.instructions or ""
        assert "ameyo_add_callback" in told and "read-only" not in told
        follow_up = await client.get_prompt("ameyo_campaign_follow_up", {"campaign": "1"})
        assert "ameyo_add_callback" in follow_up.messages[0].content.text  # type: ignore[union-attr]


@pytest.mark.parametrize("sim_config", [SimulatorConfig(password="pw-5ec2e7-simulated", max_phone_length=13)])
async def test_a_phone2_is_judged_by_its_length_as_sent(client: Client) -> None:
    """phone2 goes to Ameyo in the spelling the phone rule gives phone1, and its length is judged on
    that spelling: +44 7911 123456 is dialled from India as 00447911123456 (14 digits), over this
    Ameyo's 13, for phone2 as for phone1."""
    for field in ("phone1", "phone2"):
        records = [{"phone1": "9876500601", "phone2": "9876500602"} | {field: "+44 7911 123456"}]
        result = await client.call_tool(
            "ameyo_upload_contacts", {"campaign": 1, "lead_id": 39, "records": records, "dry_run": True}
        )
        text = text_of(result)
        assert f"{field} has 14 digits, more than the 13 Ameyo allows" in text, text
