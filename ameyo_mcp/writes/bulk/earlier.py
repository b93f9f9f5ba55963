"""What earlier runs of a file upload (its journal) and other uploads of the same rows (the
write ledger) did with a batch's rows, and what this run therefore does with them: settle a row
from an earlier answer, hold back one of unknown outcome, set aside one whose rows or callback
another upload holds, or send it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ...rules.counts import agreeing, counted
from ...rules.times import ago_text
from .. import path as writes
from .. import plans
from ..outcome import NOT_SENT, SENT_EARLIER, JournalRow, Outcome
from ..outcome import OUTCOME_UNKNOWN as UNKNOWN_RESULT
from ..records import refused, sent_earlier
from .batches import CALLBACK, PLAIN, Batch
from .journal import ANSWERED, SENT, BatchState, Journal
from .report import Tally
from .spellings import Spellings
from .validate import Prepared

if TYPE_CHECKING:
    from ...store.ledger import LedgerEntry
    from .options import BulkOptions

_ANSWERED_EARLIER = "answered in an earlier run of this upload (see its journal): not sent again"


def sent_earlier_reason(
    earlier: Mapping[str, object], seconds: float, label: str = "", answered: str | None = None
) -> str:
    """Why a batch whose very rows an earlier upload sent is not sent again, and where they went:
    with what Ameyo `answered` one of them then (`records.sent_earlier` words it from the ledger's
    answer to a tool's write), or, when no answer was kept (a file's batch), where to find it."""
    if answered:
        return (
            f"not sent again: the same row went to this lead{_by_upload(earlier, label)} "
            f"{ago_text(seconds)}, and Ameyo answered it then: {answered}"
        )
    return (
        f"not sent again: these same rows went to this lead{_by_upload(earlier, label)} {ago_text(seconds)}, "
        "and Ameyo answered them then (the audit trail, AMEYO_AUDIT_FILE, keeps those answers)"
    )


def unknown_earlier_reason(
    earlier: Mapping[str, object], seconds: float, note: str | None, label: str = ""
) -> str:
    """Why rows an earlier upload sent without learning the outcome are not sent: the write path
    refuses to repeat that write (`EarlierOutcomeUnknown`) or to send its rows again (`RowsSent`)."""
    why = f" ({note})" if note else ""
    return (
        f"outcome unknown: these same rows went to this lead{_by_upload(earlier, label)} {ago_text(seconds)} "
        f"and Ameyo's answer was never read{why}; not sent again"
    )


def _by_upload(earlier: Mapping[str, object], label: str = "") -> str:
    """Which upload sent a batch's rows, from its ledger entry's context; a tool's write, which has
    no file, by its entry's `label` ("" when none is given)."""
    if not earlier.get("file"):
        return f" by another write ({label})" if label else ""
    lines = earlier.get("lines")
    first, last = (lines[0], lines[-1]) if isinstance(lines, list) and lines else ("?", "?")
    return (
        f" by the upload of {Path(str(earlier['file'])).name} (its batch {earlier.get('batch')}, "
        f"lines {first}-{last})"
    )


def _earlier(status: str, reason: str | None) -> str:
    """How an earlier run left a batch it sent without learning the outcome (journal `status`)."""
    if status == SENT:
        return "sent by an earlier run that ended before Ameyo answered"
    return f"an earlier run did not learn its outcome ({reason})"


# What a row refused for a callback the ledger holds can do: the file upload has no allow_repeat.
HELD_CALLBACK_STEP = (
    "A file upload never schedules a second callback: if one is meant, give the row another "
    "callback_time (or leave it out) and run the upload again; ameyo_add_callback with "
    "allow_repeat=true schedules it on purpose."
)


