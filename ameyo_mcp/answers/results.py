"""The structured content of each tool's answer (its output schema).

Kept deliberately flat and short: every schema is sent to the model in every conversation.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..ameyo.models import CampaignInfo, callback_scheduled

# A record an earlier upload sent (a copy of a file, the same record in another upload): not sent
# twice. Named here, below the write path, for the answers that tell such records apart.
SENT_EARLIER = "SENT_EARLIER"


def scheduled_now(result: str, callback_id: object, callback_time: object) -> bool:
    """Whether a record's outcome tells of a callback the answering write scheduled: one sent
    earlier carries the callback Ameyo scheduled for that earlier write, to say what became of
    it, and is counted by no later upload (the record tools and a file's counts alike)."""
    return result != SENT_EARLIER and callback_scheduled(callback_id, callback_time)


class CampaignOut(BaseModel):
    id: int
    name: str
    type: str | None = None


def campaign_out(campaign: CampaignInfo) -> CampaignOut:
    return CampaignOut(id=campaign.campaign_id, name=campaign.campaign_name, type=campaign.campaign_type)


class LoginOut(BaseModel):
    user: str | None = None
    user_type: str | None = None
    campaigns: list[CampaignOut]
    ping_interval_s: float
    session_timeout_s: float
    command_timeout_s: float
    max_phone_length: int
    new_session: bool


class PingOut(BaseModel):
    alive: bool
    server_time: str | None = None
    weekday: str | None = None
    timezone: str
    # There was no live session (a logout, or none yet): the ping logged in, taking a seat.
    new_session: bool = False


class LogoutOut(BaseModel):
    ended: bool


class CampaignsOut(BaseModel):
    campaigns: list[CampaignOut]


class LeadOut(BaseModel):
    lead_id: int
    enabled: bool
    priority: int | None = None
    max_attempt: int | None = None
    churn_count: int | None = None


class LeadsOut(BaseModel):
    campaign: CampaignOut
    leads: list[LeadOut]


class ContactOut(BaseModel):
    customer_id: int
    lead_id: int | None = None
    name: str | None = None
    phone: str | None = None
    # The number a phone search matched, when it is not phone1: "phone2 9123456789".
    matched_phone: str | None = None
    # A whole number searched for: false when none of their numbers is it, one only ends with it
    # (0458681166572 for 8681166572, another number under the phone rule): an upload of the number
    # searched for adds another customer, it does not update this one.
    same_number: bool | None = None
    status: str | None = None
    attempts: int | None = None
    disposition: str | None = None
    last_dialed: str | None = None
    data: dict[str, str | None] | None = None  # null: a column asked for that has no value


class CallOut(BaseModel):
    at: str
    customer_id: int | None = None
    name: str | None = None
    phone: str | None = None
    outcome: str
    system_disposition: str | None = None
    agent: str | None = None
    talk_s: float | None = None
    campaign_id: int | None = None
    lead_id: int | None = None
    callback_at: str | None = None  # the callback the call's outcome asked for, as Ameyo pushed it
    # The customer called in: Ameyo leaves an inbound call out of their status and attempts.
    inbound: bool | None = None


# Described in the output schema: unlike the callbacks this server scheduled, these come from the
# pushes, and Ameyo may no longer hold them.
SET_ON_CALLS = "Set by agents on pushed calls, still to come; may since be dialled or removed"


class ContactsOut(BaseModel):
    campaign: CampaignOut
    matched: int
    scanned: int
    scan_capped: bool
    # Where the lookup looked, e.g. "index of 412,000 contacts, synced 14 min ago".
    looked_in: str
    # With no match: what the look could not rule out; with some, that the customers added since the
    # sync were not all read, so more may match (None when the look was complete).
    not_ruled_out: str | None = None
    # True: `matched` is a floor, more may match (the index was asked for one page and one more, or
    # a live scan stopped at its cap).
    more: bool | None = None
    by_status: dict[str, int]
    # The whole campaign by status as the index counted it at its last sync (`as_of`).
    campaign_by_status: dict[str, int] | None = None
    # Its contacts at that sync: uploads since are in the index's count (`looked_in`), not here.
    campaign_contacts: int | None = None
    # Set when the index counted the matches (`matched`, `by_status`) as of its sync this long ago.
    as_of: str | None = None
    # Of the page the index found, those Ameyo no longer holds as matching (left out).
    changed_since_sync: int | None = None
    offset: int
    next_offset: int | None = None
    timezone: str
    contacts: list[ContactOut]
    # For an answer about one customer: the callbacks this server asked Ameyo for, to any of their
    # numbers (theirs, or anyone's who shares a number), still to come, the soonest 100 of each (the
    # Ameyo server's time, with its zone as every time shown): those answered as scheduled and those
    # it may hold (in flight, or of unknown outcome), one item a callback ("2030-06-01 11:00
    # Asia/Kolkata for agent agent1" when it has an agent); and their last call as Ameyo pushed it.
    callbacks_scheduled: list[str] | None = None
    callbacks_maybe_scheduled: list[str] | None = None
    callbacks_set_on_calls: list[str] | None = Field(default=None, description=SET_ON_CALLS)
    last_pushed_call: CallOut | None = None


# A record in an upload tool's answer, made by `writes.outcome.Outcome.record_out`. (No docstring:
# it would be sent in the output schema.)
class RecordOut(BaseModel):
    position: int
    phone: str | None = None
    result: str
    ok: bool
    customer_id: int | None = None
    reason: str | None = None
    callback_id: str | None = None
    callback_time: str | None = None
    # Whom its callback goes to, as ameyo_add_callback says it: null is any agent.
    assigned_to: str | None = None
    self_callback: bool | None = None


# A failed row in a file upload's answer, made by `writes.outcome.Outcome.failure_out`.
class FailureOut(BaseModel):
    line: int
    phone: str | None = None
    result: str
    reason: str | None = None


class UploadOut(BaseModel):
    """sent + would_send + refused + set_aside = records given; sent = added + updated + moved +
    duplicate + failed + outcome_unknown."""

    campaign: CampaignOut
    lead_id: int
    dry_run: bool = Field(description="true: nothing was sent")
    # Read alone, a dry run's count of records that passed the checks said "sent": told apart here.
    sent: int = Field(description="records sent to Ameyo (0 in a dry run)")
    would_send: int = Field(0, description="records a dry run would send (0 in a real run)")
    refused: int = Field(description="refused before sending")
    set_aside: int = Field(0, description="not sent: other writes sent or hold them")
    added: int = 0
    updated: int = 0
    moved: int = 0
    duplicate: int = 0
    failed: int = 0
    outcome_unknown: int = 0
    callbacks: int = 0
    counts: dict[str, int] = {}
    added_customer_ids: list[int] = []
    updated_customer_ids: list[int] = []
    moved_customer_ids: list[int] = []  # moved into the lead, their fields left as they were
    records: list[RecordOut]
    timezone: str
    notes: list[str] = []
    confirm_token: str | None = None
    repeat_of_earlier_call: bool | None = None


class CallbackOut(BaseModel):
    campaign: CampaignOut
    callback_id: str | None = None
    customer_id: int | None = None
    name: str | None = None
    phone: str | None = None
    time: str | None = None
    timezone: str
    assigned_to: str | None = None
    self_callback: bool
    repeat_of_earlier_call: bool | None = None
    # Other callbacks to the customer still to come (as `callbacks_scheduled`): they stay scheduled.
    also_scheduled: list[str] | None = None
    # Those this server asked for whose answer never came: Ameyo's own list says if they are there.
    maybe_scheduled: list[str] | None = None
    also_set_on_calls: list[str] | None = Field(default=None, description=SET_ON_CALLS)
