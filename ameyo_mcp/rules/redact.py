"""Keeps secrets (password, hash key, session ids) out of every text that leaves the process.

Values are registered as soon as they are known; `scrub` replaces them in any text, and
`RedactingFilter` does the same for every log record that passes a handler. A value is masked as
written and as a request carries it: Ameyo's error texts may echo the login's form body, a password
in it URL-encoded inside a JSON string.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus

_MASK = "[redacted]"
# A secret's runs of letters and digits, four or more long: what its spellings keep of it.
_RUN = re.compile(r"[0-9A-Za-z]{4,}")
# Shorter values would turn ordinary words into masks; no real secret is that short.
_MIN_LENGTH = 4
# Session ids kept to mask: the newest. Every login adds one, and a server that runs for months
# logs in thousands of times; each scrub looks for every kept value, so all of them would make
# every scrubbed text (audit lines, log records) slower by the month. An id this many logins old
# belongs to a session long ended, which no request or answer carries any more.
RECENT_SESSIONS = 64


def spellings(secret: str) -> set[str]:
    """The secret as written and as a text may carry it: a JSON string's content (escaped once, or
    twice when a JSON body is quoted inside another; as Python, Gson's HTML-safe escapes, `\\/`,
    upper-case hex), each of these form- or URL-encoded (Python's, Java's URLEncoder with its `~`
    as %7E, JavaScript's encodeURIComponent; Latin-1 or UTF-8 bytes; hex in either case) or
    HTML-escaped."""
    escaped = {json.dumps(secret, ensure_ascii=ascii)[1:-1] for ascii in (True, False)}
    nested = {json.dumps(text, ensure_ascii=ascii)[1:-1] for text in escaped for ascii in (True, False)}
    texts = {secret, *escaped, *nested}
    for text in list(texts):
        texts.add(text.translate(_GSON_SAFE))
    for text in list(texts):
        texts |= {text.replace("/", "\\/"), _UNICODE_ESCAPE.sub(_upper_hex, text)}
    found: set[str] = set()
    for text in texts:
        encoded = {quote(text), quote(text, safe=""), quote_plus(text), quote_plus(text, safe="*")}
        encoded.add(quote(text, safe="-_.!~*'()"))
        # Java's URLEncoder: `~` as %7E, a space as `+`, in UTF-8 or the server's Latin-1.
        encoded.add(quote_plus(text, safe="*").replace("~", "%7E"))
        with contextlib.suppress(UnicodeEncodeError):
            encoded.add(quote(text, safe="", encoding="latin-1"))
            encoded.add(quote_plus(text, safe="*", encoding="latin-1").replace("~", "%7E"))
        encoded |= {_PERCENT.sub(lambda m: m.group().lower(), e) for e in encoded}
        marked = html.escape(text)
        found |= {
            text,
            *encoded,
            marked,
            marked.replace("&#x27;", "&#39;"),
            marked.replace("&#x27;", "&apos;"),
        }
    return found


def _upper_hex(match: re.Match[str]) -> str:
    return "\\u" + match.group()[2:].upper()


_UNICODE_ESCAPE = re.compile(r"\\u[0-9a-f]{4}")
_PERCENT = re.compile(r"%[0-9A-F]{2}")
# Gson's default escaping of characters that are special in HTML.
_GSON_SAFE = {ord(c): f"\\u{ord(c):04x}" for c in "<>&='"}


class Redactor:
    def __init__(self) -> None:
        self._lasting: set[str] = set()
        self._sessions: dict[str, None] = {}  # oldest first
        self._lock = threading.Lock()
        self._probes: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def add(self, secret: str | None) -> None:
        """A secret of the settings (password, keys, tokens): masked for the life of the process."""
        if secret and len(secret) >= _MIN_LENGTH:
            with self._lock:
                if secret not in self._lasting:
                    self._lasting.add(secret)
                    self._order()

    def add_session(self, session_id: str | None) -> None:
        """A session id: masked until `RECENT_SESSIONS` newer ones have been added."""
        if session_id and len(session_id) >= _MIN_LENGTH:
            with self._lock:
                if session_id in self._sessions:
                    self._sessions[session_id] = self._sessions.pop(session_id)  # the newest again
                    return
                self._sessions[session_id] = None
                while len(self._sessions) > RECENT_SESSIONS:
                    del self._sessions[next(iter(self._sessions))]
                self._order()

    def _order(self) -> None:
        # Longest first, so that a secret containing another is masked whole. A secret's spellings
        # mostly differ in its punctuation: they are looked for only where one of their runs of
        # letters and digits is in the text, so a text without any costs a look per run, not one
        # per spelling (pushes are scrubbed thousands a second).
        every = {form for secret in self._lasting | self._sessions.keys() for form in spellings(secret)}
        probes: dict[str, list[str]] = {}
        for form in sorted(every, key=len, reverse=True):
            runs = _RUN.findall(form)
            probes.setdefault(max(runs, key=len) if runs else form, []).append(form)
        self._probes = tuple((probe, tuple(forms)) for probe, forms in probes.items())

    def scrub(self, text: str) -> str:
        found = [form for probe, forms in self._probes if probe in text for form in forms]
        if len(found) > 1:
            found.sort(key=len, reverse=True)
        for form in found:
            if form in text:
                text = text.replace(form, _MASK)
        return text

    def scrub_values(self, values: Mapping[str, str]) -> Mapping[str, str]:
        """`values` with every secret masked in each name and value; the same mapping when none
        holds one (one search over them all: pushes come thousands a second)."""
        joined = "\x00".join([*values.keys(), *values.values()])
        if self.scrub(joined) == joined:
            return values
        return {self.scrub(name): self.scrub(value) for name, value in values.items()}

    def json_text(self, value: Any, **dumps: Any) -> str:
        """`value` as JSON text (`json.dumps` with `dumps`) with every secret masked in its strings
        and names. Masked in the values, not in the text: a number or a JSON word (`null`, `true`)
        that spells a secret stays what it is, and the text stays JSON that reads back."""
        text = json.dumps(value, **dumps)
        if self.scrub(text) == text:  # the usual value: one search of the whole text
            return text
        return json.dumps(self._masked(value), **dumps)

    def _masked(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {self.scrub(str(k)): self._masked(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._masked(v) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.scrub(str(value))  # what `default=str` would write


SECRETS = Redactor()


class RedactingFilter(logging.Filter):
    """Attach to a handler: rewrites each record's final message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = SECRETS.scrub(message)
        if clean != message:
            record.msg = clean
            record.args = None
        if record.exc_info and not record.exc_text:
            # The traceback as the handler's formatter would write it (it keeps this text): an
            # exception's message may hold a secret too.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = SECRETS.scrub(record.exc_text)
        return True


_TRACEBACKS = logging.Formatter()
