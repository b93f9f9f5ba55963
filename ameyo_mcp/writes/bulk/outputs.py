"""The files an upload writes (result, check and journal): where they may go, and how they are made.

An output never destroys anything: it may not be the contact file, and an existing file is only
replaced when it is one of our own result files (recognised by its header row) or appended to
when it is a journal (journals are append-only and keep each upload's lines apart). Result and
check files hold phone numbers, so like the journal they are created owner-only.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ...errors import OutputRefused
from ..outcome import RESULT_COLUMNS

_RESULT_HEADER = ",".join(RESULT_COLUMNS).encode()
JOURNAL_START = b'{"key":"'  # every journal line begins so
_PRIVATE = 0o600
# What a result file, a dry run's check file and a journal are called beside their contact file.
RESULT_SUFFIX, CHECK_SUFFIX, JOURNAL_SUFFIX = ".ameyo-result.csv", ".ameyo-check.csv", ".ameyo-journal"
_OUTPUT_SUFFIXES = (RESULT_SUFFIX, CHECK_SUFFIX, JOURNAL_SUFFIX)
# A result or check file's name carries its lead: d.csv.lead-21.ameyo-result.csv.
LEAD_PART = ".lead-{}"
_LEAD_NAMED = re.compile(r"\.lead-\d+\Z")


def written_by_upload(path: Path) -> bool:
    """Whether `path` is a file an upload wrote (a result or check file, by its default name or its
    header row, or a journal): never a contact file. Listed newest first, a result file came before
    the file it answers, and uploaded it sends its own answer columns as customer fields."""
    if path.name.endswith(_OUTPUT_SUFFIXES):
        return True
    head = _first_line(path)
    return head.rstrip(b"\r\n") == _RESULT_HEADER or head.startswith(JOURNAL_START)


def contact_file_of(path: Path) -> str | None:
    """The contact file an output was named after (`d.csv` for `d.csv.lead-21.ameyo-result.csv`),
    if any."""
    for suffix in _OUTPUT_SUFFIXES:
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return _LEAD_NAMED.sub("", path.name[: -len(suffix)]) or None
    return None


def beside(source: Path, given: Path | None, default_suffix: str) -> Path:
    """An output's real path: as given, a relative one read beside the contact file, or the default."""
    path = source.with_name(source.name + default_suffix) if given is None else given.expanduser()
    return (path if path.is_absolute() else source.parent / path).resolve()


def check_outputs(source: Path, result: Path, journal: Path) -> None:
    """Refuse output paths that would overwrite the contact file, each other, or a file not ours."""
    for what, path in (("result file", result), ("journal", journal)):
        if _same(path, source):
            raise OutputRefused(f"The {what} {path} is the contact file itself; give another path.")
        if path.exists() and not path.is_file():
            raise OutputRefused(f"The {what} {path} exists and is not a regular file; give a file path.")
    if _same(result, journal):
        raise OutputRefused(f"The result file and the journal are both {result}; give them different paths.")
    head = _first_line(result)
    if head and head.startswith(JOURNAL_START):
        raise OutputRefused(
            f"{result} is the journal of an upload, so it is not overwritten with a result file; "
            "give another result path."
        )
    if head and head.rstrip(b"\r\n") != _RESULT_HEADER:
        raise OutputRefused(
            f"{result} already exists and is not an upload's result file, so it is not overwritten; "
            "give a new result path or move that file away."
        )
    head = _first_line(journal)
    if head and not head.startswith(JOURNAL_START):
        raise OutputRefused(
            f"{journal} already exists and is not an upload journal, so nothing is appended to it; "
            "give another journal path."
        )


def create_private(path: Path) -> int:
    """Open `path` for writing from empty, owner-only (an existing file's wider mode is narrowed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, _PRIVATE)
    keep_private(fd)
    return fd


def keep_private(fd: int) -> None:
    if os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, _PRIVATE)


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)  # hard links, or paths spelt differently
    except OSError:
        return False


def _first_line(path: Path) -> bytes:
    head = regular_head(path, 256)
    end = head.find(b"\n")
    return head if end < 0 else head[: end + 1]


def regular_head(path: Path, size: int) -> bytes:
    """Up to `size` bytes from the start of a regular file; nothing of anything else, or of a file
    gone or not ours to read. Opened without waiting: a named pipe would wait for a writer, and a
    file swapped for one since it was listed must hold nothing up."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as handle:
        try:
            return handle.read(size) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
        except OSError:
            return b""
