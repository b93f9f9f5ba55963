"""The audit trail: one JSON line per write event.

An `intent` line is written and flushed to disk before anything is sent (if it cannot be, nothing
is sent) and a `result` (or `error`) line after, so that after any crash a person can see which
writes were started and never answered. A result line is on the file at once and flushed to disk
with the next intent: a process that dies loses none, and a power cut at most the last results,
whose writes then read as never answered (as the ledger's settlements do, which are not flushed on
their own either), which is what sends a person to check.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..rules.redact import SECRETS

log = logging.getLogger(__name__)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND


class AuditLog:
    def __init__(self, path: Path, *, ameyo: str) -> None:
        self.path = path
        self.ameyo = ameyo  # which Ameyo server the writes went to: one trail may serve several
        self._lock = threading.Lock()

    def append(self, event: str, **fields: Any) -> None:
        """Write one line and fsync the trail (with any line written before it); an OSError means it
        is not on disk."""
        self._put(event, fields, flush=True)

    def write(self, event: str, **fields: Any) -> None:
        """A line written after the fact (a result): on the file at once, flushed to disk with the
        next `append` rather than on its own (a bulk upload wrote 200 of them a minute, each
        holding up its event loop for a flush). A write that was sent must still be reported to
        its caller even when the trail cannot record it, so this only logs."""
        try:
            self._put(event, fields, flush=False)
        except OSError as exc:
            log.error("Could not write the audit trail %s: %s", self.path, type(exc).__name__)

    def _put(self, event: str, fields: dict[str, Any], *, flush: bool) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        entry = {"ts": now, "event": event, "ameyo": self.ameyo, **fields}
        data = (SECRETS.scrub(json.dumps(entry, ensure_ascii=False, default=str)) + "\n").encode("utf-8")
        with self._lock:
            try:
                fd = os.open(self.path, _FLAGS, 0o600)
            except FileNotFoundError:  # its folder is made once, not looked for at every line
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(self.path, _FLAGS, 0o600)
            try:
                # A short write (a full disk) must not leave half a line that the next one continues.
                while data:
                    data = data[os.write(fd, data) :]
                if flush:
                    os.fsync(fd)
            finally:
                os.close(fd)
