"""How long CLI work (`ameyo-mcp sync`, `ameyo-mcp upload`) shows its progress on stderr: one
helper for both.

On a terminal, a live line redrawn in place, with a bar, the rate and the time left. Anywhere else
(a log file, a pipe, cron) a plain line every AMEYO_PROGRESS_EVERY_S seconds (10 by default): a
long run shows it is alive and how fast it goes, and a short one adds nothing to the log. Lines are
drawn when the work reports a step (a page of a sync, a batch of an upload), never by a timer.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

# A live line is redrawn at most this often: a terminal need not repaint faster than it is read.
_REDRAW_S = 0.1
# The rate is told once the work has run this long in this process (the first steps say little).
_RATE_AFTER_S = 1.0
_BAR = 30


class Progress:
    """The progress of one command, told as the work reports its steps."""

    def __init__(
        self,
        every_s: float,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.every_s = every_s
        self._stream = stream or sys.stderr
        self._clock = clock
        self.tty = self._stream.isatty()
        self._drawn_at: float | None = None
        self._started = clock()
        self._live = False
        # Where the work stands, in words (for a line saying where it stopped), and the first step
        # of the current label (its rate counts from there: a resumed pass starts far from zero).
        self.standing: str | None = None
        self._label: str | None = None
        self._first: tuple[float, int] = (0.0, 0)

    def step(
        self,
        label: str,
        done: int,
        total: int | None,
        unit: str = "",
        *,
        about: bool = False,
        words: str | None = None,
    ) -> None:
        """`done` of `total` (None: not known; `about`: an estimate) `unit` of `label`; `words`, when
        given, say it instead ("2,400 of 3,000 rows settled: 200 sent, 2,200 not sent")."""
        now = self._clock()
        if label != self._label:
            self._label, self._first = label, (now, done)
        of = f"{'~' if about else ''}{total:,}" if total else None
        spelt = f"{done:,} of {of} {unit}" if of else f"{done:,} {unit}"
        self.standing = f"{label}: {words or spelt}"
        rate = self._rate(now, done)
        left = _duration((total - done) / rate) if rate and total and total > done else None
        if self.tty:
            bar = ""
            if total:
                share = min(done / total, 1.0)
                bar = f" [{'#' * int(share * _BAR):<{_BAR}}] {share:4.0%}"
            compact = f"{done:,}/{of} {unit}" if of else f"{done:,} {unit}"
            text = f"{label}{bar} {words or compact}"
            if rate:
                text += f", {rate:,.0f}/s"
            if left:
                text += f", ~{left} left"
        else:
            text = self.standing
            if total:
                text += f" ({min(done / total, 1.0):.0%})"
            if rate:
                text += f", {rate:,.0f} a second"
            if left:
                text += f", about {left} left"
        self._show(text, now)

    def note(self, text: str) -> None:
        """A phase of the work that is not a count ("completing the index…")."""
        self.standing = text
        self._show(text, self._clock(), force=self.tty)

    def clear(self) -> None:
        """Before a line of its own (a report, an error): a live line is erased."""
        if self._live:
            self._stream.write("\r\033[K")
            self._stream.flush()
            self._live = False

    def _rate(self, now: float, done: int) -> float | None:
        since, first = self._first
        if now - since < _RATE_AFTER_S or done <= first:
            return None
        return (done - first) / (now - since)

    def _show(self, text: str, now: float, *, force: bool = False) -> None:
        last = self._drawn_at if self._drawn_at is not None else (None if self.tty else self._started)
        every = _REDRAW_S if self.tty else self.every_s
        if not force and last is not None and now - last < every:
            return
        self._drawn_at = now
        if self.tty:
            self._stream.write(f"\r\033[K{text}")
            self._live = True
        else:
            self._stream.write(text + "\n")
        self._stream.flush()


def _duration(seconds: float) -> str:
    """A time left, for people: "8 s", "3 min", "1 h 20 min"."""
    if seconds < 60:
        return f"{max(round(seconds), 1)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
