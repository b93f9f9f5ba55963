"""How an upload's rows spelt phone1 when they went out, for the notes on phone1's spelling.

A row is told under one note only, in the spelling that went out: sent as Ameyo already holds its
number (`held_numbers_note`), or only rewritten to the form Ameyo dials (`rewritten_note`, which
the validator counts over every good row of the file). Rows that went out in an earlier run of the
upload count as those of this run do: their spelling is the journal's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...ameyo.customers import PRIMARY_COLUMN
from ..records import Checked
from .validate import Prepared


@dataclass
class Spellings:
    held: int = 0
    held_example: Checked | None = None
    # Rows the validator counted as rewritten that went out as Ameyo holds them instead, and the
    # first line of them: the validator's example is one of them when it is that line (the
    # validator's is the file's first rewritten row; rows are told in no set order).
    rewritten_held: int = 0
    first_rewritten_held: int | None = None
    rewritten_example: Checked | None = None  # one rewritten and not held, for that case

    def tell(self, row: Prepared, spelling: str | None) -> None:
        """A row that went out (or would), `spelling` its phone1 when sent as Ameyo holds it."""
        if spelling is None:
            if row.given_phone is not None and self.rewritten_example is None:
                self.rewritten_example = Checked(row.line, row.record, None, row.given_phone, row.identity)
            return
        self.held += 1
        if self.held_example is None:
            given = row.given_phone or row.phone
            record = {PRIMARY_COLUMN: spelling}
            self.held_example = Checked(row.line, record, None, given, row.identity, held=True)
        if row.given_phone is not None:
            self.rewritten_held += 1
            first = self.first_rewritten_held
            self.first_rewritten_held = row.line if first is None else min(first, row.line)

    def rewritten(self, counted: int, first: Checked | None) -> tuple[int, Checked | None]:
        """The rows only rewritten, of the validator's `counted` (`first` the first), and one of them."""
        if first is not None and first.position == self.first_rewritten_held:
            first = self.rewritten_example
        return counted - self.rewritten_held, first
