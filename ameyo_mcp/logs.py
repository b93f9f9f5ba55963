"""Logging to stderr only (on stdio, stdout belongs to the protocol), with secrets masked and
repeated warnings held back."""

from __future__ import annotations

import errno
import logging
import sys
import time
from collections import deque
from dataclasses import dataclass

from .rules.redact import RedactingFilter


def quiet_http_loggers() -> None:
    """httpx logs every request's full URL at INFO; keep it (and httpcore's DEBUG chatter) out."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


class RepeatLimit(logging.Filter):
    """At most `burst` warnings or errors of one kind (logger and message template) per `window_s`:
    a flood of bad connections must not become a flood of lines. The last one let through says
    that more are held back, and the next after the window says how many were."""

    def __init__(self, burst: int = 5, window_s: float = 60.0) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        # (logger, template) -> [window start, records seen in it, held back in the last window]
        self._seen: dict[tuple[str, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        state = self._seen.get(key)
        if state is None or now - state[0] >= self.window_s:
            held = int(state[1] - self.burst) if state is not None and state[1] > self.burst else 0
            state = self._seen[key] = [now, 0.0]
            if len(self._seen) > 1000:  # message templates are few; keys must not grow without end
                self._seen = {key: state}
            if held:
                _append(record, f" ({held} more like this were held back in the last {self.window_s:g} s)")
        state[1] += 1
        if state[1] > self.burst:
            return False
        if state[1] == self.burst:
            _append(record, f" (more like this are held back for {self.window_s:g} s)")
        return True


class NoTracebackForFullTable(logging.Filter):
    """asyncio logs every accept() that finds the open-file table full with a traceback of its own
    event loop: one line says all there is to say, and a flood of connections must stay a few."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
            _append(record, f" ({exc.strerror or 'too many open files'})")
            record.exc_info, record.exc_text = None, None
        return True


@dataclass(frozen=True)
class Logged:
    """A warning or error as the log showed it."""

    at: float  # seconds since the epoch
    level: str
    source: str  # the logger's name
    message: str


class RecentErrors(logging.Filter):
    """The last warnings and errors the log showed, for the operator's page. A tap, not a filter:
    the last of the stderr handler's filters, it keeps what passed the repeat limit and had its
    secrets masked, and lets everything through. A message keeps its first line and, of a
    traceback, the exception's own line, at most `cap` characters."""

    def __init__(self, keep: int = 50, cap: int = 500) -> None:
        super().__init__()
        self.cap = cap
        self._kept: deque[Logged] = deque(maxlen=keep)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            lines = record.getMessage().strip().splitlines() or [""]
            if len(lines) > 1 or record.exc_text:
                last = (record.exc_text or "").strip().splitlines() or lines
                lines = [lines[0], last[-1]]
            message = " … ".join(dict.fromkeys(lines))
            self._kept.append(Logged(record.created, record.levelname, record.name, message[: self.cap]))
        return True

    def entries(self) -> list[Logged]:
        """Oldest first."""
        return list(self._kept)


RECENT_ERRORS = RecentErrors()


def _append(record: logging.LogRecord, note: str) -> None:
    record.msg = record.getMessage() + note
    record.args = None


def stderr_handler() -> logging.Handler:
    """The log's handler: lines to stderr, repeats held back, secrets masked, the last warnings and
    errors kept for the operator's page."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RepeatLimit())  # first: it keys on the message template, before masking
    handler.addFilter(NoTracebackForFullTable())
    handler.addFilter(RedactingFilter())
    handler.addFilter(RECENT_ERRORS)  # last: it keeps what the log shows
    return handler


def setup_logging(level: str = "WARNING") -> None:
    handler = stderr_handler()
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_http_loggers()
