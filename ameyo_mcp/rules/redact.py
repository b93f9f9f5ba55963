"""Keeps secrets (password, hash key, session ids) out of every text that leaves the process.

Values are registered as soon as they are known; `scrub` replaces them in any text, and
`RedactingFilter` does the same for every log record that passes a handler.
"""

from __future__ import annotations

import logging
import threading

_MASK = "[redacted]"
# Shorter values would turn ordinary words into masks; no real secret is that short.
_MIN_LENGTH = 4


class Redactor:
    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= _MIN_LENGTH:
            with self._lock:
                self._secrets.add(secret)

    def scrub(self, text: str) -> str:
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, _MASK)
        return text


SECRETS = Redactor()


class RedactingFilter(logging.Filter):
    """Attach to a handler: rewrites each record's final message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = SECRETS.scrub(message)
        if clean != message:
            record.msg = clean
            record.args = None
        if record.exc_info and not record.exc_text:
            # The traceback as the handler's formatter would write it (it keeps this text): an
            # exception's message may hold a secret too.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = SECRETS.scrub(record.exc_text)
        return True


_TRACEBACKS = logging.Formatter()
