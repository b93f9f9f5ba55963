"""The one write path: every change to Ameyo's data goes through here, whoever asks for it.

    ameyo_add_callback ──────────┐
    ameyo_upload_contacts(_with_callbacks) ─┼─► plan_*(): a `Write`, the wire request as Ameyo will run it
    ameyo_upload_contacts_file, `ameyo-mcp upload` (per batch) ─┘        │
                                                                          ▼
    WritePath.send(write, …)
      1. ledger, keyed by what Ameyo will do (the resolved request, records in any order): the same
         write answered within the repeat window gives its answer again; one whose outcome is
         unknown is refused until `allow_repeat`; one in flight is waited for, not raced
      2. confirmation: over AMEYO_CONFIRM_OVER records the person says yes (elicitation), or the
         caller shows the token of a dry run of this very write (`approve`)
      3. audit intent, fsynced: if it cannot be written, nothing is sent
      4. the request; whatever ends it (answer, error, timeout, drop, cancellation, shutdown) settles
         the ledger and the audit as answered, failed (Ameyo certainly did not apply it) or unknown

A new write tool plans its `Write` with a `plan_*` function (or adds one here) and calls `send`;
nothing else calls Ameyo's write commands. No MCP types here: tools/common.py adapts elicitation and
turns these errors into tool errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio

from . import phones
from .audit import AuditLog, default_audit_path
from .client import ON_WIRE
from .errors import AmeyoError
from .models import (
    AddCallbackRequest,
    CallbackRecord,
    CampaignInfo,
    CustomerAndCallback,
    RecordResult,
    UploadContactsRequest,
    UploadWithCallbacksRequest,
)
from .service import Ameyo

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

WriteRequest = UploadContactsRequest | UploadWithCallbacksRequest | AddCallbackRequest
# What the person is asked; None when this connection cannot ask (the token is needed then).
Ask = Callable[[str], Awaitable[bool | None]]

# Told of each write Ameyo answered (not of an earlier answer given again), e.g. to add an upload's
# customers to the index. Its failure is logged, never the write's.
Answered = Callable[["Write", Sequence[Any]], Awaitable[None]]
# An unknown outcome is remembered longer than an answer: forgetting it would let the same write
# be sent blindly again.
UNKNOWN_KEPT_S = 24 * 3600.0
# The ledger is bounded: a long-running HTTP server sees an endless stream of distinct writes.
MAX_LEDGER = 10_000
_AUDITED_CHARS = 20_000
_AUDITED_RECORDS = 100


class WriteError(Exception):
    """A write was not done as asked; the message says what happened and what to do next."""


class NeedsConfirmation(WriteError):
    """Too many records to send without the person's confirmation."""


class NotConfirmed(WriteError):
    """The person was asked and said no."""


class AuditUnavailable(WriteError):
    """The audit trail cannot be written, so nothing was sent."""


class EarlierOutcomeUnknown(WriteError):
    """The same write was sent before and its outcome is unknown."""


class CallbackScheduled(WriteError):
    """The same callback was scheduled moments ago by another write."""


class OutcomeUnknown(WriteError):
    """This write was sent and no usable answer came: Ameyo may or may not have applied it."""


@dataclass(frozen=True)
class Write:
    """One write as Ameyo will run it, planned before anything is sent."""

    request: WriteRequest
    identity: str
    records: int
    campaign: CampaignInfo
    lead_id: int | None
    label: str  # for questions and errors: "5 records into lead 21 of MoviStarSurvey (1)"
    # Where it came from, kept in its audit lines (a bulk batch: file, batch id, lines).
    context: Mapping[str, object] = field(default_factory=dict)
    # The callbacks it schedules for known customers, by `callback_key`, with words for them: the
    # same callback asked for by another command (addCallback, then uploadContactAndAddCallback) is
    # the same thing for Ameyo to do, and is not done twice either.
    callbacks: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Approval:
    """Proof that a write of `records` records was confirmed; made only by `WritePath.approve`."""

    records: int
    _key: object = field(repr=False, compare=False)


