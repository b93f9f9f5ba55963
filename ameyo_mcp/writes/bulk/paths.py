"""Which files the upload tool may read and write: only those under AMEYO_UPLOAD_DIRS.

A model chooses the path, so every path is resolved (symlinks and `..` followed) before it is
compared with the allowed folders: a link inside a folder that points outside it is refused. It
reads contact files only (by their suffix), never dotfiles or files in dot-folders such as `.env`
or `.git/`: an upload folder may hold other things, and error lines quote parts of what is read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ...errors import PathRefused

CONTACT_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl")


def _inside(path: Path, dirs: Sequence[Path]) -> bool:
    return any(path == d or path.is_relative_to(d) for d in (x.resolve() for x in dirs))


def _hidden(path: Path, dirs: Sequence[Path]) -> bool:
    """A dotfile, or a file in a dot-folder, below the allowed folder it is in."""
    for d in (x.resolve() for x in dirs):
        if path == d or path.is_relative_to(d):
            return any(part.startswith(".") for part in path.relative_to(d).parts)
    return True


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
    candidates = [given] if given.is_absolute() else [d / given for d in dirs]
    for candidate in candidates:
        real = candidate.resolve()
        if not _inside(real, dirs):
            continue
        if real.is_file():
            if real.suffix.lower() not in CONTACT_SUFFIXES or _hidden(real, dirs):
                raise PathRefused(
                    f"{raw[:200]!r} is not a contact file: only {', '.join(CONTACT_SUFFIXES)} files that "
                    "are not hidden (no name starting with '.') may be uploaded"
                )
            return real
    real = candidates[0].resolve()
    if not _inside(real, dirs):
        raise PathRefused(
            f"{raw[:200]!r} is outside the folders this server may read (AMEYO_UPLOAD_DIRS: "
            f"{_listing(dirs)}); links and '..' are followed before checking"
        )
    raise PathRefused(f"{raw[:200]!r} is not a file in AMEYO_UPLOAD_DIRS ({_listing(dirs)})")


def allowed_output(raw: str | Path, dirs: Sequence[Path]) -> Path:
    """Where a result or journal file may be written: under the allowed folders, not a folder."""
    real = Path(raw).expanduser().resolve()
    if not dirs or not _inside(real, dirs):
        raise PathRefused(
            f"{str(raw)[:200]!r} is outside the folders this server may write "
            f"(AMEYO_UPLOAD_DIRS: {_listing(dirs) or 'none set'})"
        )
    if real.is_dir():
        raise PathRefused(f"{str(raw)[:200]!r} is a folder; give a file name")
    return real
