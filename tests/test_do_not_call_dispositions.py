"""A callback to a customer whose last disposition says do not call needs the person's explicit
despite_do_not_call, however the deployment spells that disposition: abbreviations (DNC, NDNC,
DND, in initials however separated) as a word of it, and "do not call" / "do not disturb" / "do not
contact" / "opt out" split by spaces, hyphens, underscores or not at all. A disposition that
merely mentions calling is no such request."""

from __future__ import annotations

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import text_of

pytestmark = pytest.mark.anyio

PRIYA = 12001  # Priya Sharma, lead 1, no disposition in the sample data
LATER = "2031-05-01T11:00:00"

DO_NOT_CALL = [
    "Do-Not-Call",
    "NDNC",
    "DNC - Customer Request",
    "Do Not Disturb",
    "do_not_call",
    "DoNotCall",
    "Don't call",
    "Do not callback",
    "DND registered",
    "DNCR",
    "Customer said: do not call again",
    "NCPR",
    "NCPR registered",
    "CustomerDNC",
    "DNCRequest",
    "D.N.C.",
    "D-N-C",
    "D N C",
    "Do Not Contact",
    "DoNotContact",
    "Do not dial",
    "Opt-out",
    "Customer is a D-N-C",
    "D-N-C (A)",
    "Category B - D N C",
    "Requested a D-N-D",
    # Invisible characters a copy-paste leaves inside a word: every answer shows 'DNC' (they are
    # dropped from what is shown), so the check must read 'DNC' too.
    "D\u200bNC",
    "DN\u00adC",
    "Do\u2060Not\u2060Call",
    # A code's number run into its word, and full-width letters run into another word.
    "DNC01",
    "DNC2 - registry",
    "Customer\uff24\uff2e\uff23",
]
MAY_BE_CALLED = [
    "Callback",
    "Callback Requested",
    "Sale",
    "Not Interested",
    "Call Later",
    "Do not email",
    "Donation call",
    "Non-DNC",
    "Non DNC",
    "Not DNC",
    "Not D-N-C",
    "Plan A B",
    # A negation of a phrase, as "Not DNC" is of a word.
    "Not opted out",
    "Non do-not-call",
]


def dispose(simulator: SimulatorThread, disposition: str) -> None:
    with simulator.state._lock:
        simulator.state._find(PRIYA).columns["disposition"] = disposition


@pytest.mark.parametrize("disposition", DO_NOT_CALL)
async def test_a_callback_to_any_spelling_of_do_not_call_needs_the_persons_yes(
    client: Client, simulator: SimulatorThread, disposition: str
) -> None:
    dispose(simulator, disposition)
    args = {"campaign": 1, "customer_id": PRIYA, "callback_time": LATER}
    refused = await client.call_tool("ameyo_add_callback", args)
    assert refused.is_error and "despite_do_not_call=true" in text_of(refused), text_of(refused)
    assert simulator.state.executed["addCallback"] == 0
    confirmed = await client.call_tool("ameyo_add_callback", args | {"despite_do_not_call": True})
    assert not confirmed.is_error, text_of(confirmed)
    assert simulator.state.executed["addCallback"] == 1


@pytest.mark.parametrize("disposition", MAY_BE_CALLED)
async def test_a_disposition_that_is_no_do_not_call_is_called_back_without_a_word(
    client: Client, simulator: SimulatorThread, disposition: str
) -> None:
    dispose(simulator, disposition)
    result = await client.call_tool(
        "ameyo_add_callback", {"campaign": 1, "customer_id": PRIYA, "callback_time": LATER}
    )
    assert not result.is_error and "do not call" not in text_of(result).lower(), text_of(result)
    assert simulator.state.executed["addCallback"] == 1


@pytest.mark.parametrize("disposition", ["Do-Not-Call", "NDNC", "Do Not Disturb"])
async def test_the_upload_with_callbacks_applies_the_same_rule(
    client: Client, simulator: SimulatorThread, disposition: str
) -> None:
    dispose(simulator, disposition)
    priya = simulator.state.contact(PRIYA)
    assert priya is not None
    record = {"customer_id": PRIYA, "customer": {"phone1": priya.phone1}, "callback_time": LATER}
    args = {"campaign": 1, "lead_id": priya.lead_id, "records": [record]}
    refused = await client.call_tool("ameyo_upload_contacts_with_callbacks", args)
    text = text_of(refused)
    assert f"customer {PRIYA}'s last disposition is {disposition!r} (do not call)" in text, text
    assert "despite_do_not_call=true" in text
    assert simulator.state.executed["uploadContactAndAddCallback"] == 0
