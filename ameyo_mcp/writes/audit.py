"""The audit trail: one JSON line per write event.

An `intent` line is written and flushed to disk before anything is sent (if it cannot be, nothing
is sent) and a `result` (or `error`) line after, so that after any crash a person can see which
writes were started and never answered. A result line is on the file at once and flushed to disk
with the next intent: a process that dies loses none, and a power cut at most the last results,
whose writes then read as never answered (as the ledger's settlements do, which are not flushed on
their own either), which is what sends a person to check.

The trail is a file a day, named after the configured one (`audit.jsonl` → `audit-2026-12-06.jsonl`)
by the UTC day of its lines' `ts`. Every process writing to the folder appends whole lines to the
same day's file and nothing is ever renamed, so processes sharing a folder (the server, the CLI)
neither lose nor interleave lines at midnight. Days older than the kept ones are deleted by whichever
process first writes on a new day.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..config import DEFAULT_AUDIT_DAYS
from ..rules.redact import SECRETS

log = logging.getLogger(__name__)
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    def __init__(
        self,
        path: Path,
        *,
        ameyo: str,
        days: int = DEFAULT_AUDIT_DAYS,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.path = path  # the trail's name; its lines are in day files beside it (`day_file`)
        self.ameyo = ameyo  # which Ameyo server the writes went to: one trail may serve several
        self.days = days
        self._clock = clock
        self._lock = threading.Lock()
        self._day = ""
        self.current = day_file(path, "0000-00-00")  # the day file last written (or tried)
        # Files this process wrote lines to that are not yet on disk: the next `append` flushes them,
        # yesterday's too when the day turned between a result and the next intent.
        self._unflushed: set[Path] = set()
        # A day file this process created, whose folder entry is not yet on disk either.
        self._new_entry = False

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
            log.error("Could not write the audit trail %s: %s", self.current, type(exc).__name__)

    def _put(self, event: str, fields: dict[str, Any], *, flush: bool) -> None:
        now = self._clock().astimezone(UTC).isoformat(timespec="milliseconds")
        entry = {"ts": now, "event": event, "ameyo": self.ameyo, **fields}
        data = (SECRETS.json_text(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        with self._lock:
            if now[:10] != self._day:
                self._turn(now[:10])
                fd = self._open_first()
            else:
                try:
                    fd = os.open(self.current, _FLAGS, 0o600)
                except FileNotFoundError:  # its folder went away since the day began
                    fd = self._open_first()
            try:
                # A short write (a full disk) must not leave half a line that the next one continues.
                while data:
                    data = data[os.write(fd, data) :]
                if flush:
                    os.fsync(fd)
            finally:
                os.close(fd)
            if flush:
                self._flush_the_rest()
            else:
                self._unflushed.add(self.current)

    def _turn(self, day: str) -> None:
        """A new day (or this process's first line): its file, and the days no longer kept gone."""
        self._day = day
        self.current = day_file(self.path, day)
        try:
            prune(self.path, keep_days=self.days, today=date.fromisoformat(day))
        except OSError as exc:
            log.warning("Could not delete old audit files beside %s: %s", self.path, type(exc).__name__)

    def _open_first(self) -> int:
        """The day file opened for this process's first line in it: made, with its folder, if no
        other process made it first (its folder entry is then flushed with the next intent)."""
        try:
            fd = os.open(self.current, _FLAGS | os.O_EXCL, 0o600)
        except FileExistsError:
            return os.open(self.current, _FLAGS, 0o600)
        except FileNotFoundError:  # its folder is made once, not looked for at every line
            self.current.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(self.current, _FLAGS | os.O_EXCL, 0o600)
            except FileExistsError:
                return os.open(self.current, _FLAGS, 0o600)
        self._new_entry = True
        return fd

    def _flush_the_rest(self) -> None:
        if self._new_entry:
            fd = os.open(self.current.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._new_entry = False
        for other in self._unflushed - {self.current}:
            with contextlib.suppress(FileNotFoundError):  # deleted since: nothing left to flush
                fd = os.open(other, os.O_WRONLY | os.O_APPEND)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        self._unflushed.clear()


def day_file(path: Path, day: str) -> Path:
    """The file of one UTC day (`YYYY-MM-DD`) of the trail named `path`."""
    return path.with_name(f"{path.stem}-{day}{path.suffix}")


def _days_of(path: Path) -> Iterator[tuple[date, Path]]:
    shape = re.compile(re.escape(path.stem) + r"-(\d{4}-\d{2}-\d{2})" + re.escape(path.suffix))
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(path.parent):
            found = shape.fullmatch(entry.name)
            if found:
                with contextlib.suppress(ValueError):
                    yield date.fromisoformat(found[1]), Path(entry.path)


def trail_files(path: Path) -> list[Path]:
    """The files of the trail named `path`, oldest first: the single file earlier versions wrote
    under the name itself (if it is still there), then the days."""
    earlier = [path] if path.is_file() else []
    return earlier + [file for _, file in sorted(_days_of(path))]


def read_trail(path: Path) -> Iterator[dict[str, Any]]:
    """Every line of the trail named `path`, across its files, oldest first."""
    for file in trail_files(path):
        with contextlib.suppress(FileNotFoundError), file.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)


def prune(path: Path, *, keep_days: int, today: date) -> list[Path]:
    """Delete the trail's days older than `keep_days` before `today` (so no line younger than that is
    ever deleted), and the single file of earlier versions once its last line is as old; the paths
    deleted."""
    oldest = today - timedelta(days=keep_days)
    gone = [file for day, file in _days_of(path) if day < oldest]
    began = datetime.combine(oldest, datetime.min.time(), UTC).timestamp()
    with contextlib.suppress(FileNotFoundError):
        if path.is_file() and path.stat().st_mtime < began:
            gone.append(path)
    for file in gone:
        with contextlib.suppress(FileNotFoundError):  # another process deleted it first
            file.unlink()
    return gone