@dataclass(frozen=True)
class Sent:
    """Ameyo's answer to a write, or to the identical earlier write when `repeat_of_s` is set."""

    answer: Sequence[Any]
    call_id: str
    repeat_of_s: float | None = None


# -- planning: the wire request and its identity ----------------------------------------------------


def campaign_label(campaign: CampaignInfo) -> str:
    return f"{campaign.campaign_name} ({campaign.campaign_id})"


def identity_of(server: str, request: WriteRequest) -> str:
    """What Ameyo will do, as a key: the server, the command and the resolved request, with
    records in a canonical order (the same records in another order are the same write)."""
    wire = request.wire()
    wire.pop("sessionId", None)
    records = wire.pop("customerRecords", None) or wire.pop("customerAndCallbackRecords", None) or []
    # Each record as the repr of its sorted items: canonical for these plain str/bool/None values,
    # and a fifth of json.dumps' cost on a bulk batch of 500.
    if isinstance(request, UploadContactsRequest):  # flat str → str records: the bulk case
        lines = sorted(map(repr, map(sorted, map(dict.items, records))))
    else:
        lines = sorted(repr(_sorted_items(record)) for record in records)
    text = "\n".join([server, request.command, _canonical(wire), *lines])
    return hashlib.sha256(text.encode()).hexdigest()


def _sorted_items(value: object) -> object:
    if isinstance(value, dict):
        return sorted((k, _sorted_items(v)) for k, v in value.items())
    return value


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def callback_key(
    server: str,
    campaign_id: int,
    customer_id: int | str,
    number: str,
    when_wire: str,
    agent: str | None,
    region: str,
) -> tuple[str, str]:
    """One callback as Ameyo will hold it, whichever command schedules it, and words for it. Agent
    ids are compared without case: a second callback for agent1 and Agent1 is kept out too."""
    phone = phones.key(number, region) or phones.digits(number)
    agent = (agent or "").strip().casefold()
    text = repr((server, campaign_id, str(customer_id), phone, when_wire, agent))
    words = f"a callback to customer {customer_id} on {number} at {when_wire}"
    return hashlib.sha256(text.encode()).hexdigest(), words


def plan_callback(
    server: str,
    campaign: CampaignInfo,
    *,
    customer_id: int,
    number: str,
    when_wire: str,
    agent: str | None,
    self_callback: bool,
    region: str,
) -> Write:
    """A callback to a customer's full stored number (the caller has resolved it: see callbacks.py)."""
    request = AddCallbackRequest(
        campaign_id=campaign.campaign_id,
        call_back_time=when_wire,
        is_self_call_back="true" if self_callback else "false",
        user_id=agent or None,
        properties={"customerId": str(customer_id), "phone": number},
    )
    label = f"a callback to customer {customer_id} in {campaign_label(campaign)} at {when_wire}"
    key = callback_key(server, campaign.campaign_id, customer_id, number, when_wire, agent, region)
    return Write(request, identity_of(server, request), 1, campaign, None, label, callbacks=(key,))


def upload_label(records: int, lead_id: int, campaign: CampaignInfo) -> str:
    return f"{records} record{'s' if records != 1 else ''} into lead {lead_id} of {campaign_label(campaign)}"


def plan_upload(
    server: str,
    campaign: CampaignInfo,
    lead_id: int,
    records: Sequence[dict[str, str]],
    *,
    status: str,
    attempts: int,
    update_existing: bool,
    migrate_existing: bool,
    context: Mapping[str, object] | None = None,
) -> Write:
    request = UploadContactsRequest(
        campaign_id=str(campaign.campaign_id),
        lead_id=lead_id,
        properties={"update.customer": update_existing, "migrate.customer": migrate_existing},
        num_attempts=str(attempts),
        status=status.strip().upper() or "NOT_TRIED",
        customer_records=list(records),
    )
    label = upload_label(len(records), lead_id, campaign)
    identity = identity_of(server, request)
    return Write(request, identity, len(records), campaign, lead_id, label, dict(context or {}))


