"""The upload's journal: what was sent and what Ameyo answered, batch by batch, on disk.

JSON lines appended to `<file>.ameyo-journal`. A batch's `sent` line is fsynced before the batch is
sent, and flushes with it every line written before it; an answer (or a batch's failure) is written
at once and flushed with the next `sent` line or when the run ends. So a killed process or a lost
network loses nothing already answered, and a power cut at most the last answers, whose batches
then read as sent with an unknown outcome (they are not resent unless asked). Every line carries
the key of its upload (file hash + server + campaign + lead + what it asks of Ameyo): uploads of
other files, or of this file to another lead or with other options, share the journal without
mixing. A batch marked sent with no answer after it is an unknown outcome: Ameyo may have run it,
so it is not resent unless the caller asks.

A run holds an exclusive OS lock (flock) on the journal for its whole life and writes its process
id into it, so a second run of the same upload is refused at once and told which process has it.
A line is appended whole or not at all: a short write is continued, and a failed one cut back. A
line found cut short anyway (a crash, or a journal from an older version) still counts: if it
names a batch, that batch was perhaps sent and its outcome is unknown; if it cannot be told which
batch it names, the run refuses to guess.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from ...ameyo.client import compact_json
from ...errors import JournalDamaged, OutputError, UploadBusy
from ..outcome import JournalRow
from .outputs import JOURNAL_START, keep_private

ANSWERED, SENT, UNKNOWN, FAILED = "answered", "sent", "unknown", "failed"
_STATUS = {"answer": ANSWERED, "sent": SENT, "unknown": UNKNOWN, "failed": FAILED}
# What a line cut short may still tell: whose it is, what kind, and which batch.
_KEY = re.compile(rb'\{"key":"([0-9a-f]*)(")?')
_KIND = re.compile(rb',"t":"([a-z]+)"')
_BATCH = re.compile(rb',"batch":"([pc]\d+(?:\.\d+)?)"')
_EXTENT = re.compile(rb',"first":(\d+),"last":(\d+),"n":(\d+)[,}]')
_HOLDER = re.compile(rb'"t":"run","pid":(\d+)')
TORN_REASON = "the journal line about it was cut short (a crash or a full disk), so it may have been sent"


def upload_key(file_sha256: str, server: str, campaign_id: int, lead_id: int, how: str = "") -> str:
    """Which upload a journal line belongs to. The Ameyo server is part of it: the same file tried
    on a staging server and then sent to production is two uploads, not one to resume. So is `how`
    (what the rows ask of Ameyo: update, move, status): the file sent again with migrate_existing
    is a new upload that sends its rows, not a resumed one that finds them answered."""
    text = f"{file_sha256}|{server}|{campaign_id}|{lead_id}" + (f"|{how}" if how else "")
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class BatchState:
    status: str
    first: int  # -1 when a line cut short did not say (then the batch's extent is not checked)
    last: int
    count: int
    offset: int = -1  # of the answer line, for ANSWERED
    reason: str | None = None
    lines: frozenset[int] | None = None  # its rows' lines, where its `sent` line says them


@dataclass(frozen=True)
class EarlierRows:
    """Line by line, what the earlier runs of this upload did: for a batch of this run that is not
    the one an earlier run sent under its id (the rows refused before sending changed between the
    runs), whose rows are then judged one by one."""

    answered: dict[int, JournalRow]
    # Batches sent without an answer, by kind: their rows may have gone out (`BatchState.lines`; a
    # journal without them, any row of the kind between the batch's first and last lines; and a
    # line cut short before it said even those, every row of the kind).
    unsure: list[tuple[str, BatchState]]

    def unsure_of(self, kind: str, line: int) -> BatchState | None:
        return next((s for k, s in self.unsure if k == kind and _holds(s, line)), None)


def _holds(state: BatchState, line: int) -> bool:
    if state.lines is not None:
        return line in state.lines
    return state.first < 0 or state.first <= line <= state.last


@dataclass
class Journal:
    path: Path
    key: str = ""  # set by `load`, before anything is written
    start: dict[str, Any] | None = None
    batches: dict[str, BatchState] = field(default_factory=dict)
    torn: list[str] = field(default_factory=list)  # batches known only from a line cut short
    _fd: int = -1
    _loaded: dict[str, BatchState] = field(default_factory=dict)  # as the earlier runs left them
    _earlier: EarlierRows | None = None

    def load(self, key: str, *, strict: bool) -> None:
        """Read what earlier runs of this upload left; later lines about a batch override earlier
        ones, except that an answer is final. `strict` refuses a line it cannot judge."""
        self.key = key
        if self.path.exists():
            self._load(strict=strict)
        self._loaded = dict(self.batches)

    def earlier_rows(self) -> EarlierRows:
        """What the earlier runs did with each line (read once, when a batch first needs it)."""
        if self._earlier is None:
            answered: dict[int, JournalRow] = {}
            unsure: list[tuple[str, BatchState]] = []
            for name, state in self._loaded.items():
                if state.status == ANSWERED:
                    answered.update((int(row[0]), row) for row in self.answered_rows(name))
                elif state.status in (SENT, UNKNOWN):
                    unsure.append((name[0], state))
            self._earlier = EarlierRows(answered, unsure)
        return self._earlier

    def lock(self) -> None:
        """Hold the journal for this run, or refuse at once naming the process that holds it."""
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise OutputError(self.path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UploadBusy(
                f"Another run of this upload is going on ({self._holder()}) and holds its journal "
                f"{self.path}, so nothing was sent: wait for it to end, or stop it, then run again."
            ) from None
        self._fd = fd
        try:
            keep_private(fd)
            size = os.fstat(fd).st_size
            ending = b""
            if size and os.pread(fd, 1, size - 1) != b"\n":
                ending = b"\n"  # end a line cut short so that ours start clean; it is judged on load
            self._write(ending + self._line({"t": "run", "pid": os.getpid()}))
            os.fsync(fd)
        except OSError as exc:
            self.close()
            raise OutputError(self.path, exc) from None

    def _holder(self) -> str:
        """The process that holds the lock, as its own `run` line says."""
        try:
            found = _HOLDER.findall(self.path.read_bytes())
        except OSError:
            found = []
        if not found:
            return "another process"
        pid = int(found[-1])
        return f"process {pid}, this server" if pid == os.getpid() else f"process {pid}"

    def _load(self, *, strict: bool) -> None:
        offset = 0
        with self.path.open("rb") as handle:
            for raw in handle:
                here, offset = offset, offset + len(raw)
                try:
                    entry = json.loads(raw)
                except ValueError:
                    entry = None
                if not isinstance(entry, dict):
                    self._cut_short(raw, here, strict=strict)
                    continue
                if entry.get("key") != self.key:
                    continue
                kind = entry.get("t")
                if kind == "start":
                    self.start = self.start or entry
                    continue
                status = _STATUS.get(str(kind))
                if status is None:
                    continue
                batch = str(entry.get("batch"))
                known = self.batches.get(batch)
                if known is not None and known.status == ANSWERED:
                    continue
                lines = entry.get("lines")
                if not isinstance(lines, list):  # an `unknown` line: its `sent` line said them
                    lines = known.lines if known is not None else None
                self.batches[batch] = BatchState(
                    status,
                    int(entry.get("first", 0)),
                    int(entry.get("last", 0)),
                    int(entry.get("n", 0)),
                    here if status == ANSWERED else -1,
                    entry.get("reason"),
                    frozenset(int(n) for n in lines)
                    if isinstance(lines, list)
                    else known.lines
                    if known
                    else None,
                )

    def _cut_short(self, raw: bytes, offset: int, *, strict: bool) -> None:
        """A line that is not whole JSON: count the batch it names as perhaps sent, or refuse."""
        if not raw.strip() or not (raw.startswith(JOURNAL_START) or JOURNAL_START.startswith(raw.strip())):
            return  # blank, or not a journal line at all
        key = _KEY.match(raw)
        part = key.group(1).decode() if key else ""
        if key and key.group(2) and part != self.key:
            return  # another upload's line
        if not self.key.startswith(part):
            return
        kind = _KIND.match(raw, key.end()) if key and key.group(2) else None
        if kind is not None and kind.group(1) in (b"start", b"run"):
            return  # nothing was sent on the strength of these
        batch = _BATCH.match(raw, kind.end()) if kind is not None else None
        if batch is None:
            if strict:
                raise JournalDamaged(
                    f"The journal {self.path} has a line cut short (at byte {offset}) before it says "
                    "which batch it was about, so this run cannot tell which rows may already have been "
                    "sent; nothing was sent. Check the lead's contacts, then delete that line to accept "
                    "that its batch may be sent again."
                )
            return
        name = batch.group(1).decode()
        known = self.batches.get(name)
        if known is not None and known.status == ANSWERED:
            return
        extent = _EXTENT.match(raw, batch.end())
        if known is not None:
            first, last, count = known.first, known.last, known.count
        elif extent is not None:
            first, last, count = (int(x) for x in extent.groups())
        else:
            first = last = count = -1
        self.batches[name] = BatchState(UNKNOWN, first, last, count, reason=TORN_REASON)
        self.torn.append(name)

    def answered_rows(self, batch: str) -> list[JournalRow]:
        state = self.batches[batch]
        with self.path.open("rb") as handle:
            handle.seek(state.offset)
            entry = json.loads(handle.readline())
        rows: list[JournalRow] = entry["rows"]
        return rows

    # -- writing ----------------------------------------------------------------------------

    def _line(self, entry: dict[str, Any]) -> bytes:
        entry = {"key": self.key, **entry, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        # An answer line holds its 500 rows: compact JSON at orjson's speed, the same text.
        return (compact_json(entry) + "\n").encode()

    def _write(self, data: bytes) -> int:
        """Append `data` whole, or cut back what part of it was written and raise."""
        fd = self._fd
        offset = os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(data)
        done = 0
        try:
            while done < len(data):
                done += os.write(fd, view[done:])
        except OSError:
            if done:
                with suppress(OSError):  # if even that fails, the next load judges the line cut short
                    os.ftruncate(fd, offset)
            raise
        return offset

    async def _append(self, entry: dict[str, Any], *, flush: bool = True) -> int:
        # Lines are written from the event loop's one thread while the lock is held: whole lines
        # never interleave. The fsync (the slow part) runs in a worker thread.
        try:
            offset = self._write(self._line(entry))
            if flush:
                await anyio.to_thread.run_sync(os.fsync, self._fd)
        except OSError as exc:
            raise OutputError(self.path, exc) from None
        return offset

    async def begin(self, meta: dict[str, Any]) -> None:
        self.start = {"t": "start", **meta}
        await self._append(self.start)

    async def sent(self, batch: str, lines: list[int]) -> None:
        """Before the batch of rows on `lines` (in file order) is sent: fsynced, with the lines before."""
        first, last, count = lines[0], lines[-1], len(lines)
        entry = {"t": "sent", "batch": batch, "first": first, "last": last, "n": count, "lines": lines}
        await self._append(entry)
        self.batches[batch] = BatchState(SENT, first, last, count, lines=frozenset(lines))

    async def answered(self, batch: str, first: int, last: int, rows: list[JournalRow]) -> None:
        entry = {"t": "answer", "batch": batch, "first": first, "last": last, "n": len(rows), "rows": rows}
        offset = await self._append(entry, flush=False)
        self.batches[batch] = BatchState(ANSWERED, first, last, len(rows), offset)

    async def ended(self, batch: str, status: str, first: int, last: int, count: int, reason: str) -> None:
        """A batch that failed as a whole: UNKNOWN (may have run) or FAILED (certainly did not)."""
        kind = "unknown" if status == UNKNOWN else "failed"
        await self._append(
            {"t": kind, "batch": batch, "first": first, "last": last, "n": count, "reason": reason},
            flush=False,
        )
        self.batches[batch] = BatchState(status, first, last, count, reason=reason)

    def close(self) -> None:
        if self._fd >= 0:
            with suppress(OSError):  # the lines are written; only their flush could still fail
                os.fsync(self._fd)
            os.close(self._fd)  # closing the last descriptor releases the lock
            self._fd = -1
