"""Simulated calls: what one dialled call does to a contact, and the fields Ameyo pushes about it.

No HTTP here (``dialer.py`` sends the fields). The field names and quirks are those live deployments
receive (the vendor document gives no format): every value may be missing or blank, times are the
server's local time as Java prints them (sometimes with ``.0`` after the seconds), and
``userAssociations`` is JSON with its quotes as HTML entities. Custom customer fields are echoed back.
"""

from __future__ import annotations

import html
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from .data import AGENTS, DISPOSITIONS, ColumnValue, Contact

CALL_TYPES = ("outbound.manual.dial", "auto.dial.customer", "inbound.call.dial")
_CALL_TYPE_WEIGHTS = (20, 70, 10)
# What a dialled call ends as, roughly what an outbound campaign sees.
_OUTCOMES = {"CONNECTED": 40, "NO_ANSWER": 25, "BUSY": 15, "CALL_NOT_PICKED": 5, "CALL_DROP": 5, "AMD": 4,
             "NUMBER_FAILURE": 3, "PROVIDER_TEMP_FAILURE": 2, "SIT_VACANT": 1}  # fmt: skip
_AGENT_OUTCOMES = frozenset({"CONNECTED", "CALL_NOT_PICKED"})
_HANGUP = ("customer", "agent", "system")
# Fields that are always sent: without them a push cannot be tied to a call at all.
_ALWAYS = frozenset({"callId", "customerId", "phone"})
MISSING_RATE = 0.08
BLANK_RATE = 0.04


@dataclass(frozen=True)
class Call:
    """One dialled call, before it is applied to the contact."""

    number: int
    campaign_id: int
    customer_id: int
    call_type: str
    status: str  # the system disposition, which becomes the contact's status on an outbound call
    disposition: str | None  # what the agent chose, on connected calls
    agent: str | None
    phone: str
    dialed: datetime
    ringing_s: int
    setup_s: int
    talk_s: int
    hold_s: int
    hangup_first: str
    callback_time: datetime | None

    @property
    def outbound(self) -> bool:
        return self.call_type != "inbound.call.dial"

    @property
    def started(self) -> datetime:
        return self.dialed + timedelta(seconds=self.setup_s + self.ringing_s)

    @property
    def ended(self) -> datetime:
        return self.started + timedelta(seconds=self.talk_s + self.hold_s)


