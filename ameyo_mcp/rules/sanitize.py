"""Customer data is free text written by strangers: make it inert before a model reads it.

Control and escape characters, zero-width and bidirectional marks are removed, whitespace is
folded, and every value is capped. The server's own words never pass through here; everything
that does is shown inside clearly delimited data lines.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

FIELD_CAP = 120
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
_INVISIBLE = {
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e",
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069",
    "\u200e", "\u200f", "\u061c",
}  # fmt: skip
_SPACE = re.compile(r"\s+")


def is_plain(text: str) -> bool:
    """Whether `clean_text` leaves `text` as it is (its length aside): isprintable (in C) rules out
    control, escape, zero-width, bidirectional and non-ASCII space characters at once."""
    return text.isprintable() and "  " not in text and text == text.strip()


def clean_text(value: Any, cap: int = FIELD_CAP) -> str:
    """One line of plain, visible text, at most `cap` characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= cap and is_plain(text):  # the usual field
        return text
    text = _ANSI.sub("", text)
    text = "".join(
        " " if ch in "\t\n\r\v\f" else ch
        for ch in text
        if ch not in _INVISIBLE and (ch in "\t\n\r\v\f" or unicodedata.category(ch)[0] != "C")
    )
    text = _SPACE.sub(" ", text).strip()
    if len(text) > cap:
        text = cut(text, cap - 1).rstrip() + "…"
    return text


# How far a cut moves back to keep a letter whole: an Indian conjunct with its marks is a few code
# points, a run of marks longer than this is no letter (stacked diacritics), cut anywhere.
_LONGEST_LETTER = 8


def cut(text: str, size: int) -> str:
    """`text[:size]`, moved back to where a letter ends: in Indian scripts a letter is a consonant
    with its vowel sign and nukta, and a virama joins it to the next consonant ("ष्ट्र" is one), so
    a cut between them shows another sound ("तमिलनाडु" as "तमिलनाड") or a virama joining nothing."""
    end = size
    while 0 < end < len(text) and (
        unicodedata.category(text[end])[0] == "M" or unicodedata.combining(text[end - 1]) == 9
    ):
        end -= 1
        if end <= size - _LONGEST_LETTER:
            return text[:size]
    return text[:end]


def clean_mapping(data: dict[str, Any], *, cap: int = FIELD_CAP, max_fields: int = 30) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in list(data.items())[:max_fields]:
        if value is None:
            continue
        out[clean_text(key, 40)] = clean_text(value, cap)
    return out


DATA_OPEN = "<customer-data>"
DATA_CLOSE = "</customer-data>"
# What reads as a fence's < or >, folded to ‹ and › (a text made of them cannot open or close a
# fence): the ASCII brackets, their full-width and small forms (＜﹤), and Unicode's other
# confusables of them (‹ ❮ ˂ ᐸ 〈 〈 ⟨ ❬ ⧼ and their closing twins). Slashes that read as "/" are
# folded to it (／ ⁄ ∕ ⧸ ╱), and bidirectional and zero-width controls dropped: U+202E can show
# "›atad-remotsuc/‹" reversed.
_OPENS = "<\uff1c\ufe64\u2039\u276e\u02c2\u1438\u2329\u3008\u27e8\u276c\u29fc"
_CLOSES = ">\uff1e\ufe65\u203a\u276f\u02c3\u1433\u232a\u3009\u27e9\u276d\u29fd"
_SLASHES = "\uff0f\u2044\u2215\u29f8\u2571"
_INERT = str.maketrans(
    {
        **dict.fromkeys(map(ord, _OPENS), "‹"),
        **dict.fromkeys(map(ord, _CLOSES), "›"),
        **dict.fromkeys(map(ord, _SLASHES), "/"),
        **dict.fromkeys(map(ord, _INVISIBLE), None),
    }
)
_LINE_CAP = 20_000


def inert(text: str) -> str:
    """Text that cannot open or close a fence, however it spells one: every look-alike of < and >
    folded to ‹ and ›, slashes to /, bidirectional and zero-width controls dropped."""
    if text.isascii():  # the usual line: of all the table folds, ASCII holds only < and >
        return text.replace("<", "‹").replace(">", "›") if "<" in text or ">" in text else text
    return text.translate(_INERT)


