"""Account of an upload: the result file (every row), and the concise summary for people and models.

The result file holds every input row's outcome, written as rows are settled, so it is in the
order the batches finished; its first column is the input line number to sort or join on.
"""

from __future__ import annotations

import csv
import os
from bisect import insort
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel

from ...ameyo.models import campaign_label
from ...answers.results import CampaignOut, FailureOut, scheduled_now
from ...answers.summaries import answered_text, failure_line
from ...errors import OutputError
from ...rules.counts import counted, number
from ..outcome import (
    NOT_SENT,
    OUTCOME_UNKNOWN,
    REFUSED,
    RESULT_COLUMNS,
    SENT_EARLIER,
    WOULD_SEND,
    Outcome,
)
from ..records import answered
from .outputs import create_private

MAX_FAILURES = 20


class BulkUploadOut(BaseModel):
    campaign: CampaignOut
    lead_id: int
    file: str
    dry_run: bool
    rows: int
    ok: int
    counts: dict[str, int]
    sent_now: int
    from_earlier_runs: int
    outcome_unknown: int
    callbacks: int = 0  # scheduled; in a dry run, those the rows would schedule
    failures: list[FailureOut]
    # A dry run's first callbacks to schedule: "line 2: 9876500777 at 2030-03-04 11:00 Asia/Kolkata,
    # assigned to any agent" (the check file has every row's).
    would_schedule: list[str] | None = None
    result_file: str
    journal_file: str | None = None
    notes: list[str]
    elapsed_s: float
    confirm_token: str | None = None  # a dry run over AMEYO_CONFIRM_OVER rows: what a real run needs


class ResultFile:
    """The per-row CSV, written as rows settle (never held in memory), owner-only: it holds phones.

    Its header row is what marks it as ours: an existing file is replaced only when it has it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._handle: TextIO = os.fdopen(create_private(path), "w", encoding="utf-8", newline="")
            self._csv = csv.writer(self._handle)
            self._csv.writerow(RESULT_COLUMNS)
        except OSError as exc:
            raise OutputError(path, exc) from None

    def write(self, row: Outcome) -> None:
        self.write_all((row,))

    def write_all(self, rows: Iterable[Outcome]) -> None:
        """Rows in one call: a batch's 500 answers go to the CSV writer at C speed."""
        try:
            self._csv.writerows(map(Outcome.csv_row, rows))
        except OSError as exc:
            raise OutputError(self.path, exc) from None

    def close(self) -> None:
        try:
            self._handle.close()
        except OSError as exc:
            raise OutputError(self.path, exc) from None


@dataclass
class Tally:
    """Counts and the first failures, kept as rows settle: memory does not grow with the file."""

    rows: int = 0
    ok: int = 0
    sent_now: int = 0
    from_earlier_runs: int = 0
    callbacks: int = 0  # scheduled; in a dry run, those the rows would schedule
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[FailureOut] = field(default_factory=list)

    def add(self, row: Outcome) -> None:
        self.add_all((row,))

    def add_all(self, rows: Sequence[Outcome]) -> None:
        """Count rows settled together (a batch's answers): one pass, no call per row."""
        self.rows += len(rows)
        self.counts.update(row.result for row in rows)
        for row in rows:
            # A row whose customer failed may still have had its callback scheduled (4.8.2 5.b.iii);
            # one sent earlier tells the callback of the write that sent it, not one of this upload.
            if row.callback_id or row.callback_time:
                self.callbacks += scheduled_now(row.result, row.callback_id, row.callback_time)
            if row.ok:
                self.ok += 1
            elif len(self.failures) < MAX_FAILURES or row.position < self.failures[-1].line:
                # The first by line: batches in flight together settle in any order.
                insort(self.failures, row.failure_out(), key=_by_line)
                del self.failures[MAX_FAILURES:]

    def settled_words(self) -> str:
        """What became of the rows settled so far, for a progress line: a run that a failure stopped
        settles its rows left as not sent, and a bare count of settled rows read as if sent."""
        counts = self.counts
        refused = counts[REFUSED]
        # A batch Ameyo refused whole (FAILED) was sent, and is among its answers.
        not_sent = counts[NOT_SENT]
        earlier = self.rows - self.sent_now - refused - not_sent
        words = [f"{number(self.sent_now)} sent"]
        if not_sent:
            words.append(f"{number(not_sent)} not sent")
        if refused:
            words.append(f"{number(refused)} refused")
        if earlier > 0:
            words.append(f"{number(earlier)} sent earlier (not resent)")
        return ", ".join(words)


def _by_line(failure: FailureOut) -> int:
    return failure.line


