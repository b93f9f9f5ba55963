"""Logging to stderr only (on stdio, stdout belongs to the protocol), with secrets masked and
repeated warnings held back."""

from __future__ import annotations

import errno
import logging
import sys
import time

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


def _append(record: logging.LogRecord, note: str) -> None:
    record.msg = record.getMessage() + note
    record.args = None


def setup_logging(level: str = "WARNING") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RepeatLimit())  # first: it keys on the message template, before masking
    handler.addFilter(NoTracebackForFullTable())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_http_loggers()