def data_text(value: Any, cap: int = FIELD_CAP) -> str:
    """A customer value as it may be shown: one clean line that cannot fake a fence."""
    return inert(clean_text(value, cap))


def reason_text(value: Any, cap: int) -> str:
    """A reason as an answer shows it, as `data_text` does, but a long one cut where a sentence
    ends (what follows is a step the answer says once, in a note), or else between words with an
    ellipsis: never in the middle of a word, which read as garbled ("each with a callbac…")."""
    text = clean_text(value, max(cap, 1) * 4)
    if len(text) > cap:
        end = text.rfind(". ", 0, cap + 2)  # the sentence without its full stop fits the cap
        while end > 0 and text[:end].endswith(("e.g", "i.e")):
            end = text.rfind(". ", 0, end)
        if end >= cap // 2:
            text = text[:end]
        else:
            space = text.rfind(" ", 0, cap)
            text = (text[:space] if space >= cap // 2 else cut(text, cap - 1)).rstrip(" ,;:(") + "…"
    return inert(text)


def fence(lines: Iterable[str]) -> list[str]:
    """Lines that hold customer text, inside the `<customer-data>` fence that they cannot close:
    each one clean line (no control, escape or bidirectional characters) with `inert` brackets.

    The one place customer text is fenced: every answer that shows such text goes through here."""
    return [DATA_OPEN, *(data_text(line, _LINE_CAP) for line in lines), DATA_CLOSE]


# The combining marks that belong to a word, kept where accents fold away: the vowel signs of
# Indian scripts (combining class 0), the nukta (7) and the virama (9): "प्रिया" without its virama
# is another word.
WORD_MARKS = frozenset((0, 7, 9))
# Malayalam's atomic chillus (Unicode 5.1), which names written before them spell as the consonant,
# a virama and a zero-width joiner: one name either way, once the joiner is dropped.
_CHILLUS = {
    0x0D54: "\u0d2e\u0d4d", 0x0D55: "\u0d2f\u0d4d", 0x0D56: "\u0d34\u0d4d", 0x0D7A: "\u0d23\u0d4d",
    0x0D7B: "\u0d28\u0d4d", 0x0D7C: "\u0d30\u0d4d", 0x0D7D: "\u0d32\u0d4d", 0x0D7E: "\u0d33\u0d4d",
    0x0D7F: "\u0d15\u0d4d",
}  # fmt: skip


class Folding(dict[int, int | str | None]):
    """str.translate table of the one character rule of matching, for a text NFKD has split accents
    off (`fold`, and the index's name rule, `store.fold`, which must agree: a contact the index finds
    by name is checked by the live filter): the marks of a word kept (`WORD_MARKS`), other marks
    deleted (accents, Arabic and Hebrew vowel points: people type names without them), invisible
    format characters deleted (a zero-width joiner: a name is typed with or without it), Malayalam's
    atomic chillus spelt as before them; anything else stays, or with `apart` a character other than
    a letter or digit becomes it (words split there). Each character is classified once, then looked
    up at C speed."""

    def __init__(self, apart: int | None = None) -> None:
        super().__init__()
        self._apart = apart

    def __missing__(self, char: int) -> int | str | None:
        text = chr(char)
        kind = unicodedata.category(text)
        kept: int | str | None = char
        if char in _CHILLUS:
            kept = _CHILLUS[char]
        elif kind[0] == "M":
            kept = char if unicodedata.combining(text) in WORD_MARKS else None
        elif kind == "Cf":
            kept = None
        elif self._apart is not None and not text.isalnum():
            kept = self._apart
        if len(self) < 100_000:
            self[char] = kept
        return kept


_MATCHING = Folding()


def fold(text: str) -> str:
    """Text for matching: case and accents folded ("García" and "GARCIA" are one), spaces squeezed."""
    if text.isascii():  # the usual value, and the search of every scanned contact: skip Unicode work
        return _SPACE.sub(" ", text.lower()).strip()
    bare = unicodedata.normalize("NFKD", text).translate(_MATCHING)
    return _SPACE.sub(" ", bare.casefold()).strip()
