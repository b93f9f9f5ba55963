"""The audit trail: one JSON line per write event, flushed to disk before and after each write.

An `intent` line is written before anything is sent and a `result` (or `error`) line after, so
that after any crash a person can see which writes were started and never answered.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .redact import SECRETS

log = logging.getLogger(__name__)


def default_audit_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "ameyo-mcp" / "audit.jsonl"


class AuditLog:
    def __init__(self, path: Path, *, ameyo: str) -> None:
        self.path = path
        self.ameyo = ameyo  # which Ameyo server the writes went to: one trail may serve several
        self._lock = threading.Lock()

    def write(self, event: str, **fields: Any) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        entry = {"ts": now, "event": event, "ameyo": self.ameyo, **fields}
        line = SECRETS.scrub(json.dumps(entry, ensure_ascii=False, default=str)) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    os.write(fd, line.encode("utf-8"))
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            # The write itself must not fail because the trail cannot be written; say so loudly.
            log.error("Could not write the audit trail %s: %s", self.path, type(exc).__name__)
