"""The one write path: every change to Ameyo's data goes through here, whoever asks for it.

    ameyo_add_callback ──────────┐
    ameyo_upload_contacts(_with_callbacks) ─┼─► plan_*(): a `Write`, the wire request as Ameyo will run it
    ameyo_upload_contacts_file, `ameyo-mcp upload` (per batch) ─┘        │
                                                                          ▼
    WritePath.send(write, …)
      1. confirmation: over AMEYO_CONFIRM_OVER records the person says yes (elicitation, or the
         2026-07-28 input-required round trip), or the caller shows the token of a dry run of this
         very write (`approve`); a settled repeat is answered before anyone is asked
      2. the claim, in the store's write ledger (store/ledger.py), shared by every tool, process and
         replica on the store: the write's identity (what Ameyo will do, records in any order) and
         each callback's (the number under the phone rule, time, agent), in one transaction only one
         claimant wins. A settled write is a repeat (answered: its answer again) or a refusal
         (unknown: until `allow_repeat`); one in flight, in any process, is waited for; one whose
         sender died or outlived its lease is unknown. An upload's numbers take the spelling the
         ledger has for them (`Respelled`: plan it again)
      3. audit intent, fsynced: if it cannot be written, nothing is sent
      4. the request; whatever ends it (answer, error, timeout, drop, cancellation, shutdown) settles
         the ledger and the audit as answered, failed (Ameyo certainly did not apply it: the claim is
         released) or unknown

A new write tool plans its `Write` with a `plan_*` function (`plans.py`, or one added there) and
calls `send`; nothing else calls Ameyo's write commands. No MCP types here: tools/common.py adapts
elicitation and turns these errors into tool errors.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import secrets
import threading
import time
import uuid
import weakref
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from pydantic import BaseModel, ValidationError

from ..ameyo.client import ON_WIRE
from ..ameyo.models import (
    RecordResult,
)
from ..ameyo.result_types import ADD_FAILED
from ..ameyo.service import Ameyo
from ..errors import (
    AmeyoError,
    AmeyoMcpError,
    AuditUnavailable,
    CallbackScheduled,
    EarlierOutcomeUnknown,
    LedgerUnavailable,
    NeedsConfirmation,
    NotConfirmed,
    OutcomeUnknown,
    Respelled,
    RowsSent,
    StoreBusy,
    StoreError,
    WriteError,
    as_clause,
)
from ..index.held import (
    NewestSeen,
    held_spellings,
    index_hits,
    indexed_customers,
    lookalikes,
    newest_before_run,
    newest_customers,
    synced_index,
)
from ..rules.counts import counted
from ..rules.owners import new_owner, owner_alive
from ..rules.sanitize import data_text
from ..rules.times import AMEYO_FORMAT, ago_text
from . import callback_rules, plans
from .audit import AuditLog
from .plans import (
    CALLBACK,
    CALLBACKS_ARE_IN_AMEYO,
    Approval,
    Sent,
    StillToCome,
    Write,
    callback_words,
    callbacks_to,
    canonical,
    check_again,
    held_by,
    what_to_check,
    write_kind,
)

# A callback's key is held a day past its time: still to come until then, wherever the clocks are.
_DUE_HELD_S = 86_400.0

if TYPE_CHECKING:
    from ..ameyo.models import Contact
    from ..store import Store
    from ..store.ledger import LedgerEntry, Settlement

T = TypeVar("T")

log = logging.getLogger(__name__)

# What the person is asked; None when this connection cannot ask (the token is needed then).
# Asked with the question and what it binds: the identity of the exact write (its rows), so that an
# answer given to one write is never taken for another that reads the same.
Ask = Callable[[str, str], Awaitable[bool | None]]

# A file's batch, once its claim is won: the write to send, its numbers as earlier uploads spelt them
# (`WritePath.send`'s `respell`).
Respell = Callable[[Mapping[str, str]], "Write"]

# Told of each write Ameyo answered (not of an earlier answer given again), e.g. to add an upload's
# customers to the index. Its failure is logged, never the write's.
Answered = Callable[["Write", Sequence[Any]], Awaitable[None]]
_AUDITED_CHARS = 20_000
_AUDITED_RECORDS = 100


# -- the ledger ---------------------------------------------------------------------------------------

# An unknown outcome, a callback and a file's batch are remembered for the whole ledger (forgetting
# them would let the same write go out blindly again); a small write's answer for the repeat window,
# though the records an upload tool sent hold back other uploads of them for the whole ledger too
# (`ledger.rows_held`: a record goes once, whichever upload carries it).
DEFAULT_LEDGER_DAYS = 30.0
# Dry-run tokens are good for a day: long enough for a person to decide.
TOKEN_KEPT_S = 24 * 3600.0
_PRUNE_EVERY_S = 3600.0
# How often a settlement the store did not take (it was down) is given to it again.
_SETTLE_RETRY_S = 2.0
# The write paths of this process, by owner: a write in flight of one of them is waited for by the
# others (a server and a tool of its own, tests). Held weakly: a path nothing holds any more sends
# nothing, and its writes in flight are its process's lost ones.
_PATHS_HERE: weakref.WeakValueDictionary[str, WritePath] = weakref.WeakValueDictionary()


class Repeats:
    """The repeats the ledger stopped in this process, by when: answered from it (the earlier answer
    given again, nothing sent) or refused (an earlier outcome unknown, a callback already scheduled).
    The ledger keeps no row for them; the operator's page counts today's."""

    def __init__(self, keep: int = 10_000) -> None:
        self._answered: deque[float] = deque(maxlen=keep)
        self._refused: deque[float] = deque(maxlen=keep)

    def add(self, at: float, *, refused: bool) -> None:
        (self._refused if refused else self._answered).append(at)

    def since(self, at: float) -> tuple[int, int]:
        """(answered, refused) since `at`, seconds since the epoch."""
        return sum(t >= at for t in list(self._answered)), sum(t >= at for t in list(self._refused))


REPEATS = Repeats()


class WritePath:
    """The confirmation policy, the audit and the store's write ledger around every write.

    The ledger is the store's (`store/ledger.py`): every process and tool on one store shares it,
    so a write claimed by one is a repeat, a wait or a refusal for all the others."""

    def __init__(
        self,
        ameyo: Ameyo,
        *,
        audit: AuditLog | None,
        window_s: float,
        confirm_over: int | None,
        store: Callable[[], Store],
        ledger_days: float = DEFAULT_LEDGER_DAYS,
        clock: Callable[[], float] = time.time,
        lease_s: float | None = None,
    ) -> None:
        self.ameyo = ameyo
        self.audit = audit
        self.window_s = window_s
        self.confirm_over = confirm_over
        self.ledger_s = ledger_days * 86400.0
        self._store = store
        self._clock = clock
        self._lease_s = lease_s
        # Who holds a claim: host and process (to see a dead sender on this host at once), and a
        # nonce, since a restarted container often gets the same process id.
        self.owner = new_owner()
        _PATHS_HERE[self.owner] = self
        # This process's writes in flight: to wait on, the time their lease ends, and its length.
        self._mine: dict[str, tuple[anyio.Event, float, float]] = {}
        # Settlements the store did not take (a full disk, a database restarting), with when they
        # were made: tried again every few seconds by a thread of their own, and before the next
        # claim, so that others waiting on the write read its answer soon after the store is back.
        self._unsettled: dict[str, tuple[list[str], Settlement, float, str]] = {}
        self._unsettled_lock = threading.Lock()
        self._retrying: threading.Thread | None = None
        self._pruned = 0.0
        self._approval_key = object()
        self.on_answered: list[Answered] = []

    @classmethod
    def for_settings(
        cls, ameyo: Ameyo, *, confirm: bool = True, store: Callable[[], Store] | None = None
    ) -> WritePath:
        """The write path as the settings describe it; `confirm=False` for a person at a terminal,
        who confirmed by running the command. Its ledger, and the index that uploads feed, are the
        store of `store` (the server's), or else the one `ameyo` keeps its session lease in."""
        from ..index.updates import index_answers

        settings = ameyo.settings
        if store is None:
            store = ameyo.store
        path = cls(
            ameyo,
            audit=AuditLog(settings.resolved_audit_file(), ameyo=settings.base_url, days=settings.audit_days),
            window_s=settings.repeat_window_s,
            confirm_over=settings.confirm_over if confirm else None,
            store=store,
            ledger_days=settings.ledger_days,
        )
        path.on_answered.append(index_answers(settings, store))  # the same store as the ledger
        return path

    # -- confirmation ----------------------------------------------------------------------------

    def needs_confirmation(self, records: int) -> bool:
        return self.confirm_over is not None and records > self.confirm_over

    def dry_run_token(self, identity: str) -> str:
        """A token for a real run of exactly this write (same rows, same target): the store keeps
        its digest, so it is accepted by any process on the store, for a day."""
        token = secrets.token_hex(10)
        self._store().add_confirm_token(_digest(token), identity, self._clock())
        return token

    def _token_fits(self, token: str, identity: str) -> bool:
        since = self._clock() - TOKEN_KEPT_S
        return self._store().confirm_token_fits(_digest(token), identity, since=since)

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
            answer = await ask(f"Send {label} to Ameyo{extra}? Nothing is sent unless you confirm.", identity)
            if answer is True:
                return Approval(records, self._approval_key)
            if answer is False:
                raise NotConfirmed(f"The person did not confirm sending {label}; nothing was sent.")
        if token is not None:
            fits: bool = await self._ledger(self._token_fits, token, identity)
            if fits:
                return Approval(records, self._approval_key)
        why = "does not match a dry run of these same records" if token else "is missing"
        raise NeedsConfirmation(
            f"Nothing was sent: {label} is more than {counted(self.confirm_over or 0, 'record')} "
            "(AMEYO_CONFIRM_OVER) and "
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
        respell: Respell | None = None,
        window: Callable[[], AbstractAsyncContextManager[object]] | None = None,
        in_place: bool = False,
    ) -> Sent:
        """Send `write` at most once (see the module's map). Raises a `WriteError` or the
        `AmeyoError` of a failure that certainly changed nothing. With `keep_answer=False` (a bulk
        batch, whose answer the journal keeps) the ledger records that it was answered but not
        the answer: a repeat of it comes back with an empty `answer` and the batch's context.

        `respell` (a file's batch, claimed under the identity of its rows as the file has them):
        the claim also reads how earlier uploads spelt the write's `numbers`, in its own
        transaction, and `respell(held)` gives the write to send, with the same identity.

        `window()` is entered when the request is ready to leave (claimed, audited) and left when
        its answer is in: the caller's bound on its requests in flight, while it claims and
        settles others (a file's batches). A request that fails (an error, or an answer that
        leaves the outcome unknown) raises through it. An error raised by it sends nothing, as
        any before the request leaves: the claim is released.

        `in_place`: the claim runs on the event loop, not in a worker thread. For a file's
        batches: the upload's loop is busy checking rows, so a worker thread waits for the
        interpreter lock after each statement of the claim, and those hand-overs cost more than
        the claim itself (one short transaction). While another thread has the store (a sync
        writing a page), the claim waits for it in a worker thread all the same: the loop never
        waits for another thread. A single write keeps the loop free for the server's other
        calls, whatever the database's round trips cost."""
        if self.ameyo.settings.read_only:
            raise WriteError(
                f"Nothing was sent: this server is read-only (AMEYO_READ_ONLY=true), so {write.label} "
                "cannot be written. Tell the person; an administrator can change the setting."
            )
        keys = [write.identity, *(k for k, _ in write.callbacks)]
        if not allow_repeat and not self._covers(approval, write) and self.needs_confirmation(write.records):
            # A settled repeat is answered (or refused) before the person is asked anything.
            for entry in await self._ledger(self._store().ledger_entries, keys):
                done = self._settled(write, entry)
                if done is not None:
                    return done
        if not self._covers(approval, write):
            approval = await self.approve(
                records=write.records,
                identity=write.identity,
                label=write.label,
                refused=refused,
                token=token,
                ask=ask,
            )
        call_id = uuid.uuid4().hex[:12]
        claimed = await self._claim(
            write, keys, call_id, allow_repeat, spellings=respell is not None, in_place=in_place
        )
        if isinstance(claimed, Sent):
            return claimed
        state: str | None = None  # None: not sent, so the claim is released
        answer: Sequence[Any] = ()
        note = ""
        intent = False
        on_wire = [False]
        reset = ON_WIRE.set(on_wire)
        try:
            if respell is not None:
                respelt = respell(claimed)
                if respelt.identity != write.identity:
                    raise ValueError("respell must keep the write's identity: it is claimed under it")
                write = respelt
            self._intent(write, call_id)
            intent = True
            async with window() if window is not None else nullcontext():
                self._still_mine(write)  # in the window: waiting for it is part of the delay
                answer = await self.ameyo.send(write.request)
                if not answer:  # raised within the window, which sees every request that failed
                    state, note = "unknown", "Ameyo answered with an empty list"
                    raise OutcomeUnknown(
                        f"{note[:1].upper()}{note[1:]} for {write.label}: Ameyo may or may not have applied "
                        "it (outcome unknown).",
                        next_step=check_again(write),
                    )
            state = "answered"
        except OutcomeUnknown:
            raise  # its state and note are set
        except AmeyoError as exc:
            state = "unknown" if exc.outcome_unknown else None
            note = exc.message
            if exc.outcome_unknown:
                exc.step_instead(
                    "The request was sent, so Ameyo may or may not have applied it: its outcome is "
                    f"unknown. {check_again(write)}"
                )
            raise
        except BaseException as exc:  # cancellation, shutdown, a bug: the request may have left
            state = "unknown" if on_wire[0] else None
            note = f"the call ended before Ameyo answered ({_ending(exc)})"
            raise
        finally:
            ON_WIRE.reset(reset)
            # No await from here on: a cancelled call cannot skip settling its write.
            resent = allow_repeat or write.resend_unknown
            self._settle(write, keys, state, answer, call_id, note, intent, keep_answer, resent)
        for hook in self.on_answered:
            try:
                await hook(write, answer)
            except Exception as exc:  # the write is done and answered: a hook cannot undo that
                what = getattr(hook, "__name__", "a follow-up").replace("_", " ")
                why = exc.message if isinstance(exc, AmeyoMcpError) else type(exc).__name__
                log.warning("after %s: %s failed (%s)", write.label, what, why)
        return Sent(answer, call_id)

    def _covers(self, approval: Approval | None, write: Write) -> bool:
        return (
            approval is not None and approval._key is self._approval_key and approval.records >= write.records
        )

    async def _ledger(self, call: Callable[..., T], *args: Any, in_place: bool = False, **kwargs: Any) -> T:
        """A ledger call in a worker thread; a store that cannot take it refuses the write.
        `in_place` (see `send`; `call` takes `wait`): on the event loop, unless another thread has
        the store, which the loop does not wait for."""
        try:
            if in_place:
                try:
                    return call(*args, wait=False, **kwargs)
                except StoreBusy:
                    pass  # another thread has the store (a sync's page): wait for it off the loop
            return await anyio.to_thread.run_sync(functools.partial(call, *args, **kwargs))
        except Exception as exc:
            if isinstance(exc, StoreError):  # it names the database, and what to do about it
                reason, step = as_clause(exc.message[:300]), exc.next_step
            else:
                log.warning("the write ledger failed unexpectedly", exc_info=True)
                reason = f"{self._store().where}: {type(exc).__name__}"
                step = LedgerUnavailable.next_step
            raise LedgerUnavailable(
                f"Nothing was sent: the write ledger cannot be used ({reason}), and no write goes out "
                "unrecorded",
                next_step=step,
            ) from None

    async def _claim(
        self,
        write: Write,
        keys: list[str],
        call_id: str,
        allow_repeat: bool,
        *,
        spellings: bool = False,
        in_place: bool = False,
    ) -> Sent | dict[str, str]:
        """Claim the write's keys in the ledger, or give the earlier answer of the same write. Won,
        this call owns the write and sends it: the spellings earlier uploads gave its numbers
        come back (with `spellings`; empty otherwise). Writes in flight that hold one of the keys
        are waited for, not raced, whichever process sends them."""
        pause = 0.02
        server, campaign_id = self.ameyo.settings.base_url, write.campaign.campaign_id
        if self._lease_s is None and self.ameyo.settings.timeout_s is None:
            # The session first: its login (or the one the store shares) tells Ameyo's command
            # timeout, which the request will wait and the lease must cover. A lease from the
            # default was shorter than a slow server's wait: others called a write still in
            # flight unknown, and told to send it again, sent it twice.
            await self.ameyo.session.session_id()
        while True:
            if self._unsettled:
                await self._ledger(self._settle_again)
            now = self._clock()
            if now - self._pruned > _PRUNE_EVERY_S:
                self._pruned = now
                await self._ledger(
                    self._store().prune_ledger,
                    before=now - self.ledger_s,
                    tokens_before=now - TOKEN_KEPT_S,
                    now=now,
                )
            from ..store.ledger import Claimant  # loaded with the store, on the first write

            lease_s = self.lease_s
            who = Claimant(
                write_id=write.identity,
                owner=self.owner,
                now=now,
                lease_s=lease_s,
                call_id=call_id,
                label=write.label,
                context=dict(write.context),
                allow_repeat=allow_repeat,
                alive=self._alive,
                orphan_hold_s=self.ledger_s,
                numbers=[(server, campaign_id, number, sent) for number, sent in write.numbers],
                rows=[(server, campaign_id, number, digest) for number, digest in write.rows],
                check_rows=not allow_repeat or write.resend_unknown,
                resend_unknown=write.resend_unknown,
                rows_s=self.ledger_s,
                spellings=spellings,
                subjects={key: (subject, at, agent) for key, subject, at, agent in write.subjects},
            )
            # Shielded: a claim won in its thread must reach this call, which then owns it and
            # settles it (a cancellation lands at the next await, inside `send`'s settling).
            with anyio.CancelScope(shield=True):
                claim = await self._ledger(self._store().claim_write, keys, who, in_place=in_place)
            if claim.won:
                self._mine[write.identity] = (anyio.Event(), now + lease_s, lease_s)
                return claim.held
            if claim.respell:
                raise Respelled(claim.respell)
            if claim.rows:
                raise RowsSent(claim.rows)
            entry = claim.blocking
            assert entry is not None
            if entry.state != "flight":
                done = self._settled(write, entry)
                assert done is not None
                return done
            if entry.write_id == write.identity:
                # The same write, sent by another call at this very moment (allow_repeat too): the
                # repeat asked for is that one, and its answer is this call's. Three clients told
                # "allow_repeat=true" at once had each sent one.
                allow_repeat = False
            mine = self._mine.get(entry.write_id)
            if mine is not None:
                await mine[0].wait()
            else:  # another process's write: look again, less and less often
                await anyio.sleep(pause)
                pause = min(pause * 2, 0.5)

    async def standing(self, write: Write) -> LedgerEntry | None:
        """The ledger's settled entry of this very write while it stands (a repeat of it would be
        answered from it, or refused while its outcome is unknown): what a dry run tells of it."""
        entries = await self._ledger(self._store().ledger_entries, [write.identity])
        now = self._clock()
        return next((e for e in entries if _stands(e, now)), None)

    async def unanswered(self, write: Write) -> set[str]:
        """The numbers of `write`'s records that Ameyo's answer to it left out, when it was sent
        and answered before: a repeat of it tells those of unknown outcome, not answered."""
        if not write.rows:
            return set()
        return await self._ledger(self._store().unanswered_rows, write.identity)

    async def rows_held(self, write: Write) -> dict[str, LedgerEntry]:
        """By number, the writes of other uploads that sent records of this one (`Write.rows`), as its
        claim would find them (`RowsSent`); one in flight, as of unknown outcome: what a dry run
        tells, and what a tool's upload sets aside before sending."""
        if not write.rows:
            return {}
        server, campaign_id = self.ameyo.settings.base_url, write.campaign.campaign_id
        return await self._ledger(
            self._store().rows_held,
            server,
            campaign_id,
            dict(write.rows),
            write.identity,
            now=self._clock(),
            resend_unknown=write.resend_unknown,
            rows_s=self.ledger_s,
        )

    async def held_callbacks(self, write: Write) -> dict[str, LedgerEntry]:
        """By callback key, the settled entries of other writes that hold `write`'s callbacks while
        they stand (answered, or of unknown outcome): what its claim would be refused for
        (`CallbackScheduled`). A file's batch sets those rows aside and sends the others."""
        keys = [key for key, _ in write.callbacks]
        if not keys:
            return {}
        entries = await self._ledger(self._store().ledger_entries, keys)
        now = self._clock()
        return {e.key: e for e in entries if e.write_id != write.identity and _stands(e, now)}

    def clock(self) -> float:
        """Now, as the ledger's times are kept (seconds since the epoch)."""
        return self._clock()

    async def other_callbacks(self, write: Write, numbers: Sequence[str] = ()) -> dict[str, StillToCome]:
        """By who `write`'s callbacks dial (`callbacks_to`), and who `numbers` (the customer's other
        numbers) are: the other callbacks to them that writes through the ledger scheduled, or may
        have (in flight, or of unknown outcome), and that are still to come. Empty when it schedules
        none, or the store cannot say."""
        mine = {subject for _, subject, _, _ in write.subjects}
        if not mine:
            return {}
        return await self.callbacks_still_to_come(
            write.campaign.campaign_id, numbers, subjects=mine, besides=write.identity
        )

    async def callbacks_still_to_come(
        self,
        campaign_id: int,
        numbers: Sequence[str],
        *,
        subjects: Iterable[str] = (),
        besides: str | None = None,
    ) -> dict[str, StillToCome]:
        """By who they dial (`callbacks_to` of `numbers`, and `subjects`): the callbacks writes
        through the ledger scheduled, or may have, that are still to come, but those of the write
        `besides`. Empty when there are none, or the store cannot say."""
        server, region = self.ameyo.settings.base_url, self.ameyo.settings.phone_region
        mine = {*subjects, *(callbacks_to(server, campaign_id, number, region) for number in numbers)}
        if not mine:
            return {}
        try:
            found = await self._ledger(self._store().callbacks_to, sorted(mine), now=self._clock())
        except (StoreError, LedgerUnavailable, OSError):
            return {}
        now = datetime.fromtimestamp(self._clock(), self.ameyo.settings.zone).strftime(AMEYO_FORMAT)
        # Each entry is one callback (a callback key), listed as such: a set of times named three
        # callbacks at one time, for three agents, as one.
        sure: dict[str, list[str]] = {}
        maybe: dict[str, list[str]] = {}
        for entry in found:  # (a write's own keys are claimed under its identity)
            at = entry.subject_at or ""
            if entry.subject and entry.write_id != besides and at > now:
                agent = data_text(entry.subject_agent, 64) if entry.subject_agent else None
                shown = callback_words(at, agent, self.ameyo.settings.zone)
                (sure if entry.state == "answered" else maybe).setdefault(entry.subject, []).append(shown)
        return {
            subject: StillToCome(sorted(sure.get(subject, ())), sorted(maybe.get(subject, ())))
            for subject in sure.keys() | maybe.keys()
        }

    def _settled(self, write: Write, entry: LedgerEntry) -> Sent | None:
        """What a settled ledger entry that holds one of `write`'s keys means for it: the same
        write answered (a repeat), or a refusal; None when it no longer stands in the way."""
        now = self._clock()
        if not _stands(entry, now):
            return None
        seconds = now - (entry.settled_at or entry.claimed_at)
        # An unknown outcome is told from when it was sent; an answer from when it came.
        when = ago_text(now - entry.claimed_at if entry.state == "unknown" else seconds)
        REPEATS.add(now, refused=entry.write_id != write.identity or entry.state == "unknown")
        same = entry.write_id == write.identity
        if same and entry.state == "unknown":
            raise EarlierOutcomeUnknown(
                f"The same write ({write.label}) was sent {when} and ended with an unknown outcome "
                f"({entry.note}).",
                next_step=what_to_check(write.label, write.context),
                entry=entry,
            )
        # The same callback asked for again, its time in the same minute (its key), is answered as
        # the same write is: Ameyo's answer to the first, whose time the tool shows.
        if same or (
            entry.state == "answered"
            and _one_callback(write)
            and write_kind(entry.label, entry.context) == CALLBACK
        ):
            self._audit(
                "repeat",
                call_id=entry.call_id,
                command=write.request.command,
                seconds_since=round(seconds, 1),
            )
            answer = _answer_from(write, entry.answer)
            return Sent(answer, entry.call_id, repeat_of_s=seconds, earlier=entry.context)
        words = dict(write.callbacks).get(entry.key, "one of its callbacks")
        # The fact apart from the step: a file upload, which has no allow_repeat, says its own.
        raise CallbackScheduled(
            f"Nothing was sent: {held_by(entry, words, now)}.",
            next_step=f"{CALLBACKS_ARE_IN_AMEYO}; pass allow_repeat=true only if a second callback is meant.",
        )

    def _due(self, write: Write) -> dict[str, float]:
        """When each callback of `write` is due (seconds since the epoch), by its key."""
        zone = self.ameyo.settings.zone
        due: dict[str, float] = {}
        for key, _, at, _ in write.subjects:
            with contextlib.suppress(ValueError):
                due[key] = datetime.strptime(at, AMEYO_FORMAT).replace(tzinfo=zone).timestamp()
        return due

    @property
    def lease_s(self) -> float:
        """How long a write in flight is vouched for by its sender: a login, the request, a second
        login and the request again, each within the client's timeout (without AMEYO_TIMEOUT_S,
        Ameyo's own command timeout and a margin, learnt at login). Past it, others call it unknown."""
        if self._lease_s is not None:
            return self._lease_s
        return 4 * self.ameyo.client.timeout_s + 30

    def _alive(self, owner: str) -> bool:
        """Whether the sender of a write in flight may still answer it. On this host a sender whose
        process is gone is seen at once (an earlier life of this process id, too: a restart);
        elsewhere its lease says."""
        return owner_alive(owner, here=_PATHS_HERE.__contains__)

    def _still_mine(self, write: Write) -> None:
        """Refuse to send a write whose lease has run half out since it was claimed (this process
        was paused, or starved): others may soon call it unknown and be told to send it again."""
        mine = self._mine.get(write.identity)
        if mine is not None and self._clock() > mine[1] - mine[2] / 2:
            raise WriteError(
                f"Nothing was sent: {write.label} waited too long between being claimed and being sent "
                "(this server was paused or overloaded). Try again."
            )

    def _settle_again(self) -> None:
        """The settlements the store did not take when they were made, given to it again (as of
        when they were made: a repeat says how long ago Ameyo answered, not when the store took it)."""
        store = self._store()
        with self._unsettled_lock:
            waiting = list(self._unsettled.items())
        for identity, pending in waiting:
            keys, how, at, _label = pending
            store.settle_write(keys, write_id=identity, owner=self.owner, now=at, how=how)
            with self._unsettled_lock:
                if self._unsettled.get(identity) is pending:
                    del self._unsettled[identity]

    async def finish(self, within: float) -> None:
        """Before the process ends: give the store what it has not taken yet, for up to `within`
        seconds, and say which writes it never took. They will read as unknown to the others,
        though Ameyo answered them: the log keeps their call ids for whoever checks."""
        deadline = self._clock() + within
        while self._unsettled and self._clock() < deadline:
            with contextlib.suppress(Exception):
                await anyio.to_thread.run_sync(self._settle_again)
            if self._unsettled:
                await anyio.sleep(min(_SETTLE_RETRY_S / 4, max(deadline - self._clock(), 0)))
        with self._unsettled_lock:
            left = list(self._unsettled.items())
        for _identity, (_keys, how, _at, label) in left:
            log.warning(
                "The write ledger never took how %s ended (%s) before this process stopped: other "
                "processes will read it as of unknown outcome; the audit trail has Ameyo's answer",
                label,
                how.state,
            )

    def _keep_unsettled(self, identity: str, keys: list[str], how: Settlement, at: float, label: str) -> None:
        """Hold a settlement the store did not take, and keep giving it to the store until it does."""
        with self._unsettled_lock:
            self._unsettled[identity] = (keys, how, at, label)
            if self._retrying is not None and self._retrying.is_alive():
                return
            self._retrying = threading.Thread(target=self._retry_settling, name="ledger-settle", daemon=True)
            self._retrying.start()

    def _retry_settling(self) -> None:
        while True:
            time.sleep(_SETTLE_RETRY_S)
            try:
                self._settle_again()
            except Exception:  # still down: the next round tries again
                continue
            with self._unsettled_lock:
                if not self._unsettled:
                    self._retrying = None
                    return

    async def spellings(self, campaign_id: int, numbers: Sequence[tuple[str, str]]) -> dict[str, str]:
        """phone1 as Ameyo holds it, by identity, for the (`phones.identity`, phone1) of an upload:
        as earlier uploads through any process on the store sent it to the campaign, else as the
        campaign's index finds it a customer's phone1 (`indexed_spellings`). What to send again."""
        if not numbers:
            return {}
        found = await self.sent_spellings(campaign_id, numbers)
        unknown = [(identity, phone) for identity, phone in numbers if identity not in found]
        return found | await self.indexed_spellings(campaign_id, unknown)

    async def sent_spellings(self, campaign_id: int, numbers: Sequence[tuple[str, str]]) -> dict[str, str]:
        """phone1 by identity as earlier uploads through any process on the store sent it to the
        campaign (each claim keeps the spelling its numbers go out in, and a later upload sends
        them so): how a batch of unknown outcome went out."""
        if not numbers:
            return {}
        server = self.ameyo.settings.base_url
        identities = [identity for identity, _ in numbers]
        found: dict[str, str] = await self._ledger(
            self._store().sent_spellings, server, campaign_id, identities
        )
        return found

    async def indexed_spellings(self, campaign_id: int, numbers: Sequence[tuple[str, str]]) -> dict[str, str]:
        """phone1 as Ameyo holds it now for those of `numbers` the campaign's index knows as a
        customer's phone1 in another spelling (`index.held`): nothing when it cannot tell."""
        if not numbers:
            return {}
        try:
            store = self._store()
        except (StoreError, OSError):
            return {}
        return await held_spellings(self.ameyo, store, campaign_id, numbers)

    async def indexed(self, campaign_id: int, numbers: Sequence[str]) -> tuple[datetime | None, int]:
        """When the campaign's index was synced (None: never, or the store cannot say), and how
        many of `numbers` (phone1 as an upload sends them) are numbers of customers it holds."""
        region = self.ameyo.settings.phone_region
        try:
            index, found = await anyio.to_thread.run_sync(
                index_hits, self._store(), campaign_id, list(numbers), region
            )
        except (StoreError, OSError):
            return None, 0
        if index is None or index.synced_at is None:
            return None, 0
        return index.synced_at, len({p for positions in found.values() for p in positions})

    async def do_not_call(
        self,
        campaign_id: int,
        records: Mapping[int, callback_rules.Dials],
        newest: NewestSeen | None = None,
    ) -> callback_rules.DoNotCall:
        """`callback_rules.DoNotCall` of writes, by the caller's position of each, given as the
        numbers it has dialled (`callback_rules.dials`): the customers who hold any of them (the
        one Ameyo matches a record to by phone1, the one a callback rings, those on the line of a
        new customer a record adds), as the campaign's index finds them by any of their numbers,
        their last disposition read live. One store query for all of them, and Ameyo asked only
        of the customers it finds. `newest`: a run's reads of the newest contacts, which stand for
        its later checks (`index.held.NewestSeen`); without it the newest are read for this check."""
        check = callback_rules.DoNotCall()
        try:
            store = self._store()
        except (StoreError, OSError):
            return check
        # (position, number) → whether it is dialled whatever Ameyo does with the record.
        asked: dict[tuple[int, str], bool] = {}
        for position, dials in records.items():
            asked |= dict.fromkeys(((position, number) for number in dials.always), True)
            for number in dials.if_added:
                asked.setdefault((position, number), False)
        numbers = [number for _, number in asked]
        record_of = [position for position, _ in asked]
        always = list(asked.values())
        found = await indexed_customers(
            self.ameyo,
            store,
            campaign_id,
            numbers,
            columns=callback_rules.DISPOSITION_COLUMNS,
            any_number=True,
        )
        if found is None:  # (its own read of the index says whether there is one)
            return check
        check.indexed = True
        # A customer added since the index's sync is not in it, whether or not the index knows
        # another customer by the same number (a shared line rings them both): the newest contacts
        # are read live for every number, as ameyo_add_callback's lookup reads them, less the
        # customers the index found and that were just read.
        added = await newest_customers(
            self.ameyo,
            store,
            campaign_id,
            numbers,
            columns=callback_rules.DISPOSITION_COLUMNS,
            seen=newest,
            known={contact.customer_id for contact, _ in found.found},
            index=found.index,
        )
        check.beyond = added.beyond
        region = self.ameyo.settings.phone_region
        matched = callback_rules.matched(records, list(asked), found.found, added.found, region)
        check.held = {position: callback_rules.held_phone1(contact) for position, contact in matched.items()}

        def dialled(i: int) -> bool:
            return always[i] or record_of[i] not in matched

        def moved(i: int, contact: Contact) -> int | None:
            """The lead the record's migrate moves `contact` into, when they are the customer Ameyo
            matches it to and are not in that lead already (a lead not read: taken as another)."""
            lead, theirs = records[record_of[i]].moves_into, matched.get(record_of[i])
            if lead is None or theirs is None or theirs.customer_id != contact.customer_id:
                return None
            return None if contact.lead_id == lead else lead

        for unread, failure in ((found.unread, found.failure), (added.unread, added.failure)):
            for i in unread:
                if dialled(i):
                    check.unread.setdefault(record_of[i], failure)
        for contact, positions in (*found.found, *added.found):
            disposition = callback_rules.last_disposition(contact.extra_data)
            if callback_rules.do_not_call(disposition):
                for i in positions:
                    if record_of[i] in check.refused:
                        continue
                    if dialled(i):
                        check.refused[record_of[i]] = (contact.customer_id, disposition)
                        if not always[i]:  # (a new customer the record would add on their line)
                            check.lines[record_of[i]] = numbers[i]
                    elif (lead := moved(i, contact)) is not None:
                        check.refused[record_of[i]] = (contact.customer_id, disposition)
                        check.moves[record_of[i]] = lead
        return check

    async def newest_before_run(self, campaign_id: int, newest: NewestSeen) -> bool:
        """`index.held.newest_before_run`: the newest contacts a run's `do_not_call` checks start
        from, read before it sends anything, and whether the campaign has a synced index to check
        by; nothing read, and False, when the store cannot say (nor can the checks)."""
        try:
            store = self._store()
        except (StoreError, OSError):
            return False
        try:
            return await newest_before_run(
                self.ameyo, store, campaign_id, newest, columns=callback_rules.DISPOSITION_COLUMNS
            )
        except (StoreError, OSError):
            return False

    async def lookalikes(self, campaign_id: int, numbers: Sequence[str]) -> list[tuple[int, Contact]]:
        """`index.held.lookalikes`: by position of `numbers`, the customers whose phone1 only ends
        with one (another number), that its upload would not reach; nothing when the store cannot say."""
        try:
            store = self._store()
        except (StoreError, OSError):
            return []
        return await lookalikes(self.ameyo, store, campaign_id, numbers)

    async def unknown_agents_note(self, agents: Iterable[str]) -> list[str]:
        """`answers.agents.unknown_agents_note` of the agents callbacks are routed to; nothing when
        the store cannot say."""
        from ..answers.agents import unknown_agents_note

        asked = [a for a in agents if a]
        if not asked:
            return []
        try:
            note = await anyio.to_thread.run_sync(unknown_agents_note, self._store(), asked)
        except (StoreError, OSError):
            return []
        return [note] if note else []

    async def customer_fields(self, campaign_id: int) -> tuple[datetime | None, tuple[str, ...]]:
        """The customer fields the campaign's contacts have, as its index's syncs saw them, and when
        it was synced: (None, ()) when it cannot tell."""
        try:
            index = await synced_index(self._store(), campaign_id)
        except (StoreError, OSError):
            return None, ()
        return (index.synced_at, index.fields) if index is not None else (None, ())

    def _settle(
        self,
        write: Write,
        keys: list[str],
        state: str | None,
        answer: Sequence[Any],
        call_id: str,
        note: str,
        intent: bool,
        keep_answer: bool,
        resent: bool = False,
    ) -> None:
        now = self._clock()
        holds: dict[str, float] = {}
        # Records after the answer's last row (an answer cut short): their numbers stay unknown for
        # the uploads after this one, though the write as a whole was answered, for as long as a
        # write of unknown outcome is kept.
        unanswered = [n for n, _ in write.rows[len(answer) :]] if state == "answered" else []
        if state is not None:
            long = now + self.ledger_s
            kept = long if state == "unknown" or write.lasting or unanswered else now + self.window_s
            holds = {key: long for key in keys} | {write.identity: kept}
            # A callback months ahead is held until it is due, not the ledger's days: forgotten
            # while still to come, it was named to no one and could be scheduled again.
            holds |= {key: max(long, due + _DUE_HELD_S) for key, due in self._due(write).items()}
            if state == "answered":
                # A callback Ameyo's answer did not schedule stands in no one's way, and is named to
                # no one as still to come: it may be asked for again.
                holds |= {key: now for key in _not_scheduled(write, answer)}
        kept_answer = _kept_answer(write, answer) if keep_answer and state == "answered" else None
        from ..store.ledger import Settlement  # loaded with the store, on the first write

        # Sent again on purpose and answered: the earlier writes that left these numbers of unknown
        # outcome hold them back no more (the person checked, and Ameyo has now answered).
        server, campaign_id = self.ameyo.settings.base_url, write.campaign.campaign_id
        known = [(server, campaign_id, n) for n, _ in write.rows[: len(answer)]] if resent else []
        # A number Ameyo failed to add is held by no customer in the spelling sent: kept, later
        # uploads of it sent that spelling, and Ameyo added them beside the customer the index knows
        # by it in another (whom the do-not-call check took them for).
        unheld = [
            (server, campaign_id, n)
            for (n, _), row in zip(write.rows, answer, strict=False)  # (an answer cut short: its rows)
            if getattr(row, "kind", None) == ADD_FAILED
        ]
        answered = state == "answered"
        how = Settlement(
            state, note, kept_answer, holds, unanswered, known if answered else [], unheld if answered else []
        )
        with self._unsettled_lock:
            self._unsettled.pop(write.identity, None)
        try:
            self._store().settle_write(keys, write_id=write.identity, owner=self.owner, now=now, how=how)
        except Exception as exc:
            # Kept, and given to the store again until it takes it (and before this process claims
            # anything else, so that its own retry finds the answer); meanwhile others wait on it.
            log.warning("the write ledger did not take how %s ended (%s)", write.label, type(exc).__name__)
            self._keep_unsettled(write.identity, keys, how, now, write.label)
        mine = self._mine.pop(write.identity, None)
        if mine is not None:
            mine[0].set()
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

    # -- the audit trail ---------------------------------------------------------------------------

    def _intent(self, write: Write, call_id: str) -> None:
        if self.audit is None:
            return
        # What a person needs to reconcile: the request, unless it is large (a bulk batch, whose
        # rows the contact file and its journal hold: they are not even copied for the line).
        if write.records > _AUDITED_RECORDS:
            request = write.request.wire(lists=False) | {"records": "(too large to keep)"}
        else:
            request = write.request.wire()
            if len(canonical(request)) > _AUDITED_CHARS:
                request = write.request.wire(lists=False) | {"records": "(too large to keep)"}
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
                f"Nothing was sent: the audit trail {self.audit.current} cannot be written "
                f"({exc.strerror or type(exc).__name__}), and no write goes out unaudited. Free the disk or "
                "fix AMEYO_AUDIT_FILE, then try again."
            ) from None

    def _audit(self, event: str, **fields: Any) -> None:
        if self.audit is not None:
            self.audit.write(event, **fields)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _one_callback(write: Write) -> bool:
    """A write that schedules one callback and nothing else (ameyo_add_callback's)."""
    return write_kind(write.label, write.context) == CALLBACK and len(write.callbacks) == 1


