"""The upload's journal: what was sent and what Ameyo answered, batch by batch, on disk.

JSON lines appended to `<file>.ameyo-journal` and fsynced before a batch is sent and after its
answer, so a killed process or a lost network loses nothing already answered. Every line carries
the key of its upload (file hash + campaign + lead): uploads of other files, or of this file to
another lead, share the journal without mixing. A batch marked sent with no answer after it is an
unknown outcome: Ameyo may have run it, so it is not resent unless the caller asks.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

ANSWERED, SENT, UNKNOWN, FAILED = "answered", "sent", "unknown", "failed"
# One answered row: line, result, ok, customer id, reason, callback id, callback time.
JournalRow = list[Any]


def upload_key(file_sha256: str, server: str, campaign_id: int, lead_id: int) -> str:
    """Which upload a journal line belongs to. The Ameyo server is part of it: the same file tried
    on a staging server and then sent to production is two uploads, not one to resume."""
    return hashlib.sha256(f"{file_sha256}|{server}|{campaign_id}|{lead_id}".encode()).hexdigest()[:32]


@dataclass
class BatchState:
    status: str
    first: int
    last: int
    count: int
    offset: int = -1  # of the answer line, for ANSWERED
    reason: str | None = None


@dataclass
class Journal:
    path: Path
    key: str
    start: dict[str, Any] | None = None
    batches: dict[str, BatchState] = field(default_factory=dict)
    _fd: int = -1

    @classmethod
    def open(cls, path: Path, key: str) -> Journal:
        """Read what earlier runs of this upload left; later lines about a batch override earlier
        ones, except that an answer is final."""
        journal = cls(path, key)
        if path.exists():
            journal._load()
        return journal

    def _load(self) -> None:
        offset = 0
        with self.path.open("rb") as handle:
            for raw in handle:
                here, offset = offset, offset + len(raw)
                if not raw.endswith(b"\n"):
                    break  # torn by a kill mid-write: never acknowledged, so never relied on
                try:
                    entry = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(entry, dict) or entry.get("key") != self.key:
                    continue
                kind = entry.get("t")
                if kind == "start":
                    self.start = self.start or entry
                    continue
                batch = str(entry.get("batch"))
                known = self.batches.get(batch)
                if known is not None and known.status == ANSWERED:
                    continue
                status = {"answer": ANSWERED, "sent": SENT, "unknown": UNKNOWN, "failed": FAILED}.get(
                    str(kind)
                )
                if status is None:
                    continue
                self.batches[batch] = BatchState(
                    status,
                    int(entry.get("first", 0)),
                    int(entry.get("last", 0)),
                    int(entry.get("n", 0)),
                    here if status == ANSWERED else -1,
                    entry.get("reason"),
                )

    def answered_rows(self, batch: str) -> list[JournalRow]:
        state = self.batches[batch]
        with self.path.open("rb") as handle:
            handle.seek(state.offset)
            entry = json.loads(handle.readline())
        rows: list[JournalRow] = entry["rows"]
        return rows

    # -- writing ----------------------------------------------------------------------------

    def _ensure_open(self) -> None:
        if self._fd >= 0:
            return
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        size = os.fstat(self._fd).st_size
        if size:
            with self.path.open("rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    os.write(self._fd, b"\n")  # end a line torn by a kill so ours start clean

    async def _append(self, entry: dict[str, Any]) -> int:
        self._ensure_open()
        entry = {"key": self.key, **entry, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        data = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        offset = os.lseek(self._fd, 0, os.SEEK_END)
        # One write call per line, and lines are written from one thread: lines never interleave.
        os.write(self._fd, data)
        await anyio.to_thread.run_sync(os.fsync, self._fd)
        return offset

    async def begin(self, meta: dict[str, Any]) -> None:
        self.start = {"t": "start", **meta}
        await self._append(self.start)

    async def sent(self, batch: str, first: int, last: int, count: int) -> None:
        await self._append({"t": "sent", "batch": batch, "first": first, "last": last, "n": count})
        self.batches[batch] = BatchState(SENT, first, last, count)

    async def answered(self, batch: str, first: int, last: int, rows: list[JournalRow]) -> None:
        entry = {"t": "answer", "batch": batch, "first": first, "last": last, "n": len(rows), "rows": rows}
        offset = await self._append(entry)
        self.batches[batch] = BatchState(ANSWERED, first, last, len(rows), offset)

    async def ended(self, batch: str, status: str, first: int, last: int, count: int, reason: str) -> None:
        """A batch that failed as a whole: UNKNOWN (may have run) or FAILED (certainly did not)."""
        kind = "unknown" if status == UNKNOWN else "failed"
        await self._append(
            {"t": kind, "batch": batch, "first": first, "last": last, "n": count, "reason": reason}
        )
        self.batches[batch] = BatchState(status, first, last, count, reason=reason)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
