"""A repeat of an upload with its records in another order: the same write (`identity_of` sorts the
records), answered from the ledger's kept answer, whose rows are in the first call's order. Each
record is told its own row (kept under the record's key), not the row at its position: the existing
customer "added" and the new one "already in the campaign", or callback ids and times swapped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import server_of, settings_for, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.network]

KARTHIK = 12005  # already in campaign 1


async def test_a_repeat_in_another_order_tells_each_record_its_own_outcome(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    karthik = simulator.state.contact(KARTHIK)
    assert karthik is not None
    old = {"phone1": karthik.phone1, "name": "Karthik Joshi"}
    new = {"phone1": "9876512399", "name": "New Person"}
    settings = settings_for(simulator, tmp_path)
    base = {"campaign": 1, "lead_id": 1}
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool("ameyo_upload_contacts", base | {"records": [old, new]})
        assert not first.is_error, text_of(first)
        again = await client.call_tool("ameyo_upload_contacts", base | {"records": [new, old]})
    assert not again.is_error, text_of(again)
    out = again.structured_content
    assert out is not None and out.get("repeat_of_earlier_call"), out
    by_position = {r["position"]: r for r in out["records"]}
    # Record 2 is Karthik, already there: the record told "left as it was" must be record 2, with his id.
    assert 2 in by_position and by_position[2].get("customer_id") == KARTHIK, (out["records"], text_of(again))
    assert 1 not in by_position, (out["records"], text_of(again))
    assert (out["added"], out["duplicate"]) == (1, 1), out
    assert simulator.state.executed["uploadContacts"] == 1


async def test_a_repeat_with_callbacks_in_another_order_tells_each_record_its_own_callback(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    ana = {"customer": {"phone1": "9876512391", "name": "Ana"}, "callback_time": "2031-02-03T10:00:00"}
    bo = {"customer": {"phone1": "9876512392", "name": "Bo"}, "callback_time": "2031-02-03T11:30:00"}
    settings = settings_for(simulator, tmp_path)
    base: dict[str, Any] = {"campaign": 1, "lead_id": 1}
    async with Client(server_of(simulator, settings)) as client:
        first = await client.call_tool("ameyo_upload_contacts_with_callbacks", base | {"records": [ana, bo]})
        assert not first.is_error, text_of(first)
        again = await client.call_tool("ameyo_upload_contacts_with_callbacks", base | {"records": [bo, ana]})
    assert not again.is_error, text_of(again)
    assert first.structured_content is not None and again.structured_content is not None
    assert again.structured_content.get("repeat_of_earlier_call"), again.structured_content

    def by_phone(out: dict[str, Any]) -> dict[str, tuple[Any, Any, Any]]:
        return {
            r["phone"]: (r["callback_id"], r["callback_time"], r.get("customer_id")) for r in out["records"]
        }

    before, after = by_phone(first.structured_content), by_phone(again.structured_content)
    assert set(before) == {"9876512391", "9876512392"}, first.structured_content
    assert after == before, (after, before, text_of(again))
    assert "10:00" in before["9876512391"][1] and "11:30" in before["9876512392"][1], before
    assert [r["phone"] for r in sorted(again.structured_content["records"], key=lambda r: r["position"])] == [
        "9876512392",
        "9876512391",
    ]
    assert simulator.state.executed["uploadContactAndAddCallback"] == 1


async def test_a_repeat_in_another_order_of_an_answer_cut_short_tells_the_left_out_record_unknown(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    asha, bo = {"phone1": "9876512381", "name": "Asha"}, {"phone1": "9876512382", "name": "Bo"}
    settings = settings_for(simulator, tmp_path)
    base: dict[str, Any] = {"campaign": 1, "lead_id": 1}
    faults = simulator.state.faults
    async with Client(server_of(simulator, settings)) as client:
        faults.commands, faults.short_list = {"uploadContacts"}, 1  # Bo saved, left out of the answer
        first = await client.call_tool("ameyo_upload_contacts", base | {"records": [asha, bo]})
        faults.reset()
        again = await client.call_tool("ameyo_upload_contacts", base | {"records": [bo, asha]})
    assert "left this record out" in text_of(first), text_of(first)
    out = again.structured_content
    assert out is not None and out.get("repeat_of_earlier_call"), (out, text_of(again))
    told = {r["position"]: r for r in out["records"]}
    assert told[1]["phone"] == bo["phone1"] and told[1]["result"] == "OUTCOME_UNKNOWN", out["records"]
    assert 2 not in told or told[2]["ok"], out["records"]  # Asha: added, as the first answer said
    assert out["added"] == 1, out
    assert simulator.state.executed["uploadContacts"] == 1