def plan_upload_with_callbacks(
    server: str,
    campaign: CampaignInfo,
    lead_id: int,
    records: Sequence[tuple[dict[str, str], CallbackRecord]],
    *,
    update_existing: bool,
    migrate_existing: bool,
    region: str,
    context: Mapping[str, object] | None = None,
) -> Write:
    request = UploadWithCallbacksRequest(
        campaign_id=campaign.campaign_id,
        lead_id=lead_id,
        records=[CustomerAndCallback(customer_record=r, callback_record=c) for r, c in records],
        properties={"update.customer": update_existing, "migrate.customer": migrate_existing},
    )
    label = upload_label(len(records), lead_id, campaign) + ", each with a callback"
    identity = identity_of(server, request)
    keys = tuple(
        callback_key(
            server,
            campaign.campaign_id,
            callback.customer_id,
            callback.call_back_phone or record.get("phone1", ""),
            callback.call_back_time,
            callback.user_id,
            region,
        )
        for record, callback in records
        if callback.customer_id  # a new customer's id is known from the answer (see `send`)
    )
    return Write(request, identity, len(records), campaign, lead_id, label, dict(context or {}), keys)


# -- the ledger ---------------------------------------------------------------------------------------

State = Literal["flight", "answered", "unknown"]


@dataclass
class _Entry:
    state: State
    at: float
    answer: Sequence[Any] = ()
    call_id: str = ""
    note: str = ""
    settled: anyio.Event = field(default_factory=anyio.Event)