def _stands(entry: LedgerEntry, now: float) -> bool:
    """Whether a ledger entry is settled and still stands in the way of the same keys (its hold
    has not run out): what a repeat is answered from, or refused for."""
    return entry.state != "flight" and (entry.hold_until is None or entry.hold_until > now)


def _not_scheduled(write: Write, answer: Sequence[Any]) -> list[str]:
    """The callback keys of `write` whose row of Ameyo's answer (one a record, in order) tells of no
    scheduled callback (`models.callback_scheduled`). A row the answer left out is of unknown
    outcome, and keeps its key."""
    return [
        key
        for (key, _, _, _), row in zip(write.subjects, answer, strict=False)
        if not getattr(row, "callback_scheduled", False)
    ]


# The fields of a kept answer row that name the record it answers: as the write's own request
# holds it (`plans.record_keys`), and as a row any upload may send (`Write.rows`' digest). Not
# Ameyo's (theirs are words), and taken off before the row is read back.
_RECORD, _ROW = "~record", "~row"


def _kept_answer(write: Write, answer: Sequence[Any]) -> list[Any]:
    """Ameyo's answer as the ledger keeps it for repeats: each row with the key of the record it
    answers (rows come one a record, in the request's order), since a repeat may list the same
    records in another order (`identity_of` sorts them) and must tell each its own row; and with
    the record's row digest, by which another upload finds the same row (`earlier_answer`)."""
    rows = [_answer_row(row) for row in answer]
    keys = plans.record_keys(write.request) if rows else []
    digests = [digest for _, digest in write.rows]
    for position, key in enumerate(keys[: len(rows)]):  # (rows past the records, if any: as they are)
        if isinstance(rows[position], dict):
            named = {_RECORD: key, _ROW: digests[position]} if digests else {_RECORD: key}
            rows[position] = rows[position] | named
    return rows


