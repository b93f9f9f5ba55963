"""Names in Indian scripts, as an Indian contact center's customers write them. The name rule
dropped the virama (a combining mark, as an accent is) and split words at each vowel sign (a mark,
not a letter): "प्रिया" was folded to "पर" and "य", so a search for Priya found Prakash Yadav
("प्रकाश यादव": "परक", "श", "य", "दव"), and counted him among the matches."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.store import fold_words
from tests.conftest import Simulator, server_of, settings_for, synced, text_of
from tests.test_file_do_not_call import added_after_the_sync

pytestmark = pytest.mark.anyio


def test_indian_scripts_keep_their_vowel_signs_and_viramas_while_accents_fold_away() -> None:
    assert fold_words("प्रिया शर्मा") == ["प्रिया", "शर्मा"]
    assert len(fold_words("মৌমিতা দাস")) == 2  # Bengali: two words, each whole
    assert fold_words("ज़ैनब") == fold_words("ज़ैनब")  # a nukta, precomposed or not
    assert fold_words("Ñuño  O'Brien") == ["nuno", "o", "brien"]
    assert fold_words("محمَّد") == fold_words("محمد")  # Arabic vowel points, as accents
    assert fold_words("ह\u200dरि") == ["हरि"]  # a zero-width joiner changes no word


async def test_a_search_in_devanagari_finds_the_name_not_its_lookalikes(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    priya = added_after_the_sync(simulator, {"phone1": "9811110001", "name": "प्रिया शर्मा"})
    prakash = added_after_the_sync(simulator, {"phone1": "9811110002", "name": "प्रकाश यादव"})
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        for search in ("प्रिया", "प्रि", "शर्मा"):
            result = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "search": search})
            text = text_of(result)
            assert not result.is_error and ": 1 contact matches" in text, text
            assert f"#{priya} " in text and f"#{prakash} " not in text, text


async def test_a_search_of_marks_alone_is_refused_as_one_of_no_letter(
    simulator: Simulator, tmp_path: Path
) -> None:
    """The marks a word keeps (a vowel sign, a virama) are no word alone: search="ि" went to the index
    as the word "ि", which starts no name, and answered "0 contacts match" (the call history: no
    customer of that name), where "-" is refused as a search for nothing."""
    settings = settings_for(simulator, tmp_path)
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        for given in ("\u093f", "\u094d", "- \u0d4d", "\ufe0f", "\u20dd"):
            for tool, args in (
                ("ameyo_get_contacts", {"campaign": 1, "search": given}),
                ("ameyo_call_history", {"name": given}),
            ):
                result = await client.call_tool(tool, args)
                text = text_of(result)
                assert result.is_error, (tool, given, text)
                assert "has no letter or digit, so there is nothing to search for" in text, (tool, text)
    assert fold_words("प्रिया \u093f") == ["प्रिया"]


async def test_the_live_text_filter_reads_names_as_the_index_does(
    simulator: Simulator, tmp_path: Path
) -> None:
    """The index drops a zero-width joiner and the live filter kept it: by phone and name, "हरि"
    missed "ह‍रि प्रसाद", whom the name alone found. And a Malayalam name is written with the atomic
    chillus of Unicode 5.1 or as before them (consonant, virama, zero-width joiner): one name, which
    either spelling of the search finds."""
    settings = settings_for(simulator, tmp_path)
    hari = added_after_the_sync(simulator, {"phone1": "9811110003", "name": "ह\u200dरि प्रसाद"})
    anwar = added_after_the_sync(simulator, {"phone1": "9811110004", "name": "അന്\u200dവര്\u200d"})
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        for customer, phone, searches in (
            (hari, "9811110003", ("हरि", "ह\u200dरि")),
            (anwar, "9811110004", ("അൻവർ", "അന്\u200dവര്\u200d", "അൻ")),
        ):
            for search in searches:
                for args in ({"search": search}, {"search": search, "phone": phone}):
                    result = await client.call_tool("ameyo_get_contacts", {"campaign": 1, **args})
                    text = text_of(result)
                    assert not result.is_error and ": 1 contact matches" in text, (args, text)
                    assert f"#{customer} " in text, text


async def test_an_index_keyed_by_the_rule_before_finds_indian_names_live_until_its_next_sync(
    simulator: Simulator, tmp_path: Path
) -> None:
    """An index synced before this rule holds "प्रिया शर्मा" as the words "पर", "य" and "शरम" (the
    rows 8a5b008's sync wrote): a search for "प्रिया" answered "0 contacts match" from it, with no
    word that the index could not find such a name, until its next sync. It is read live until
    then, and the next sync keys the name again."""
    settings = settings_for(simulator, tmp_path)
    priya = added_after_the_sync(simulator, {"phone1": "9811110001", "name": "प्रिया शर्मा"})
    await synced(simulator, settings)
    db = sqlite3.connect(tmp_path / "index.db")
    with db:
        db.execute("UPDATE contacts SET names = ' पर य शरम ' WHERE customer_id = ?", (priya,))
        db.execute("DELETE FROM contact_words WHERE customer_id = ?", (priya,))
        db.executemany(
            "INSERT INTO contact_words (campaign_id, word, customer_id) VALUES (1, ?, ?)",
            [(word, priya) for word in ("पर", "य", "शरम")],
        )
        db.execute("UPDATE campaigns SET name_rule = NULL")
    async with Client(server_of(simulator, settings)) as client:
        for args in ({"search": "प्रिया"}, {"search": "शर्मा", "order_by": "customerId"}):
            result = await client.call_tool("ameyo_get_contacts", {"campaign": 1, **args})
            text = text_of(result)
            assert not result.is_error and ": 1 contact matches" in text and f"#{priya} " in text, text
            assert "read live (the index was synced before names in Indian scripts kept" in text, text
        result = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "search": "priya"})
        assert "index of" in text_of(result), text_of(result)  # a Latin name: the index, as before
        result = await client.call_tool("ameyo_call_history", {"name": "प्रिया"})
        assert result.is_error and "finds no such name until its next sync" in text_of(result), text_of(
            result
        )
    await synced(simulator, settings)
    words = db.execute("SELECT word FROM contact_words WHERE customer_id = ? ORDER BY word", (priya,))
    assert [w for (w,) in words] == sorted(fold_words("प्रिया शर्मा")), words
    db.close()
    async with Client(server_of(simulator, settings)) as client:
        result = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "search": "प्रिया"})
        text = text_of(result)
        assert ": 1 contact matches" in text and "(looked in: index of" in text, text
