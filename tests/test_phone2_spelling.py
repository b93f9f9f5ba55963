"""phone2 (and phone3…) go to Ameyo's dialer in the spelling the phone rule gives phone1
(AMEYO_PHONE_FORMAT): checked by the same rule, they had been sent as typed, brackets, dashes and
spaces included. Respelling them splits no customer: Ameyo finds customers by phone1 alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import Simulator, server_of, settings_for, text_of

pytestmark = pytest.mark.anyio


async def test_phone2_goes_to_ameyo_in_the_spelling_the_phone_rule_gives_phone1(
    simulator: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)  # AMEYO_PHONE_FORMAT=national
    record = {"phone1": "+91 (98765) 00-105", "phone2": "+91 (98765) 00-106", "name": "Ana"}
    async with Client(server_of(simulator, settings)) as client:
        answer = await client.call_tool(
            "ameyo_upload_contacts", {"campaign": 1, "lead_id": 1, "records": [record]}
        )
    assert not answer.is_error, text_of(answer)
    [stored] = [c.customer_data for c in simulator.state.contacts(1) if c.phone1 == "9876500105"]
    # phone1 was respelt to the dialable 9876500105; phone2, the same kind of text, was not.
    assert stored["phone2"] == "9876500106", stored
