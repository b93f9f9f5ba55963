"""Which files the upload tool may read and write: only those under AMEYO_UPLOAD_DIRS.

A model chooses the path, so every path is resolved (symlinks and `..` followed) before it is
compared with the allowed folders: a link inside a folder that points outside it is refused. It
reads contact files only (by their suffix), never dotfiles or files in dot-folders such as `.env`
or `.git/`: an upload folder may hold other things, and error lines quote parts of what is read.
Nor the files uploads write beside a contact file (results, checks, journals): `written_by_upload`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ...errors import PathRefused
from ...rules.counts import at_least, counted
from ...rules.sanitize import data_text, fence
from ...rules.times import ago_text
from .outputs import contact_file_of, written_by_upload
from .reader import SPREADSHEET_ADVICE, is_spreadsheet

CONTACT_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl")
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")
# A listing names the newest files; it looks at no more entries than this, however big the folders.
LISTED_FILES = 20
_SCANNED_ENTRIES = 5_000
_DEPTH = 3


@dataclass(frozen=True)
class ContactFile:
    """A file the upload tool may read: its path as the tool takes it, its folder, size, and age."""

    name: str
    folder: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class Listing:
    files: list[ContactFile]  # the newest `limit`
    total: int
    complete: bool  # False when the folders held more entries than were looked at


def contact_files(dirs: Sequence[Path], limit: int = LISTED_FILES) -> Listing:
    """The newest contact files under `dirs`, not hidden, a few folders deep; at most
    `_SCANNED_ENTRIES` entries are looked at, however big the folders."""
    found: list[ContactFile] = []
    scanned = 0
    for top in dirs:
        root = top.resolve()
        for folder, subfolders, files in os.walk(root):
            here = Path(folder)
            depth = len(here.relative_to(root).parts)
            subfolders[:] = [] if depth >= _DEPTH else sorted(d for d in subfolders if not d.startswith("."))
            for name in files:
                scanned += 1
                path = here / name
                # Listed only what `allowed_file` would read, by its own rules (a link is followed).
                real = path.resolve()
                if not _inside(real, dirs):
                    continue
                try:
                    facts = real.stat()
                except OSError:
                    continue
                # A regular file only, before anything opens it: a named pipe called `.csv` held the
                # listing (and every refusal that shows it) until something wrote to it.
                if not stat.S_ISREG(facts.st_mode) or not _contact_file(real, dirs) or is_spreadsheet(real):
                    continue
                modified = datetime.fromtimestamp(facts.st_mtime, UTC)
                found.append(ContactFile(str(path.relative_to(root)), str(root), facts.st_size, modified))
            if scanned >= _SCANNED_ENTRIES:
                break
        if scanned >= _SCANNED_ENTRIES:
            break
    found.sort(key=lambda f: f.modified, reverse=True)
    return Listing(found[:limit], len(found), scanned < _SCANNED_ENTRIES)


def files_text(dirs: Sequence[Path]) -> str:
    """The files the upload tool may read, newest first, for a refusal or the files resource."""
    if not dirs:
        return "No folder is allowed for contact files (AMEYO_UPLOAD_DIRS is not set)."
    listing = contact_files(dirs)
    where = f"AMEYO_UPLOAD_DIRS: {_listing(dirs)}"
    if not listing.files:
        return (
            f"There is no contact file ({', '.join(CONTACT_SUFFIXES)}) in the folders it may read ({where})."
        )
    count = counted(listing.total, "file") if listing.complete else at_least(listing.total, "file")
    more = f"; the {len(listing.files)} newest are" if listing.total > len(listing.files) else ""
    # How long ago, not a clock time: this host's clock and zone are not the Ameyo server's, in
    # which every other time is shown.
    now = datetime.now(UTC)
    lines = [
        f"{f.name}  ({_size(f.size)}, modified {ago_text((now - f.modified).total_seconds())})"
        for f in listing.files
    ]
    return "\n".join([f"The contact files it may read ({where}): {count}{more}", *fence(lines)])


def _size(size: int) -> str:
    return f"{size:,} bytes" if size < 10_000 else f"{size / 1024:,.0f} KB"


def _inside(path: Path, dirs: Sequence[Path]) -> bool:
    return any(path == d or path.is_relative_to(d) for d in (x.resolve() for x in dirs))


def _hidden(path: Path, dirs: Sequence[Path]) -> bool:
    """A dotfile, or a file in a dot-folder, below the allowed folder it is in."""
    for d in (x.resolve() for x in dirs):
        if path == d or path.is_relative_to(d):
            return any(part.startswith(".") for part in path.relative_to(d).parts)
    return True


def _contact_file(real: Path, dirs: Sequence[Path]) -> bool:
    """A file the tool reads: a contact file's suffix, not hidden, and not one an upload wrote."""
    return real.suffix.lower() in CONTACT_SUFFIXES and not _hidden(real, dirs) and not written_by_upload(real)