class WritePath:
    """The ledger, the confirmation policy and the audit around every write of this process."""

    def __init__(
        self,
        ameyo: Ameyo,
        *,
        audit: AuditLog | None,
        window_s: float,
        confirm_over: int | None,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_LEDGER,
    ) -> None:
        self.ameyo = ameyo
        self.audit = audit
        self.window_s = window_s
        self.confirm_over = confirm_over
        self._clock = clock
        self._max_entries = max_entries
        self._ledger: dict[str, _Entry] = {}
        # Dry-run tokens are an HMAC of the write's identity under a key that lives and dies with the
        # process: they cannot be guessed, and need no storage.
        self._token_key = secrets.token_bytes(32)
        self._approval_key = object()
        self.on_answered: list[Answered] = []

    @classmethod
    def for_settings(
        cls, ameyo: Ameyo, *, confirm: bool = True, store: Callable[[], Store] | None = None
    ) -> WritePath:
        """The write path as the settings describe it; `confirm=False` for a person at a terminal,
        who confirmed by running the command. Uploads it sends add their customers to the index of
        `store` (the server's), or of a store of its own opened on first use."""
        from .index_writes import index_answers

        settings = ameyo.settings
        path = cls(
            ameyo,
            audit=AuditLog(settings.audit_file or default_audit_path(), ameyo=settings.base_url),
            window_s=settings.repeat_window_s,
            confirm_over=settings.confirm_over if confirm else None,
        )
        path.on_answered.append(index_answers(settings, store))
        return path

    # -- confirmation ----------------------------------------------------------------------------

    def needs_confirmation(self, records: int) -> bool:
        return self.confirm_over is not None and records > self.confirm_over

    def dry_run_token(self, identity: str) -> str:
        """The token a dry run of this write returns; a real run over the threshold must show it."""
        return hmac.new(self._token_key, identity.encode(), hashlib.sha256).hexdigest()[:20]

    async def approve(
        self,
        *,
        records: int,
        identity: str,
        label: str,
        refused: int = 0,
        token: str | None = None,
        ask: Ask | None = None,
    ) -> Approval:
        """Confirmation for a write of `records` records: none needed under the threshold; over it,
        the person's yes by `ask`, or (when nobody can be asked) the dry-run token of this write."""
        if not self.needs_confirmation(records):
            return Approval(records, self._approval_key)
        if ask is not None:
            extra = f" ({refused} more were refused by the checks and will not be sent)" if refused else ""
            answer = await ask(f"Send {label} to Ameyo{extra}? Nothing is sent unless you confirm.")
            if answer is True:
                return Approval(records, self._approval_key)
            if answer is False:
                raise NotConfirmed(f"The person did not confirm sending {label}; nothing was sent.")
        if token and hmac.compare_digest(token, self.dry_run_token(identity)):
            return Approval(records, self._approval_key)
        why = "does not match a dry run of this same write" if token else "is missing"
        raise NeedsConfirmation(
            f"Nothing was sent: {label} is more than {self.confirm_over} records (AMEYO_CONFIRM_OVER) and "
            f"the confirmation token {why}. Run the same call with dry_run=true, show the person what "
            "would be sent and refused, and if they agree call again with confirm set to the "
            "confirm_token that dry run returned."
        )

    # -- sending ---------------------------------------------------------------------------------

    async def send(
        self,
        write: Write,
        *,
        allow_repeat: bool = False,
        approval: Approval | None = None,
        token: str | None = None,
        ask: Ask | None = None,
        refused: int = 0,
        keep_answer: bool = True,
    ) -> Sent:
        """Send `write` at most once (see the module's map). Raises a `WriteError` or the
        `AmeyoError` of a failure that certainly changed nothing. With `keep_answer=False` (a bulk
        batch, whose answer the journal keeps) the ledger remembers that it was answered but not
        the answer, so that a long upload does not hold every answer in memory: a repeat of it
        then comes back with an empty `answer`."""
        if self.ameyo.settings.read_only:
            raise WriteError(
                f"Nothing was sent: this server is read-only (AMEYO_READ_ONLY=true), so {write.label} "
                "cannot be written. Tell the person; an administrator can change the setting."
            )
        entry = await self._claim(write, allow_repeat)
        if entry.state != "flight":
            return self._again(write, entry)
        call_id = uuid.uuid4().hex[:12]
        state: State | None = None  # None: not sent, so nothing to remember
        answer: Sequence[Any] = ()
        note = ""
        intent = False
        on_wire = [False]
        reset = ON_WIRE.set(on_wire)
        try:
            if not self._covers(approval, write):
                approval = await self.approve(
                    records=write.records,
                    identity=write.identity,
                    label=write.label,
                    refused=refused,
                    token=token,
                    ask=ask,
                )
            self._intent(write, call_id)
            intent = True
            answer = await self._dispatch(write.request)
            if answer:
                state = "answered"
            else:
                state, note = "unknown", "Ameyo answered with an empty list"
        except AmeyoError as exc:
            state = "unknown" if exc.outcome_unknown else None
            note = exc.message
            raise
        except BaseException as exc:  # cancellation, shutdown, a bug: the request may have left
            state = "unknown" if on_wire[0] else None
            note = f"the call ended before Ameyo answered ({type(exc).__name__})"
            raise
        finally:
            ON_WIRE.reset(reset)
            # No await from here on: a cancelled call cannot skip settling its write.
            self._settle(write, entry, state, answer, call_id, note, intent, keep_answer)
        if state == "unknown":
            raise OutcomeUnknown(
                f"{note[:1].upper()}{note[1:]} for {write.label}: Ameyo may or may not have applied it "
                "(outcome unknown). Check with ameyo_get_contacts before sending it again."
            )
        for hook in self.on_answered:
            try:
                await hook(write, answer)
            except Exception as exc:  # the write is done and answered: a hook cannot undo that
                log.warning("after %s: %s failed (%s)", write.label, hook, type(exc).__name__)
        return Sent(answer, call_id)

    def _covers(self, approval: Approval | None, write: Write) -> bool:
        return (
            approval is not None and approval._key is self._approval_key and approval.records >= write.records
        )

    async def _claim(self, write: Write, allow_repeat: bool) -> _Entry:
        """The ledger entry of this write: an earlier settled one to answer from, or a fresh one
        in flight that this call now owns. Identical writes in flight are waited for, not raced,
        and so are other writes that schedule one of its callbacks."""
        ledger = self._ledger
        while True:
            self._prune()
            entry = ledger.get(write.identity)
            if entry is not None and entry.state == "flight":
                await entry.settled.wait()
                continue
            if entry is not None and not allow_repeat:
                return entry
            if not allow_repeat and await self._callback_done(write):
                continue  # waited for a write in flight that schedules one of these callbacks
            fresh = _Entry("flight", self._clock())
            ledger[write.identity] = fresh
            for key, _ in write.callbacks:
                ledger[key] = fresh
            return fresh

    async def _callback_done(self, write: Write) -> bool:
        """Waits for a write in flight that schedules one of `write`'s callbacks (True: look
        again); refuses `write` when another write scheduled one of them, or may have."""
        for key, words in write.callbacks:
            other = self._ledger.get(key)
            if other is None:
                continue
            if other.state == "flight":
                await other.settled.wait()
                return True
            ago = self._clock() - other.at
            maybe = " may have" if other.state == "unknown" else ""
            raise CallbackScheduled(
                f"Nothing was sent: another write{maybe} scheduled {words} {ago:.0f} s ago. Check it "
                "(ameyo_get_contacts), and pass allow_repeat=true only if a second callback is meant."
            )
        return False

    def _again(self, write: Write, entry: _Entry) -> Sent:
        ago = self._clock() - entry.at
        if entry.state == "unknown":
            raise EarlierOutcomeUnknown(
                f"The same write ({write.label}) {ago:.0f} s ago ended with an unknown outcome "
                f"({entry.note}). Check whether it happened (ameyo_get_contacts), then call again with "
                "allow_repeat=true only if it did not."
            )
        self._audit(
            "repeat", call_id=entry.call_id, command=write.request.command, seconds_since=round(ago, 1)
        )
        return Sent(entry.answer, entry.call_id, repeat_of_s=ago)

    def _prune(self) -> None:
        now = self._clock()
        ledger = self._ledger
        for identity, entry in list(ledger.items()):
            kept = UNKNOWN_KEPT_S if entry.state == "unknown" else self.window_s
            if entry.state != "flight" and now - entry.at > kept:
                del ledger[identity]
        excess = len(ledger) + 1 - self._max_entries  # room for the write about to be claimed
        if excess > 0:
            # Oldest answered first; writes in flight and unknown outcomes are the last to go.
            order = {"answered": 0, "unknown": 1, "flight": 2}
            ranked = sorted(ledger.items(), key=lambda kv: (order[kv[1].state], kv[1].at))
            for identity, _ in ranked[:excess]:
                if ledger[identity].state != "flight":
                    del ledger[identity]

    def _settle(
        self,
        write: Write,
        entry: _Entry,
        state: State | None,
        answer: Sequence[Any],
        call_id: str,
        note: str,
        intent: bool,
        keep_answer: bool,
    ) -> None:
        if state is None:
            for key in (write.identity, *(k for k, _ in write.callbacks)):
                if self._ledger.get(key) is entry:
                    del self._ledger[key]
        else:
            entry.state, entry.at, entry.call_id, entry.note = state, self._clock(), call_id, note
            entry.answer = answer if keep_answer else ()
            settings = self.ameyo.settings
            for key in _answered_callbacks(write, answer, settings.base_url, settings.phone_region):
                self._ledger.setdefault(key, entry)
        entry.settled.set()
        if not intent:
            return
        command, context = write.request.command, write.context
        if state == "answered":
            summary = answer_summary(answer)
            if len(answer) < write.records:  # the rows the answer left out have an unknown outcome
                summary |= {"missing_rows": write.records - len(answer), "outcome_unknown": True}
            self._audit("result", call_id=call_id, command=command, **context, **summary)
        else:
            unknown = state == "unknown"
            self._audit(
                "error", call_id=call_id, command=command, outcome_unknown=unknown, error=note, **context
            )

    async def _dispatch(self, request: WriteRequest) -> Sequence[Any]:
        ameyo = self.ameyo
        if isinstance(request, AddCallbackRequest):
            return await ameyo.add_callback(request)
        if isinstance(request, UploadWithCallbacksRequest):
            return await ameyo.upload_with_callbacks(request)
        return await ameyo.upload_contacts(request)

    # -- the audit trail ---------------------------------------------------------------------------

    def _intent(self, write: Write, call_id: str) -> None:
        if self.audit is None:
            return
        request = write.request.wire()
        # What a person needs to reconcile: the request, unless it is large (a bulk batch, whose
        # rows the contact file and its journal hold).
        if write.records > _AUDITED_RECORDS or len(_canonical(request)) > _AUDITED_CHARS:
            request = {k: v for k, v in request.items() if not isinstance(v, list)} | {
                "records": "(too large to keep)"
            }
        try:
            self.audit.append(
                "intent",
                call_id=call_id,
                command=write.request.command,
                campaign=write.campaign.campaign_id,
                lead=write.lead_id,
                records=write.records,
                request=request,
                **write.context,
            )
        except OSError as exc:
            raise AuditUnavailable(
                f"Nothing was sent: the audit trail {self.audit.path} cannot be written "
                f"({exc.strerror or type(exc).__name__}), and no write goes out unaudited. Free the disk or "
                "fix AMEYO_AUDIT_FILE, then try again."
            ) from None

    def _audit(self, event: str, **fields: Any) -> None:
        if self.audit is not None:
            self.audit.write(event, **fields)