def draw_call(rng: random.Random, number: int, contact: Contact, now: datetime) -> Call:
    """A call to ``contact`` that ended at about ``now``, drawn from ``rng``."""
    call_type = rng.choices(CALL_TYPES, weights=_CALL_TYPE_WEIGHTS)[0]
    status = "CONNECTED" if call_type == "inbound.call.dial" else _weighted(rng, _OUTCOMES)
    agent = rng.choice(AGENTS) if status in _AGENT_OUTCOMES or call_type == "outbound.manual.dial" else None
    disposition = rng.choice(DISPOSITIONS) if status == "CONNECTED" else None
    phones = [contact.phone1, contact.customer_data.get("phone2") or contact.phone1]
    talk = rng.randint(15, 600) if status == "CONNECTED" else 0
    hold = rng.choice((0, 0, 0, rng.randint(5, 90))) if talk else 0
    ringing = rng.randint(2, 30) if status != "NUMBER_FAILURE" else 0
    setup = rng.randint(1, 4)
    dialed = now - timedelta(seconds=setup + ringing + talk + hold + rng.randint(0, 5))
    callback = None
    if disposition == "Callback Requested":
        callback = (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    return Call(
        number=number,
        campaign_id=contact.campaign_id,
        customer_id=contact.customer_id,
        call_type=call_type,
        status=status,
        disposition=disposition,
        agent=agent,
        phone=phones[0] if rng.random() < 0.85 else phones[1],
        dialed=dialed.replace(microsecond=0),
        ringing_s=ringing,
        setup_s=setup,
        talk_s=talk,
        hold_s=hold,
        hangup_first=rng.choice(_HANGUP) if talk else "system",
        callback_time=callback,
    )


def apply_call(contact: Contact, call: Call) -> None:
    """Record ``call`` in the contact's columns, as getContacts then shows them."""
    columns = contact.columns
    connected = call.status == "CONNECTED"
    if call.outbound:
        for k in range(4, 1, -1):  # the k-th last call becomes the (k+1)-th
            for name in ("last_status", "last_disposition", "last_user_id", "last_dialed_number"):
                columns[f"{name}_{k}"] = columns.get(f"{name}_{k - 1}")
            columns[f"last_dialed_time_{k}"] = columns.get(f"last_dialed_time_{k - 1}")
        columns.update(
            last_status_1=call.status,
            last_disposition_1=call.disposition,
            last_user_id_1=call.agent,
            last_dialed_number_1=call.phone,
            last_dialed_time_1=call.dialed,
            last_dialed=call.dialed,
            last_dialed_time=call.dialed,
            status=call.status,
            attempts=_count(columns.get("attempts")) + 1,
            num_outbound_attempted=_count(columns.get("num_outbound_attempted")) + 1,
        )
        if connected:
            columns["num_outbound_connected"] = _count(columns.get("num_outbound_connected")) + 1
    else:
        columns["num_inbound_attempted"] = _count(columns.get("num_inbound_attempted")) + 1
        if connected:
            columns["num_inbound_connected"] = _count(columns.get("num_inbound_connected")) + 1
    if connected:
        columns["last_connected_time"] = call.started
        columns["disposition"] = call.disposition
    if call.agent is not None:
        columns["last_user_id"] = call.agent


def push_fields(
    rng: random.Random, call: Call, contact: Contact, lead_id: int, server_id: str, web_host: str
) -> dict[str, str | int | None]:
    """The fields pushed about ``call`` (after :func:`apply_call`), quirks included.

    A value of None is a field sent blank (``field=`` in a query or form, ``null`` in JSON).
    """
    ids = f"{server_id}-{call.number}"
    columns = contact.columns
    connected = call.status == "CONNECTED"
    fields: dict[str, str | int | None] = {
        "customerId": str(call.customer_id),
        "phone": call.phone,
        "campaignId": str(call.campaign_id),
        "leadId": str(lead_id),
        "crtObjectId": f"{ids}-crt",
        "customerCRTId": f"{ids}-ccrt",
        "callId": f"{ids}-call",
        "dispositionCode": _code(call.disposition) if call.disposition else call.status,
        "dispositionName": call.disposition,
        "systemDisposition": call.status,
        "callType": call.call_type,
        "userId": call.agent,
        "dialedTime": _java_time(rng, call.dialed),
        "callStartTime": _java_time(rng, call.started) if connected else None,
        "callEndTime": _java_time(rng, call.ended),
        "talkTime": call.talk_s,
        "ringingTime": call.ringing_s,
        "setupTime": call.setup_s,
        "holdTime": call.hold_s,
        "hangupFirst": call.hangup_first,
        "numAttempts": _count(columns.get("attempts")),
        "callbackTime": None if call.callback_time is None else _java_time(rng, call.callback_time),
        "recordingFileUrl": f"http://{web_host}/recordings/{ids}.wav" if connected else None,
        "lastStatus": str(columns.get("status") or ""),
    }
    if call.agent is not None:
        fields["userCrtObjectId"] = f"{ids}-ucrt"
        owner = {"userId": call.agent, "associationType": "call.owner", "campaignId": call.campaign_id}
        association = [owner]
        fields["userAssociations"] = html.escape(json.dumps(association, separators=(",", ":")))
    for key, value in contact.customer_data.items():  # custom fields come back as uploaded
        fields.setdefault(key, value)
    for key in list(fields):
        if key in _ALWAYS:
            continue
        draw = rng.random()
        if draw < MISSING_RATE:
            del fields[key]
        elif draw < MISSING_RATE + BLANK_RATE:
            fields[key] = None
    return fields


def _java_time(rng: random.Random, when: datetime) -> str:
    # java.sql.Timestamp#toString adds ".0"; some deployments print the timestamp that way.
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    return text + ".0" if rng.random() < 0.2 else text


def _code(disposition: str) -> str:
    return disposition.upper().replace(" ", "_")


def _count(value: ColumnValue) -> int:
    return value if isinstance(value, int) else 0


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]