def _answer_row(row: Any) -> Any:
    """An answer row as the ledger keeps it: its fields, times as Ameyo writes them."""
    if not isinstance(row, BaseModel):
        return row
    return {k: _plain(v) for k, v in row.model_dump(exclude_none=True).items()}


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return round(value.timestamp() * 1000)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _answer_from(write: Write, rows: list[Any] | None) -> list[Any]:
    """The answer rows a ledger entry kept, read back into the models the tools show (as the
    request's answer is read: `models.Reply`), in the order of `write`'s records: the same write
    asked for with its records in another order gets each record's own row (`_kept_answer`). A
    record the kept answer has no row for (an answer cut short) gets None: its outcome is unknown."""
    if not rows:
        return []
    answer, keys = _read_kept(write, rows)
    if keys is None:  # kept before rows named their records, or a write of no records
        return answer
    mine = _by_record(write, answer, keys)
    while mine and mine[-1] is None:
        mine.pop()
    return mine


def earlier_answer(write: Write, entry: LedgerEntry) -> list[Any | None]:
    """The rows of Ameyo's answer to another write (`entry`, answered: one `rows_held` found) for
    those of `write`'s records it sent too, by each record's place in `write` (None: it sent no
    such record, or kept no row for it). What a record set aside as sent earlier is told Ameyo
    answered then. Empty when the ledger kept no answer that names its records (a file's batch).

    A row is found by its digest, as `rows_held` found it: the same row asked by another command
    (a file's callback row gives the upload's status, a tool's record its callback's customer id)
    is another request's record. An answer kept before digests were kept is read by record key."""
    if entry.state != "answered" or not entry.answer:
        return []
    try:
        answer, keys = _read_kept(write, entry.answer)
    except ValidationError:  # (rows of another command's answer: not this write's kind)
        return []
    digests = _names(entry.answer, _ROW)
    if digests is not None and write.rows:
        return _by_key(answer, digests, [digest for _, digest in write.rows])
    return [] if keys is None else _by_record(write, answer, keys)


