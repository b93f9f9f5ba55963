"""Names with apostrophes: "obrien" finds O'Brien by text alone, beside the customer's number (the
text is then checked on the contacts as Ameyo holds them), and with no index (a live scan)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import server_of, settings_for, synced, text_of

pytestmark = pytest.mark.anyio

PEOPLE = [
    {"phone1": "9812300001", "name": "Anne-Marie D\u2019Souza"},
    {"phone1": "9812300002", "name": "\u00d1u\u00f1o O'Brien"},
]


async def _upload(client: Client) -> None:
    sent = await client.call_tool("ameyo_upload_contacts", {"campaign": 1, "lead_id": 21, "records": PEOPLE})
    assert not sent.is_error, text_of(sent)


def _names(result) -> list[str]:
    assert result.structured_content is not None, text_of(result)
    return [c.get("name") for c in result.structured_content["contacts"]]


async def test_obrien_by_text_and_by_phone_and_text_agree(simulator, tmp_path: Path) -> None:
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        await _upload(client)
        by_text = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "search": "obrien"})
        by_both = await client.call_tool(
            "ameyo_get_contacts", {"campaign": 1, "search": "obrien", "phone": "9812300002"}
        )
        dsouza = await client.call_tool(
            "ameyo_get_contacts", {"campaign": 1, "search": "dsouza", "phone": "9812300001"}
        )
    assert _names(by_text) == ["\u00d1u\u00f1o O'Brien"], text_of(by_text)
    # The same customer, asked with their number too: the text is then checked live, by another rule.
    assert _names(by_both) == ["\u00d1u\u00f1o O'Brien"], text_of(by_both)
    assert _names(dsouza) == ["Anne-Marie D\u2019Souza"], text_of(dsouza)


async def test_obrien_without_an_index(simulator, tmp_path: Path) -> None:
    settings = settings_for(simulator, tmp_path)
    async with Client(server_of(simulator, settings)) as client:
        await _upload(client)
        by_text = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "search": "obrien"})
    assert _names(by_text) == ["\u00d1u\u00f1o O'Brien"], text_of(by_text)


async def test_a_name_with_an_apostrophe_is_found_however_it_is_typed(simulator, tmp_path: Path) -> None:
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        await _upload(client)
        for typed in ["o\u2019brien", "O\u2019Brien", "o brien", "nuno o\u2019b"]:
            found = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "search": typed})
            assert _names(found) == ["\u00d1u\u00f1o O'Brien"], (typed, text_of(found))
