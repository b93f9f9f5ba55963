"""Text that is not UTF-8: read as Windows-1252, as Excel saves CSV and older Java systems send it.

The five bytes Windows-1252 leaves undefined are read as Latin-1 (control characters, which the
checks downstream refuse or strip). A contact file's line and a push's body follow this one rule.
"""

from __future__ import annotations

LEGACY_ENCODINGS = ("cp1252", "latin-1")  # tried in this order; Latin-1 reads any byte


def legacy_text(data: bytes) -> str:
    """`data` (which is not UTF-8) as Windows-1252, else Latin-1."""
    try:
        return data.decode(LEGACY_ENCODINGS[0])
    except UnicodeDecodeError:
        return data.decode(LEGACY_ENCODINGS[1])
