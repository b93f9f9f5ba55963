"""A long name is cut to fit an answer between whole letters of its script. The cut counted code
points, and in Indian scripts a letter is several: a consonant, its vowel sign, the virama that joins
it to the next consonant. Cut between them, "தமிழ்நாடு" showed as "தமிழ்நாட" (another sound), and
"পশ্চিমবঙ্গ" ended on a virama with nothing to join."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import Simulator, server_of, settings_for, synced
from tests.test_file_do_not_call import added_after_the_sync

pytestmark = pytest.mark.anyio

NAMES = {  # shops' names as their owners register them, each cut inside a letter at 60 code points
    "9811130001": "श्री गणेश ट्रेडर्स एंड कंपनी प्राइवेट लिमिटेड, मुंबई महाराष्ट्र शाखा",
    "9811130002": "শ্রী রামকৃষ্ণ বস্ত্রালয় প্রাইভেট লিমিটেড, কলকাতা পশ্চিমবঙ্গ শাখা অফিস",
    "9811130003": "ஸ்ரீ முருகன் ஜவுளிக் கடை பிரைவேட் லிமிடெட், சென்னை தமிழ்நாடு கிளை அலுவலகம்",
}


def cut_between_letters(shown: str, name: str) -> bool:
    """Whether `shown` is `name` cut where a letter ends, with an ellipsis."""
    kept = shown.removesuffix("…")
    rest = name[len(kept) :]
    joined = unicodedata.combining(kept[-1]) == 9  # a virama joins the next consonant to it
    return (
        shown.endswith("…")
        and name.startswith(kept)
        and not joined
        and unicodedata.category(rest[0])[0] != "M"
    )


async def test_a_long_name_in_an_indian_script_is_cut_between_its_letters(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    for phone, name in NAMES.items():
        added_after_the_sync(simulator, {"phone1": phone, "name": name})
    await synced(simulator, settings)
    async with Client(server_of(simulator, settings)) as client:
        for phone, name in NAMES.items():
            result = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": phone})
            [contact] = (result.structured_content or {})["contacts"]
            assert cut_between_letters(contact["name"], name), (contact["name"], name)
