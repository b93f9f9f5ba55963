"""A record's outcome, in one shape wherever it is told: an upload tool's answer, a file's result
CSV and its journal (whose answered rows a resumed upload reads back), and the failures a file
upload's answer lists.

Ameyo's result types (ADDED, DUPLICATE_NOT_ADDED, …: see `ameyo.result_types`) stand beside the
outcomes named here, which the upload itself gives a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..ameyo.models import callback_scheduled
from ..answers.results import SENT_EARLIER as SENT_EARLIER  # a row an earlier upload sent
from ..answers.results import FailureOut, RecordOut
from ..rules.sanitize import clean_text, reason_text

REFUSED = "REFUSED"  # refused by the checks, not sent
WOULD_SEND = "WOULD_SEND"  # a dry run's record that passed the checks
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"  # sent, and no answer says what became of it
NOT_SENT = "NOT_SENT"  # a file's row held back when its upload stopped
FAILED = "FAILED"  # a file's row whose batch Ameyo certainly did not run

# The most of a reason a file upload's answer shows for a failed row (`Outcome.failure_out`): room
# for the server's own words of its longest refusal (a migrate held back for do-not-call, with both
# spellings of the flag that lets it through), which quotes the customer's text shorter to fit.
REASON_CAP = 260

# The result file's header, the columns of `Outcome.csv_row`.
RESULT_COLUMNS = ("line", "phone1", "result", "ok", "customer_id", "reason", "callback_id", "callback_time")
# An answered row as the journal keeps it (`Outcome.journal_row`): line, result, ok, customer id,
# reason, callback id, callback time, and phone1 as sent when that is not the file's spelling (a
# journal written before it was kept has none: its rows read as sent as the file spells them).
JournalRow = list[Any]
_JOURNAL_FIELDS = 7


@dataclass(slots=True)  # not frozen: one is made per row of a file, and frozen ones cost more to build
class Outcome:
    position: int  # the record's position among a call's records, or its line in a file
    phone: str | None  # phone1 as sent; None when the phone rule did not accept it
    result: str
    ok: bool
    customer_id: int | None = None
    reason: str | None = None
    callback_id: str | None = None
    callback_time: str | None = None  # as the answer shows it, in the server's zone

    @property
    def callback_scheduled(self) -> bool:
        return callback_scheduled(self.callback_id, self.callback_time)

    def csv_row(self) -> tuple[object, ...]:
        return (
            self.position,
            self.phone or "",
            self.result,
            "yes" if self.ok else "no",
            "" if self.customer_id is None else self.customer_id,
            self.reason or "",
            self.callback_id or "",
            self.callback_time or "",
        )

    def journal_row(self, respelt: bool = False) -> JournalRow:
        """The row as the journal keeps it: everything but the phone, which the file holds, unless
        it went out `respelt` (as Ameyo holds the number): a later run of the upload tells the row
        in the spelling sent, which the file does not hold."""
        row = [
            self.position,
            self.result,
            self.ok,
            self.customer_id,
            self.reason,
            self.callback_id,
            self.callback_time,
        ]
        if respelt:
            row.append(self.phone)
        return row

    @staticmethod
    def sent_as(row: JournalRow) -> str | None:
        """phone1 as a journaled row (`journal_row`) went out, when not as the file spells it."""
        return row[_JOURNAL_FIELDS] if len(row) > _JOURNAL_FIELDS else None

    @classmethod
    def from_journal(cls, row: JournalRow, phone: str | None) -> Outcome:
        """A row an earlier run journaled (`journal_row`), with its phone as it went out: the
        journal's spelling, else `phone`, as the file has it."""
        line, result, ok, customer_id, reason, callback_id, callback_time = row[:_JOURNAL_FIELDS]
        phone = cls.sent_as(row) or phone
        return cls(line, phone, result, bool(ok), customer_id, reason, callback_id, callback_time)

    def record_out(self) -> RecordOut:
        """The record in an upload tool's answer."""
        return RecordOut(
            position=self.position,
            phone=_shown(self.phone),
            result=self.result,
            ok=self.ok,
            customer_id=self.customer_id,
            reason=reason_text(self.reason, 400) if self.reason else None,
            callback_id=self.callback_id,
            callback_time=self.callback_time,
        )

    def failure_out(self) -> FailureOut:
        """The row among the failures a file upload's answer lists."""
        return FailureOut(
            line=self.position,
            phone=_shown(self.phone),
            result=self.result,
            reason=reason_text(self.reason, REASON_CAP) if self.reason else None,
        )


def _shown(phone: str | None) -> str | None:
    return clean_text(phone, 24) if phone else None