def bulk_text(out: BulkUploadOut) -> str:
    label = campaign_label(out.campaign)
    counts = out.counts
    refused = counts.get(REFUSED, 0)
    if out.dry_run:
        lines = [
            f"Dry run, nothing written: {counted(out.rows, 'row')} of {out.file} for {label}, "
            f"lead {out.lead_id}: "
            f"would send {number(counts.get(WOULD_SEND, 0))}"
            + (f" (with {counted(out.callbacks, 'callback')} to schedule)" if out.callbacks else "")
            + f", refused before sending {number(refused)}"
            + (
                f", answered in an earlier run (not sent again) {number(out.from_earlier_runs)}"
                if out.from_earlier_runs
                else ""
            )
            + (
                ", sent earlier without learning the outcome (not sent again) "
                f"{number(counts[OUTCOME_UNKNOWN])}"
                if counts.get(OUTCOME_UNKNOWN)
                else ""
            )
            # Rows set aside (another write holds their callback): every row is in one count.
            + (f", held back {number(counts[NOT_SENT])}." if counts.get(NOT_SENT) else ".")
        ]
        by_ledger = counts.get(SENT_EARLIER, 0) - out.from_earlier_runs
        if by_ledger:
            lines.append(
                f"Would not be sent again: {counted(by_ledger, 'row')} that an earlier upload already sent "
                "to this lead (the same rows, in this file or another; see the check file)."
            )
        if out.confirm_token:
            lines.append(
                "Sending it needs the person's confirmation: show them this, and if they agree call again "
                f'with dry_run=false and confirm="{out.confirm_token}".'
            )
    else:
        held = out.rows - (
            refused
            + out.sent_now
            + out.from_earlier_runs
            + counts.get(NOT_SENT, 0)
            + counts.get(SENT_EARLIER, 0)
        )
        lines = [
            f"{counted(out.rows, 'row')} of {out.file} for {label}, lead {out.lead_id}: refused before "
            "sending "
            f"{number(refused)}; sent in this run {number(out.sent_now)}; "
            f"answered in earlier runs (not resent) "
            f"{number(out.from_earlier_runs)}"
            + (f"; not sent {number(counts[NOT_SENT])}" if counts.get(NOT_SENT) else "")
            # Rows an earlier sending (this file's, or another upload of them) left of unknown
            # outcome, not resent: what no other count of this line holds.
            + (
                f"; of unknown outcome since an earlier sending (not resent) {number(held)}."
                if held > 0
                else "."
            )
        ]
        if counts.get(SENT_EARLIER):
            lines.append(
                f"Not sent again: {counted(counts[SENT_EARLIER], 'row')} that an earlier upload already "
                "sent to this "
                "lead (the same rows, in this file or another; the result file names the upload that sent "
                "each)."
            )
        local = {REFUSED, WOULD_SEND, NOT_SENT, OUTCOME_UNKNOWN, SENT_EARLIER}
        answers = answered_text(answered({k: v for k, v in counts.items() if k not in local}), counts)
        # The rows an earlier sending left of unknown outcome (`held`, not resent) were not sent in
        # this run: told apart, or "sent in this run 20 … outcome unknown 10" read as 10 of this
        # run's 20 unanswered.
        earlier = min(max(held, 0), counts.get(OUTCOME_UNKNOWN, 0))
        if counts.get(OUTCOME_UNKNOWN, 0) > earlier:
            answers += f", outcome unknown {number(counts[OUTCOME_UNKNOWN] - earlier)}"
        if earlier:
            answers += f"; from an earlier sending, outcome unknown {number(earlier)} (not resent)"
        # A resumed run's answers include the earlier runs': said, so that none reads as just done.
        runs = " (in this run and earlier ones)" if out.from_earlier_runs else ""
        runs = runs or (" (in this run)" if earlier else "")
        lines.append(f"Ameyo's answers{runs}: {answers}. Callbacks scheduled: {number(out.callbacks)}.")
    if out.failures:
        bad = out.rows - out.ok
        lines.append(f"First failures (of {number(bad)}; line: phone1: reason):")
        lines.extend(failure_line("line", f.line, f.phone, f.reason or f.result) for f in out.failures)
    if out.would_schedule:
        # The time as the server reads it is what the person confirms: "3 pm" in which zone.
        first = "" if len(out.would_schedule) >= out.callbacks else f" (the first {len(out.would_schedule)})"
        lines.append(f"Callbacks it would schedule{first}:")
        lines.extend(out.would_schedule)
    lines.extend(out.notes)
    lines.append(f"Every row's outcome is in {out.result_file}.")
    if out.journal_file:
        lines.append(f"Journal (for resuming): {out.journal_file}.")
    return "\n".join(lines)