def _read_kept(write: Write, rows: list[Any]) -> tuple[list[Any], list[str] | None]:
    """Kept answer rows read back as `write`'s request reads its answer, and the record key of each
    (None: not every row names its record)."""
    plain = [
        {k: v for k, v in row.items() if k not in (_RECORD, _ROW)} if isinstance(row, dict) else row
        for row in rows
    ]
    answer: list[Any] = write.request.reply.adapter.validate_python(plain)
    return answer, _names(rows, _RECORD)


def _names(rows: list[Any], field: str) -> list[str] | None:
    """The key in `field` of each kept answer row (None: not every row has one)."""
    keys = [str(row[field]) for row in rows if isinstance(row, dict) and field in row]
    return keys if len(keys) == len(rows) else None


def _by_record(write: Write, answer: list[Any], keys: list[str]) -> list[Any | None]:
    """Each of `write`'s records, in its order, given the row kept under its key (`plans.record_keys`)."""
    return _by_key(answer, keys, plans.record_keys(write.request))


def _by_key(answer: list[Any], keys: list[str], mine: list[str]) -> list[Any | None]:
    """For each of `mine` (keys, in a write's order), the answer row kept under it; the same record
    twice takes the rows in turn."""
    by_key: dict[str, deque[Any]] = {}
    for key, row in zip(keys, answer, strict=True):
        by_key.setdefault(key, deque()).append(row)
    return [by_key[key].popleft() if by_key.get(key) else None for key in mine]