def _listing(dirs: Sequence[Path]) -> str:
    return os.pathsep.join(str(d) for d in dirs)


def allowed_file(raw: str, dirs: Sequence[Path]) -> Path:
    """The real path of an existing file under one of `dirs`; a relative path is read against them."""
    if not dirs:
        raise PathRefused(
            "No folder is allowed for contact files: set AMEYO_UPLOAD_DIRS to the folders (separated "
            f"by {os.pathsep!r}) this server may read, then restart it"
        )
    given = Path(raw.strip()).expanduser()
    named = repr(data_text(raw, 200))  # the caller's text, as every answer echoes an argument
    candidates = [given] if given.is_absolute() else [d / given for d in dirs]
    for candidate in candidates:
        real = candidate.resolve()
        if not _inside(real, dirs):
            continue
        if real.is_file():
            if real.suffix.lower() in SPREADSHEET_SUFFIXES:
                raise PathRefused(f"{data_text(real.name, 200)} {SPREADSHEET_ADVICE}")
            if _contact_file(real, dirs):
                return real
            if written_by_upload(real):
                source = contact_file_of(real)
                instead = f"upload {data_text(source, 200)} itself, or" if source else "give"
                raise PathRefused(
                    f"{named} is a file an upload wrote (its answer for each row), not a contact "
                    f"file: {instead} another contact file. {files_text(dirs)}"
                )
            raise PathRefused(
                f"{named} is not a contact file: only {', '.join(CONTACT_SUFFIXES)} files that "
                "are not hidden (no name starting with '.') may be uploaded"
            )
    listed = _listed_as(raw.strip(), dirs)
    if listed is not None:
        return allowed_file(str(listed), dirs)
    real = candidates[0].resolve()
    if not _inside(real, dirs):
        raise PathRefused(
            f"{named} is outside the folders this server may read; links and '..' are followed "
            f"before checking. {files_text(dirs)}"
        )
    raise PathRefused(f"{named} is not a file in AMEYO_UPLOAD_DIRS. {files_text(dirs)}")


def _listed_as(name: str, dirs: Sequence[Path]) -> Path | None:
    """The file whose name the listing showed as `name` ("list ‹new›.csv" for "list <new>.csv": a
    file's name is shown through the fence rule), when exactly one was."""
    shown = [f for f in contact_files(dirs).files if data_text(f.name, 300) == name]
    return Path(shown[0].folder) / shown[0].name if len(shown) == 1 else None


def allowed_output(raw: str | Path, dirs: Sequence[Path]) -> Path:
    """Where a result or journal file may be written: under the allowed folders, not a folder."""
    real = Path(raw).expanduser().resolve()
    if not dirs or not _inside(real, dirs):
        raise PathRefused(
            f"{data_text(raw, 200)!r} is outside the folders this server may write "
            f"(AMEYO_UPLOAD_DIRS: {_listing(dirs) or 'none set'})"
        )
    if real.is_dir():
        raise PathRefused(f"{data_text(raw, 200)!r} is a folder; give a file name")
    return real
