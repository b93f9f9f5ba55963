"""The demo's dialer places a call only to a contact Ameyo would dial: never one of a disabled lead
(the upload tools say such contacts "are not dialed until it is enabled"), nor one dialled within
the redial gap. A turn that draws no such contact places no call, so once the sample data's
contacts are all inside the gap the dialer idles instead of dialling the rest."""

from __future__ import annotations

import random

from ameyo_mcp.simulator import SimulatorConfig, SimulatorState


def test_fifteen_minutes_of_the_demo_dial_no_disabled_lead_and_no_contact_twice() -> None:
    state = SimulatorState(SimulatorConfig())  # the demo's sample data
    disabled = {lead.lead_id for c in (1, 5, 10) for lead in state.leads(c) if not lead.enabled}
    assert disabled == {35}
    rng = random.Random(1)
    idle = 0
    dialled: list[int] = []
    for _ in range(900):  # a call a second for 15 minutes, as `--demo` runs it: all within the gap
        placed = state.place_call(rng, "127.0.0.1")
        if placed is None:
            idle += 1
            continue
        contact = state.contact(placed.call.customer_id)
        assert contact is not None and contact.lead_id not in disabled, placed.fields
        if placed.call.outbound:
            dialled.append(contact.customer_id)
    assert len(dialled) == len(set(dialled))  # none redialled inside REDIAL_GAP
    # It dialled what it could, then idled: both halves of the rule were exercised.
    assert len(dialled) > 200 and idle > 300, (len(dialled), idle)
