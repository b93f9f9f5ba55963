"""Good rows grouped into batches whose ids depend only on the file and the batch size.

That is what lets a resumed upload recognise, from the journal, the batches it already sent.
Plain rows and rows with a callback go to different commands, so each kind has its own series:
p0, p1, … for uploadContacts and c0, c1, … for uploadContactAndAddCallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .validate import Prepared

PLAIN, CALLBACK = "p", "c"


@dataclass
class Batch:
    id: str
    kind: str
    rows: list[Prepared] = field(default_factory=list)
    resend: bool = False  # sent before by a run that did not learn the outcome
    # phone1 by line, of the rows sent in the spelling Ameyo already holds their number in (the
    # engine's `_respelt`): what the result file and the notes show, as it went out.
    sent_as: dict[int, str] = field(default_factory=dict)
    let_out: bool = False  # its request may have left: without an answer, its outcome is unknown
    place: bool = False  # it holds a place among the requests in flight (the engine's `_window`)

    @property
    def first_line(self) -> int:
        return self.rows[0].line

    @property
    def last_line(self) -> int:
        return self.rows[-1].line

    def phone_of(self, row: Prepared) -> str | None:
        """phone1 of one of its rows as the batch sends it."""
        return self.sent_as.get(row.line, row.phone)


class Batcher:
    def __init__(self, size: int) -> None:
        self.size = size
        self._count = {PLAIN: 0, CALLBACK: 0}
        self._open: dict[str, Batch | None] = {PLAIN: None, CALLBACK: None}

    def add(self, row: Prepared) -> Batch | None:
        """Place a good row; the batch it completes, if it does."""
        kind = CALLBACK if row.callback is not None else PLAIN
        batch = self._open[kind]
        if batch is None:
            batch = Batch(f"{kind}{self._count[kind]}", kind)
            self._count[kind] += 1
            self._open[kind] = batch
        batch.rows.append(row)
        if len(batch.rows) < self.size:
            return None
        self._open[kind] = None
        return batch

    def rest(self) -> list[Batch]:
        """The unfinished batches at the end of the file, first line first."""
        left = [b for b in self._open.values() if b is not None]
        self._open = {PLAIN: None, CALLBACK: None}
        return sorted(left, key=lambda b: b.first_line)