def answer_summary(answer: Sequence[Any]) -> dict[str, Any]:
    """What a person reconciling the audit trail needs of an answer: counts, ids, failures (one
    pass over the rows: a bulk batch's answer has 500)."""
    counts: Counter[str] = Counter()
    customer_ids: list[int] = []
    callback_ids: list[str] = []
    without_id: list[int] = []  # callbacks Ameyo scheduled and gave no id (its 4.8.5 sample)
    failed: list[int] = []
    for position, row in enumerate(answer, start=1):
        if isinstance(row, RecordResult):
            kind = row.kind
            counts[kind] += 1
            if row.customer_id is not None:
                customer_ids.append(row.customer_id)
            if row.exception or kind.endswith("FAILED"):
                failed.append(position)
        if type(row) is RecordResult:
            # A plain upload row has no callback field: only an extra one could hold an id. Asking
            # the model for an attribute it lacks goes through pydantic's slow __getattr__.
            extra = row.__pydantic_extra__
            callback_id = extra.get("callback_id") if extra else None
            scheduled = False
        else:
            callback_id = getattr(row, "callback_id", None)
            scheduled = bool(getattr(row, "callback_scheduled", False))
        if callback_id:
            callback_ids.append(str(callback_id))
        elif scheduled:
            without_id.append(position)
    summary: dict[str, Any] = {"rows": len(answer)}
    for name, value in (
        ("counts", dict(counts)),
        ("customer_ids", customer_ids),
        ("callback_ids", callback_ids),
        ("callbacks_without_id", without_id),
        ("failed_positions", failed),
    ):
        if value:
            summary[name] = value
    return summary


def _ending(exc: BaseException) -> str:
    """How a call ended without Ameyo's answer, in words a person reads in a later refusal."""
    import anyio

    if isinstance(exc, anyio.get_cancelled_exc_class() | KeyboardInterrupt | SystemExit):
        return "the client cancelled it, or the server stopped"
    return f"an unexpected failure, {type(exc).__name__}"
