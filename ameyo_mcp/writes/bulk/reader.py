"""Rows of a contact file, one at a time, with the physical line each came from.

The file is read as bytes, line by line, and each line is decoded on its own, as UTF-8 or else as
Windows-1252 (what Excel saves as "CSV" on Windows; the reader counts such lines, and the upload says
so). A stray quote spoils only its own line, which comes back with the reason instead of its fields.
A quoted field may hold line breaks (an address typed in a spreadsheet cell; they become spaces): a
line that does not parse is joined with the next ones, up to `MAX_JOINED_LINES` and
`MAX_LINE_BYTES`, only when that makes one well-formed row, so a lone quote cannot swallow the rows
after it. Memory stays flat: one
row is held at a time, and a line longer than `MAX_LINE_BYTES` is skipped in pieces rather than read
whole.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ...ameyo.customers import PRIMARY_COLUMN
from ...errors import FileFormatError
from ...rules.encodings import legacy_text
from ...rules.sanitize import data_text
from .outputs import regular_head

MAX_LINE_BYTES = 64 * 1024
# Lines a quoted field may span: an address or a note, not a document.
MAX_JOINED_LINES = 20
JSON_SUFFIXES = frozenset({".jsonl", ".ndjson"})
# Names matched whatever their case, because people write "Phone1" and mean phone1.
KNOWN_COLUMNS = frozenset({PRIMARY_COLUMN, "callback_time", "callback_user", "callback_phone"})
_DELIMITERS = (",", ";", "\t", "|")
_BOM = b"\xef\xbb\xbf"
# The first bytes of spreadsheet files (.xlsx/.ods are zip archives; .xls is an OLE2 document).
_SPREADSHEET_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
SPREADSHEET_ADVICE = (
    "is a spreadsheet, not a text file: open it and save it as CSV (in Excel: File > Save As > "
    '"CSV UTF-8"), then upload the .csv file'
)
# Text files a spreadsheet saves that the byte-line reader cannot split into rows: UTF-16 (Excel's
# "Unicode Text", its BOM first) and lines ended by a carriage return alone (Excel for Mac's "CSV
# (Macintosh)"), which is one line of malformed CSV to a reader of line feeds.
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SAVE_AS_CSV = (
    'which this reader does not take: save it as "CSV UTF-8" (in Excel: File > Save As), then upload that'
)
_UTF16_ADVICE = f'is UTF-16 text (what Excel saves as "Unicode Text"), {_SAVE_AS_CSV}'
_CR_ADVICE = (
    'ends its lines with a carriage return alone (what Excel for Mac saves as "CSV (Macintosh)"), '
    f"{_SAVE_AS_CSV}"
)
# Excel's line naming the separator, before the header ("sep=;"), in files written for Excel. Matched
# on the line as written: the separator may be a tab or a space, which stripping the line drops.
_SEPARATOR_LINE = re.compile(r'\s*"?sep=(.)"?\s*')
_HASH_CHUNK = 1 << 20
_PHONE_LIKE = re.compile(r"(?i)phone|mobile|cell|msisdn|number|contact|tel")


@dataclass(slots=True)  # not frozen: one is made per row, and frozen ones cost more to build
class Row:
    line: int
    fields: dict[str, str] | None  # None when the line itself could not be read
    problem: str | None = None


@dataclass(frozen=True)
class FileFacts:
    sha256: str
    size: int
    lines: int


def file_facts(path: Path) -> FileFacts:
    """The file's hash (the journal's key) and its line count (the progress total), in one pass."""
    digest = hashlib.sha256()
    size = lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return FileFacts(digest.hexdigest(), size, lines)


def parse_column_map(pairs: Mapping[str, str] | list[str] | None) -> dict[str, str]:
    """`{"Mobile": "phone1"}` or `["Mobile=phone1"]` (the CLI's --map) as one mapping."""
    if pairs is None:
        return {}
    if isinstance(pairs, Mapping):
        items = list(pairs.items())
    else:
        items = []
        for pair in pairs:
            old, sep, new = pair.partition("=")
            if not sep:
                raise FileFormatError(f"column map {data_text(pair, 60)!r} must look like old=new")
            items.append((old, new))
    mapping: dict[str, str] = {}
    for old, new in items:
        if not old.strip() or not new.strip():
            raise FileFormatError(
                f"column map {data_text(old, 40)!r} → {data_text(new, 40)!r} needs both names"
            )
        mapping[old.strip()] = new.strip()
    return mapping


def _column_name(raw: str, mapping: Mapping[str, str]) -> str:
    name = raw.strip()
    name = mapping.get(name, name)
    return name.lower() if name.lower() in KNOWN_COLUMNS else name


class RowReader:
    """Iterate `Row`s of a CSV file (header row first) or a JSON-lines file (`.jsonl`)."""

    def __init__(self, path: Path, column_map: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.mapping = dict(column_map or {})
        self.json_lines = path.suffix.lower() in JSON_SUFFIXES
        self.columns: list[str] = []
        self._delimiter = ","
        # The header's width, and the positions of its columns without a name (`_read_header`).
        self._width = 0
        self._nameless: tuple[int, ...] = ()
        # Lines that were not UTF-8 and were read as Windows-1252, and the first of them.
        self.legacy_lines = 0
        self.first_legacy_line: int | None = None

    def header(self) -> list[str]:
        """The CSV header's column names (after the column map); raises FileFormatError if unusable."""
        if self.json_lines:
            return []
        with self.path.open("rb") as handle:
            self._read_header(_Lines(handle))
        return list(self.columns)

    def __iter__(self) -> Iterator[Row]:
        with self.path.open("rb") as handle:
            lines = _Lines(handle)
            if not self.json_lines:
                self._read_header(lines)
            for number, raw in lines:
                if raw is None:
                    yield Row(number, None, f"line is longer than {MAX_LINE_BYTES} bytes")
                    continue
                text = self._decoded(number, raw)
                if not text.strip():
                    continue
                if self.json_lines:
                    yield self._json_row(number, text)
                    continue
                if text[0] in (self._delimiter, " ", "\t", '"') and _empty_row(text, self._delimiter):
                    continue  # a spreadsheet's empty row (;; or "";""): no row, not one missing phone1
                row = self._csv_row(number, text)
                if row.fields is None and text.count('"') % 2:
                    row = self._joined(number, text, lines) or row
                yield row

    def _decoded(self, number: int, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.legacy_lines += 1
            if self.first_legacy_line is None:
                self.first_legacy_line = number
            return legacy_text(raw)

    def _joined(self, number: int, text: str, lines: _Lines) -> Row | None:
        """The row that starts at `text` and goes on over the next lines (a quoted field holding a
        line break), if joining them makes one well-formed row; else None, and the lines stay."""
        taken: list[tuple[int, bytes | None]] = []
        size = len(text)
        for next_number, raw in lines:
            taken.append((next_number, raw))
            if raw is None or len(taken) >= MAX_JOINED_LINES:
                break
            try:
                more = raw.decode("utf-8")
            except UnicodeDecodeError:
                break
            size += len(more) + 1
            if size > MAX_LINE_BYTES:
                break
            text = f"{text}\n{more}"
            if text.count('"') % 2 == 0:
                row = self._csv_row(number, text)
                if row.fields is None:
                    break
                # A contact field is one line (Ameyo's columns, and the rule that refuses control
                # characters): the cell's line breaks become spaces.
                row.fields = {k: " ".join(v.splitlines()) if "\n" in v else v for k, v in row.fields.items()}
                return row
        lines.put_back(taken)
        return None

    def _read_header(self, lines: Iterator[tuple[int, bytes | None]]) -> None:
        named: str | None = None  # the separator a "sep=" line named
        for number, raw in lines:
            if number == 1 and raw is not None and raw.startswith(_SPREADSHEET_MAGIC):
                raise FileFormatError(f"the file {SPREADSHEET_ADVICE}")
            if number == 1 and raw is not None and raw.startswith(_UTF16_BOMS):
                raise FileFormatError(f"the file {_UTF16_ADVICE}")
            if number == 1 and (raw is None or b"\r" in raw) and _lines_end_with_cr(self.path):
                raise FileFormatError(f"the file {_CR_ADVICE}")
            if raw is None:
                raise FileFormatError(f"the header (line {number}) is longer than {MAX_LINE_BYTES} bytes")
            text = self._decoded(number, raw)
            if not text.strip():
                continue
            if number == 1 and (line := _SEPARATOR_LINE.fullmatch(text)):
                # Read as a header, it was a file without phone1, and the advice to rename a
                # phone column misled.
                named = line.group(1)
                continue
            self._delimiter = named or max(_DELIMITERS, key=text.count)
            try:
                names = next(csv.reader([text], delimiter=self._delimiter, strict=True))
            except csv.Error as exc:
                raise FileFormatError(f"the header (line {number}) is malformed CSV: {exc}") from None
            mapping, unmatched = _map_for(self.mapping, [n.strip() for n in names])
            columns = [_column_name(n, mapping) for n in names]
            # A spreadsheet saved as CSV often ends each line with a separator more (a column it
            # once had, or a stray cell's width): a column without a name is read as one nobody
            # filled, and a row that does fill it is refused (`_csv_row`).
            self._width = len(columns)
            self._nameless = tuple(i for i, name in enumerate(columns) if not name)
            seen: dict[str, int] = {}
            for index, name in enumerate(columns, start=1):
                if not name:
                    continue
                if name in seen:
                    raise FileFormatError(f"columns {seen[name]} and {index} of the header have one name")
                seen[name] = index
            if PRIMARY_COLUMN not in seen:
                raise FileFormatError(_no_phone_column(number, columns, unmatched))
            if unmatched:
                # A column the map was meant for would be sent under its own name, or not at all:
                # names or numbers missing from every record, said by no one.
                named = ", ".join(repr(data_text(u, 30)) for u in unmatched[:3])
                raise FileFormatError(
                    f"the column map names {named}, which {'is' if len(unmatched) == 1 else 'are'} no "
                    f"column of the header (line {number}): correct the map to the header's spelling, "
                    "or leave that entry out"
                )
            self.columns = [name for name in columns if name]
            return
        raise FileFormatError("the file is empty: it needs a header row naming the columns")

    def _csv_row(self, number: int, text: str) -> Row:
        if '"' not in text:
            # Without quotes a CSV line is exactly its fields split on the delimiter; most lines
            # of a contact list are like that, and splitting is several times faster than csv.
            values = text.split(self._delimiter)
        else:
            try:
                values = next(csv.reader([text], delimiter=self._delimiter, strict=True))
            except csv.Error as exc:
                return Row(number, None, f"malformed CSV: {exc}")
            # Excel keeps a leading 0 by writing the cell as a formula, ="09876500001": its value
            # is the text inside (only a line with quotes can hold one).
            values = [_excel_text(v) if v[:2] == '="' else v for v in values]
        if len(values) != self._width:
            return Row(
                number, None, f"malformed CSV: {len(values)} fields where the header has {self._width}"
            )
        if self._nameless:
            filled = next((i for i in self._nameless if values[i].strip()), None)
            if filled is not None:
                return Row(
                    number,
                    None,
                    f"column {filled + 1} holds a value but the header gives it no name: name the "
                    "column in the header, or empty it",
                )
            values = [v for i, v in enumerate(values) if i not in self._nameless]
        return Row(number, dict(zip(self.columns, values, strict=True)))

    def _json_row(self, number: int, text: str) -> Row:
        try:
            # Numbers kept as written: a cell of 5,000 digits is refused as a long value, not
            # converted (Python refuses that conversion, and the whole upload with it), and a phone
            # of 9.87654E+11 is told as a spreadsheet's, not as 987654000000.0 to resend without .0.
            value = json.loads(text, parse_int=str, parse_float=str)
        except json.JSONDecodeError as exc:
            return Row(number, None, f"not valid JSON: {exc.msg} at column {exc.colno}")
        except RecursionError:
            return Row(number, None, "not valid JSON: nested too deeply")
        if not isinstance(value, dict):
            return Row(number, None, "not a JSON object")
        fields: dict[str, str] = {}
        for key, item in value.items():
            name = _column_name(str(key), self.mapping)
            if item is None:
                continue
            if isinstance(item, dict | list):
                return Row(number, None, "a field holds an object or a list, not a plain value")
            if isinstance(item, bool):
                fields[name] = "true" if item else "false"
            else:
                fields[name] = item if isinstance(item, str) else str(item)
        return Row(number, fields)


class _Lines:
    """(line number, bytes without the line end) of a file; None for a line too long to hold. Lines
    read ahead can be put back, to be read again in order."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._number = 0
        self._back: list[tuple[int, bytes | None]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> tuple[int, bytes | None]:
        if self._back:
            return self._back.pop()
        raw = self._handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            raise StopIteration
        self._number += 1
        if self._number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := self._handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            return self._number, None
        return self._number, raw.rstrip(b"\r\n")

    def put_back(self, taken: list[tuple[int, bytes | None]]) -> None:
        self._back.extend(reversed(taken))


def is_spreadsheet(path: Path) -> bool:
    """Whether the file is a spreadsheet whatever its name says (an .xlsx renamed .csv)."""
    return regular_head(path, 8).startswith(_SPREADSHEET_MAGIC)


def _lines_end_with_cr(path: Path) -> bool:
    """Whether the file's lines end with a carriage return alone: its first line's worth of bytes
    holds carriage returns and no line feed."""
    head = regular_head(path, MAX_LINE_BYTES + 1)
    return b"\r" in head and b"\n" not in head


def _empty_row(text: str, delimiter: str) -> bool:
    """Whether a line holds only separators, blanks and empty quotes: a spreadsheet's empty row."""
    return not text.replace(delimiter, "").replace('"', "").strip()


def _excel_text(cell: str) -> str:
    """The text of an Excel text formula (="0987", its quotes doubled inside), else the cell."""
    if len(cell) >= 3 and cell[-1] == '"':
        return cell[2:-1].replace('""', '"')
    return cell


def _map_for(mapping: Mapping[str, str], names: list[str]) -> tuple[dict[str, str], list[str]]:
    """The column map as the header spells its columns: a name given in another case ("mobile"
    for "Mobile") is the column with that name in any case when just one has it. Also the names
    the map gives that are no column of the header."""
    exact = set(names)
    folded: dict[str, list[str]] = {}
    for name in names:
        folded.setdefault(name.casefold(), []).append(name)
    out: dict[str, str] = {}
    unmatched: list[str] = []
    for old, new in mapping.items():
        same = folded.get(old.casefold(), [])
        if old in exact:
            out[old] = new
        elif len(same) == 1:
            out[same[0]] = new
        else:
            unmatched.append(old)
    return out, unmatched


def _no_phone_column(number: int, columns: list[str], unmatched: list[str]) -> str:
    """Name only the columns that look like phone columns: the header of a file that is not a
    contact list may hold anything, and an error line must not pass it on."""
    likely = [data_text(c, 30) for c in columns if _PHONE_LIKE.search(c) and len(c) <= 30]
    hint = likely[0] if likely else "Mobile"
    found = f"; columns that look like phones: {', '.join(likely[:5])}" if likely else ""
    missed = (
        f"; the column map names {', '.join(repr(data_text(u, 30)) for u in unmatched[:3])}, which "
        f"{'is' if len(unmatched) == 1 else 'are'} no column of it"
        if unmatched
        else ""
    )
    return (
        f"the header (line {number}) has no {PRIMARY_COLUMN} column among its {len(columns)} columns"
        f"{found}{missed}. Rename the phone column with a column map: column_map "
        f'{{"{hint}": "{PRIMARY_COLUMN}"}} (ameyo-mcp upload: --map {hint}={PRIMARY_COLUMN})'
    )