class Earlier:
    """The earlier runs of one upload and the uploads of the same rows, as one run meets them. It
    counts what it holds back, for the run's notes."""

    def __init__(
        self,
        journal: Journal,
        options: BulkOptions,
        tally: Tally,
        lead_id: int,
        clock: Callable[[], float],
        spellings: Spellings,
        zone: ZoneInfo | None,
    ) -> None:
        self.journal = journal
        self.options = options
        self.tally = tally
        self.spellings = spellings  # the rows an earlier run sent count in the spelling it sent
        self.lead_id = lead_id
        self.clock = clock
        self.zone = zone  # (of the callback times an earlier answer is told with)
        # Rows of unknown outcome not resent because they have callbacks (retry_unknown without
        # resend_callbacks_may_duplicate).
        self.held_callbacks = 0
        # A dry run's rows of unknown outcome: sent by an earlier run of this upload (its journal),
        # or by another upload of the same rows (the ledger).
        self.unknown_in_journal = self.unknown_elsewhere = 0
        self.held_by_ledger = 0  # rows of batches refused because an earlier write has their callback
        # Rows that Ameyo's answer to their batch left out: unknown, and not resent by retry_unknown
        # (their batch was answered), so they are named apart.
        self.left_out = 0
        self._ids: set[str] = set()  # of batches of some rows of another, sent apart (`new_id`)

    def as_journaled(self, batch: Batch) -> BatchState | None:
        """The journal's state of this very batch: its id, holding the same rows (answered: each of
        them). None when an earlier run journaled none under its id, or one of other rows: the
        rows refused before sending changed between the runs (outside_calling_hours given, another
        phone length limit or calling hours), so every batch after the change may hold others, or
        some of its rows were set aside (the engine's `_put_aside`)."""
        state = self.journal.batches.get(batch.id)
        if state is None:
            return None
        lines = [row.line for row in batch.rows]
        if state.lines is not None:
            same = state.lines == frozenset(lines)
        else:  # a journal from before lines were kept, or a line cut short (which may say no extent)
            same = state.first < 0 or (state.first, state.last, state.count) == (
                lines[0],
                lines[-1],
                len(lines),
            )
        if not same or (state.status == ANSWERED and state.count != len(lines)):
            return None
        return state

    def by_rows(
        self, batch: Batch, *, dry: bool
    ) -> tuple[list[Outcome], list[Batch], list[tuple[Prepared, str]]]:
        """A batch that is not one an earlier run journaled (`_as_journaled`), or one whose request
        certainly failed, judged row by row against what the earlier runs did: a row an earlier
        answer holds is settled from it; one an earlier batch sent without an answer is held back
        as that batch would be, or resent (retry_unknown) in a batch apart; the others are sent.
        Returns the rows settled, the batches to send in its place (itself when the journal
        knows none of its rows), and the rows held back, each with why (the engine's
        `_hold_back` tells them in the spelling they went out in)."""
        earlier = self.journal.earlier_rows()
        if not earlier.answered and not earlier.unsure:
            return [], [batch], []
        settled: list[Outcome] = []
        fresh: list[Prepared] = []
        again: list[Prepared] = []
        held_back: list[tuple[Prepared, str]] = []
        for row in batch.rows:
            done = self.answered_earlier(row)
            if done is not None:
                settled.append(done)
                continue
            unsure = earlier.unsure_of(batch.kind, row.line)
            if unsure is None:
                fresh.append(row)
                continue
            held = self.held_back(batch.kind, 1, unsure.status, unsure.reason)
            if held is None:
                again.append(row)
                continue
            self.unknown_in_journal += dry
            held_back.append((row, held))
        if len(fresh) == len(batch.rows):
            return [], [batch], []  # none of its rows is the journal's: the batch as it is
        parts = [Batch(self.new_id(batch.id), batch.kind, fresh)] if fresh else []
        if again:
            parts.append(Batch(self.new_id(batch.id), batch.kind, again, resend=True))
        return settled, parts, held_back

    def journaled(self, answer: JournalRow, row: Prepared) -> Outcome:
        """A row an earlier run's answer holds, as this run tells it: as answered then (a dry run:
        not sent again), or of unknown outcome when that answer left it out, in the spelling it
        went out in. Counted as from earlier runs, unless another upload had sent it (SENT_EARLIER:
        said as that, and counted once)."""
        earlier = Outcome.from_journal(answer, row.phone)
        if earlier.result != SENT_EARLIER:  # (another upload's sending is that upload's to tell)
            self.spellings.tell(row, Outcome.sent_as(answer))
        self.tally.from_earlier_runs += earlier.result != SENT_EARLIER
        if earlier.result == UNKNOWN_RESULT:
            self.left_out += not self.options.dry_run
            return earlier
        if self.options.dry_run:
            return Outcome(earlier.position, earlier.phone, SENT_EARLIER, True, reason=_ANSWERED_EARLIER)
        return earlier

    def answered_earlier(self, row: Prepared) -> Outcome | None:
        """A row an earlier run's answer holds, counted as from earlier runs; None for any other."""
        answer = self.journal.earlier_rows().answered.get(row.line)
        if answer is None:
            return None
        return self.journaled(answer, row)

    def refused(self, checked: Prepared) -> Outcome:
        """A row the checks refuse, unless an earlier run sent it (the checks changed between the
        runs: shorter calling hours, another phone length limit): then what became of it then."""
        assert checked.problem is not None
        done = self.answered_earlier(checked)
        if done is not None:
            return done
        earlier = self.journal.earlier_rows()
        kind = CALLBACK if checked.callback is not None else PLAIN
        unsure = earlier.unsure_of(kind, checked.line)
        if unsure is not None:  # refused now, never resent: an earlier run may have sent it
            why = (
                f"outcome unknown: {_earlier(unsure.status, unsure.reason)}; refused now ({checked.problem})"
            )
            return Outcome(checked.line, checked.phone, UNKNOWN_RESULT, False, reason=why)
        return refused(checked.line, checked.phone, checked.problem)

    def new_id(self, batch_id: str) -> str:
        """An id for some of a batch's rows, sent apart: `c0.1`, `c0.2`, … (one no run has used)."""
        base = batch_id.split(".")[0]
        number = 1
        while f"{base}.{number}" in self.journal.batches or f"{base}.{number}" in self._ids:
            number += 1
        self._ids.add(f"{base}.{number}")
        return f"{base}.{number}"

    def aside(
        self,
        batch: Batch,
        write: plans.Write,
        rows: Mapping[str, LedgerEntry],
        held: Mapping[str, LedgerEntry],
    ) -> dict[int, Outcome]:
        """By line, the rows of a batch (planned as `write`) to set aside so that the others still
        go: those other writes sent (`rows`, `WritePath.rows_held`) and those whose callbacks other
        writes hold (`held`, `WritePath.held_callbacks`). A row caught by both is told as the
        upload tools tell such a record (`plans.sent_earlier_first`), in a dry run as in the run."""
        answered = {
            row.line: entry
            for row in batch.rows
            if row.identity is not None
            and (entry := rows.get(row.identity)) is not None
            and entry.state == "answered"
        }
        callbacks = self._callbacks_aside(batch, write, held, answered) if held else {}
        return self._rows_aside(batch, write, rows, callbacks) | callbacks

    def _callbacks_aside(
        self,
        batch: Batch,
        write: plans.Write,
        held: Mapping[str, LedgerEntry],
        answered: Mapping[int, LedgerEntry],
    ) -> dict[int, Outcome]:
        """By line, the rows of a batch whose callbacks other writes hold, but those told as sent
        earlier by the write that sent them (`answered`, by line): one an upload of a file to this
        lead scheduled is done (SENT_EARLIER: that upload sent its customer here too); any other is
        not sent, said why."""
        now = self.clock()
        aside: dict[int, Outcome] = {}
        for row, (key, words) in zip(batch.rows, write.callbacks, strict=True):
            entry = held.get(key)
            sent_by = answered.get(row.line)
            if entry is None or (sent_by is not None and plans.sent_earlier_first(entry, sent_by)):
                continue
            earlier = entry.context or {}
            if entry.state == "answered" and earlier.get("file") and earlier.get("into_lead") == self.lead_id:
                seconds = now - (entry.settled_at or now)
                said = plans.held_words(entry, words)
                reason = f"not sent again: {said} was scheduled{_by_upload(earlier)} {ago_text(seconds)}"
                aside[row.line] = Outcome(row.line, row.phone, SENT_EARLIER, True, reason=reason)
                continue
            self.held_by_ledger += 1
            reason = f"not sent: {plans.held_by(entry, words, now)}. {HELD_CALLBACK_STEP}"
            aside[row.line] = Outcome(row.line, row.phone, NOT_SENT, False, reason=reason)
        return aside

    def _rows_aside(
        self,
        batch: Batch,
        write: plans.Write,
        held: Mapping[str, LedgerEntry],
        told: Mapping[int, Outcome],
    ) -> dict[int, Outcome]:
        """By line, the rows of a batch that other uploads sent (`RowsSent`), but those already
        `told` otherwise: the same row answered is not sent again, told what Ameyo answered it then
        where the ledger kept that (a tool's write), as the tools tell it; a row of unknown outcome
        is not resent."""
        now = self.clock()
        aside: dict[int, Outcome] = {}
        answers: dict[str, list[Any | None]] = {}  # by write: its answer's rows, by place in `write`
        for place, row in enumerate(batch.rows):
            entry = held.get(row.identity) if row.identity is not None else None
            if entry is None or row.line in told:
                continue
            earlier = entry.context or {}
            if entry.state == "answered":
                if entry.write_id not in answers:
                    answers[entry.write_id] = writes.earlier_answer(write, entry)
                then = answers[entry.write_id]
                reason = partial(sent_earlier_reason, earlier, now - (entry.settled_at or now), entry.label)
                aside[row.line] = sent_earlier(
                    row.line, row.phone, then[place] if place < len(then) else None, self.zone, reason
                )
            else:
                aside[row.line] = self._unknown_elsewhere(row, entry, now)
        return aside

    def same_write_unknown(self, batch: Batch, entry: LedgerEntry) -> dict[int, Outcome]:
        """By line, every row of a batch whose very write another upload sent without learning the
        outcome (the ledger's `entry`; the write path refuses to repeat it, `EarlierOutcomeUnknown`):
        held back as `_rows_aside` holds back such rows one by one, and, like them, the batch's
        own: the run goes on with the rest of the file. A dry run and a real run both tell them
        from here, so that what the dry run says is what the run does."""
        now = self.clock()
        return {row.line: self._unknown_elsewhere(row, entry, now) for row in batch.rows}

    def _unknown_elsewhere(self, row: Prepared, entry: LedgerEntry, now: float) -> Outcome:
        """A row another upload sent without learning the outcome: not sent, counted for the note."""
        self.unknown_elsewhere += 1
        reason = unknown_earlier_reason(entry.context or {}, now - entry.claimed_at, entry.note, entry.label)
        return Outcome(row.line, row.phone, UNKNOWN_RESULT, False, reason=reason)

    def held_back(self, kind: str, rows: int, status: str, reason: str | None) -> str | None:
        """Why `rows` rows of a batch of unknown outcome are not resent, or None to resend them."""
        earlier = _earlier(status, reason)
        if not self.options.retry_unknown:
            return f"outcome unknown: {earlier}; not resent"
        if kind == CALLBACK and not self.options.resend_callbacks_may_duplicate:
            self.held_callbacks += rows
            return (
                f"outcome unknown: {earlier}; not resent, because Ameyo may already have scheduled its "
                "callback (resend_callbacks_may_duplicate resends it, accepting that)"
            )
        return None

    def held_callbacks_notes(self, *, dry_run: bool = False) -> list[str]:
        """What a run, or its dry run, says of the rows held back because an earlier write already
        scheduled their callback, and what to do if a second one is meant: each row's line names
        the write, and the step is said here, once, in the answer as in the check file."""
        held = self.held_by_ledger
        if not held:
            return []
        verb = "would not be sent" if dry_run else agreeing(held, "was not sent", "were not sent")
        return [
            f"{counted(held, 'row')} {verb} because an earlier write already scheduled the callback "
            f"{agreeing(held, 'it asks', 'they ask')} for, or may have (see their lines): "
            f"running the same upload again does not send them. {HELD_CALLBACK_STEP}"
        ]

    def dry_run_notes(self) -> list[str]:
        """What a dry run says of the rows earlier uploads sent without learning the outcome, and
        of those held back for a callback an earlier write holds."""
        notes: list[str] = self.held_callbacks_notes(dry_run=True)
        if self.unknown_in_journal and not self.options.retry_unknown:
            notes.append(
                f"{counted(self.unknown_in_journal, 'row')} an earlier run of this upload sent without "
                "learning the outcome would not be sent: retry_unknown (--retry-unknown) resends them, "
                "once they are checked in Ameyo."
            )
        notes += self.unknown_elsewhere_notes()
        return notes

    def unknown_elsewhere_notes(self) -> list[str]:
        """What a run, or its dry run, says of the rows other uploads sent without learning the
        outcome: the same words for both, as both hold them back alike."""
        if not self.unknown_elsewhere:
            return []
        return [
            f"{counted(self.unknown_elsewhere, 'row')} went out in another upload of the same rows "
            "whose outcome is unknown (the reason on each of their lines names it): not sent, and no run "
            "of this file sends them, retry_unknown included. Check them in Ameyo; the upload that sent "
            "them resends them: a file's with retry_unknown, an upload tool's with allow_repeat=true."
        ]