def _answered_callbacks(write: Write, answer: Sequence[Any], server: str, region: str) -> list[str]:
    """The keys of callbacks an upload scheduled for customers whose id only the answer told."""
    request = write.request
    if not isinstance(request, UploadWithCallbacksRequest):
        return []
    keys: list[str] = []
    for record, row in zip(request.records, answer, strict=False):
        customer_id = getattr(row, "customer_id", None)
        callback = record.callback_record
        if customer_id is None or callback.customer_id or not getattr(row, "callback_id", None):
            continue
        number = callback.call_back_phone or record.customer_record.get("phone1", "")
        key, _ = callback_key(
            server,
            write.campaign.campaign_id,
            customer_id,
            number,
            callback.call_back_time,
            callback.user_id,
            region,
        )
        keys.append(key)
    return keys


def answer_summary(answer: Sequence[Any]) -> dict[str, Any]:
    """What a person reconciling the audit trail needs of an answer: counts, ids, failures (one
    pass over the rows: a bulk batch's answer has 500)."""
    counts: Counter[str] = Counter()
    customer_ids: list[int] = []
    callback_ids: list[str] = []
    failed: list[int] = []
    for position, row in enumerate(answer, start=1):
        if isinstance(row, RecordResult):
            kind = row.result_type or ("INSERTED" if row.inserted else "UNKNOWN")
            counts[kind] += 1
            if row.customer_id is not None:
                customer_ids.append(row.customer_id)
            if row.exception or kind.endswith("FAILED"):
                failed.append(position)
        callback_id = getattr(row, "callback_id", None)
        if callback_id:
            callback_ids.append(str(callback_id))
    summary: dict[str, Any] = {"rows": len(answer)}
    for name, value in (
        ("counts", dict(counts)),
        ("customer_ids", customer_ids),
        ("callback_ids", callback_ids),
        ("failed_positions", failed),
    ):
        if value:
            summary[name] = value
    return summary
