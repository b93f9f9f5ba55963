"""The one phone rule: how numbers are compared, matched by their ending, checked and sent to Ameyo.

Built on Google's libphonenumber (the `phonenumberslite` port: the same parser as `phonenumbers`
without the geocoder and carrier data, a ninth of the install). The
library is imported on first use only, because cold start is benchmarked and most calls never
touch a phone.

- A number's comparison `key` is its national significant number (NSN) as digits: formatting, a
  country code and a trunk `0` do not matter (`+91 93344 19416`, `09334419416`, `919334419416` and
  `0091 93344 19416` all give `9334419416` for region IN).
- "Last digits" match the END of a number only (of its key or of its digits), and need at least
  `MIN_TAIL_DIGITS` digits: fewer match too many customers to mean anything.
- `for_ameyo` gives the spelling sent to Ameyo's dialer (`AMEYO_PHONE_FORMAT`, see `STYLES`).
  A number that is already digits only and complete is sent untouched: Ameyo matches customers by
  the exact text of `phone1`, so rewriting numbers of existing files would create new customers.

Digits-only text, with or without a leading `+` (what bulk files and Ameyo's contacts hold, a row
at a time), takes a fast path that replays the library's own parsing steps with the metadata of the
region or of the number's country code; `tests/test_phones.py` checks it against the library with
hypothesis.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from ..errors import PhoneError, SettingsError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

MIN_TAIL_DIGITS: Final = 4
"""Fewest digits accepted as the end of a number (and fewest a key may have)."""

STYLES: Final = {
    "national": "the national significant number, digits only (9876543210)",
    "trunk": "the trunk prefix and the national number (09876543210)",
    "international": "the country code and the national number, digits only (919876543210)",
    "e164": "E.164, + and the country code (+919876543210)",
}
DEFAULT_STYLE: Final = "national"
DEFAULT_REGION: Final = "IN"

_NON_DIGITS = re.compile(r"\D")
# What people put between the digits of a number; anything else (letters, ;, #, *) is refused.
_PASTED = re.compile(r"[\d\s+\-().\/\u00a0\u2010-\u2015]+")
# A number cell of a spreadsheet written out as a decimal ("9876543213.0", or a JSON float): the dot
# would be read as a separator, and the number dialled with a 0 more, someone else's.
# Its one dot comes before one or two zeros that end it: a dot before a group of digits is a
# separator ("98765.00000", "98.76.54.32.00").
_DECIMAL = re.compile(r"[^.]*\d\.0{1,2}")
_DECIMAL_WHY = "a decimal number (a spreadsheet's number cell ends in .0): give it as text, without the .0"
# A number cell a spreadsheet showed, and so saved, in scientific notation ("9.87654E+11", or
# "9,87654E+11" where the comma is the decimal mark): the file keeps its first digits only, and no
# reading of it is the customer's number.
_SCIENTIFIC = re.compile(r"\d(?:[.,]\d*)?[eE]\+?\d{1,3}")
_SCIENTIFIC_WHY = (
    "a spreadsheet's number in scientific notation (such as 9.87654E+11), which has lost its last "
    "digits: format the column as text in the spreadsheet, check the numbers and save it again"
)
# Two numbers in one cell, as agents note a customer's second line ("98765 43210 / 98765 43211",
# "…43210, …43211", "022-2345 6789/90"): read as one, their digits run together into a number no
# one has, and a search for it finds no one. Told by a separator after a complete number.
_BETWEEN_NUMBERS = re.compile(r"\s*[/,;|]\s*")
_TWO_NUMBERS = "two phone numbers in one field"
_TWO_NUMBERS_WHY = f"{_TWO_NUMBERS}: give one number per field (a customer's second as phone2)"
# An office's number with its extension ("022-2345 6789 ext 101"): a dialer calls the number, and the
# extension is keyed in after an answer, so no spelling of it is one to send.
_EXTENSION = re.compile(r"(.*?\d.*?)[\s,]*(?:ext|extn|x)\.?\s*\d{1,6}", re.IGNORECASE)
_EXTENSION_WHY = (
    "a number with an extension, which Ameyo's dialer cannot dial: give the number without its extension"
)
_MAX_NSN = 17  # libphonenumber's longest national number
_MAX_TEXT = 250  # libphonenumber's longest input


class Dialable(NamedTuple):  # a tuple: made once per row of a bulk file, cheaper than a frozen dataclass
    """A number as it will be sent to Ameyo; `rewritten` when that differs from what was given."""

    value: str
    rewritten: bool


@dataclass(frozen=True, slots=True)
class PhoneRule:
    """The two phone settings together (AMEYO_PHONE_REGION, AMEYO_PHONE_FORMAT): `Settings.phone_rule`."""

    region: str
    style: str


class _Facts(NamedTuple):  # a tuple: made once per row of a bulk file, and cheaper to build than a dataclass
    """What parsing a text found: country calling code, NSN, and whether it is a possible number."""

    country_code: int
    nsn: str
    possible: bool


def digits(text: str) -> str:
    """Every ASCII digit of a text, in order (for display and for matching ends)."""
    return _NON_DIGITS.sub("", text)


def digit_count(text: str) -> int:
    """How many digits a number has, as its refusal tells it: a decimal one's `.0` (`_DECIMAL`, a
    spreadsheet's number cell or a JSON number) is no digit of the number ("9876543214.0" has 10)."""
    text = text.strip()
    if _DECIMAL.fullmatch(text):
        text = text[: text.rindex(".")]
    return len(digits(text))


def key(raw: str, region: str) -> str | None:
    """The comparison key: the national significant number as digits, or None if there is none."""
    facts = _facts(raw, region)
    return facts.nsn if facts is not None else None


def identity(raw: str, region: str) -> str | None:
    """The number with its country code (`+919334419416`), or None: what `same_number` compares.
    The key alone would make `+34 612345678` and `612345678` (in India) one number."""
    facts = _facts(raw, region)
    return f"+{facts.country_code}{facts.nsn}" if facts is not None else None


def same_number(a: str, b: str, region: str) -> bool:
    """Whether two texts are one number: the same key in the same country. A foreign number run
    together without its `+` (Ameyo's `34697912072`, `447911123456`) is also the number it spells,
    when the other text is that country's number (`_plus_reading`)."""
    one = identity(a, region)
    if one is None:
        return False
    other = identity(b, region)
    if other is None:
        return False
    if one == other:
        return True
    # Only another country's number can be a run's foreign reading: two of the region's numbers
    # that differ (the usual pair) are told apart without parsing either again.
    home = f"+{_home_code(region)}"
    return (not other.startswith(home) and _plus_identity(a, region) == other) or (
        not one.startswith(home) and _plus_identity(b, region) == one
    )


class Positions:
    """`same_number` against many numbers at once: called with a stored text, the positions of
    `numbers` that are the same number, in order. Each number is read once and looked up by its
    identity: asking `same_number` of every pair cost a file upload's do-not-call check 500 × 500
    parses a batch. A foreign reading (`_plus_identity`, two parses of its own) is read only for
    a text that ends as a foreign identity on the other side does (`tail`)."""

    def __init__(self, numbers: Sequence[str], region: str) -> None:
        self.numbers, self.region, self.home = numbers, region, home_prefix(region)
        self.by_identity: dict[str, list[int]] = {}
        for position, number in enumerate(numbers):
            if (one := identity(number, region)) is not None:
                self.by_identity.setdefault(one, []).append(position)
        # Another country's numbers among them: only those can be a stored run's foreign reading.
        self.foreign = [one for one in self.by_identity if not one.startswith(self.home)]
        self.foreign_tails = {tail(one) for one in self.foreign}
        self._by_tail: dict[str, list[int]] | None = None
        self._plus: dict[int, str | None] = {}

    def __call__(self, stored: str) -> list[int]:
        one = identity(stored, self.region)
        if one is None:
            return []
        found = list(self.by_identity.get(one, ()))
        if tail(stored) in self.foreign_tails:
            plus = _plus_identity(stored, self.region)
            if plus is not None and not plus.startswith(self.home):
                found += self.by_identity.get(plus, ())
        if not one.startswith(self.home):
            found += self._runs_of(one)
        return sorted(set(found)) if len(found) > 1 else found

    def tails(self) -> Mapping[str, list[int]]:
        """The positions of the numbers by their last digits (`tail`), read once: a stored foreign
        number can be the foreign reading only of those that end as it does."""
        if self._by_tail is None:
            self._by_tail = {}
            for positions in self.by_identity.values():
                for position in positions:
                    self._by_tail.setdefault(tail(self.numbers[position]), []).append(position)
        return self._by_tail

    def _runs_of(self, foreign: str) -> list[int]:
        """The positions whose number, read as another country's run without its `+`, is `foreign`."""
        found = []
        for position in self.tails().get(tail(foreign), ()):
            if position not in self._plus:
                self._plus[position] = _plus_identity(self.numbers[position], self.region)
            if self._plus[position] == foreign:
                found.append(position)
        return found


def tail(text: str) -> str:
    """A text's last four digits. A foreign reading of a run of digits (`_plus_identity`) ends with
    them, as the run does: a valid number's national part has at least four digits (the shortest
    numbering plan's), and the run ends with it. Only a text with the tail of a foreign identity
    can be read as it, so only such texts are parsed so."""
    return digits(text)[-4:]


def home_prefix(region: str) -> str:
    """`+` and the region's country code: how its numbers' identities begin."""
    return f"+{_home_code(region)}"


def plus_identity(text: str, region: str) -> str | None:
    """The identity of a run of digits read as another country's number without its `+`
    (`447911123456` is `+447911123456`), or None: what `same_number` also compares."""
    return _plus_identity(text, region)


@functools.cache
def _home_code(region: str) -> int:
    return int(_lib().country_code_for_region(region))


def _plus_identity(text: str, region: str) -> str | None:
    foreign = _plus_reading(text, region)
    return f"+{foreign.country_code}{foreign.nsn}" if foreign is not None else None


def is_complete(raw: str, region: str) -> bool:
    """Whether the text is a possible full number, not a partial one such as the last digits.

    libphonenumber's possible-number test by length, without its "possible local only" case:
    six digits are an Indian landline without its area code, or the last six of a mobile, and
    neither is a number to dial from a contact center."""
    facts = _facts(raw, region)
    return facts is not None and facts.possible


def ends_with(number: str, tail: str, region: str) -> bool:
    """Whether `number` ends with `tail` (a whole number or its last digits): `9174` matches
    `...9174`, never `917485017980`. Raises PhoneError when `tail` has too few digits."""
    return ending_matcher(tail, region)(number)


def ending_matcher(tail: str, region: str) -> Callable[[str], bool]:
    """`ends_with` with `tail` checked once, for scanning many numbers."""
    tail_digits = digits(tail)
    if len(tail_digits) < MIN_TAIL_DIGITS:
        raise PhoneError(
            f"A phone number or its last digits needs at least {MIN_TAIL_DIGITS} digits; "
            f"{_shown(tail)} has {len(tail_digits)}."
        )
    tail_key = key(tail, region)

    def matches(number: str) -> bool:
        if digits(number).endswith(tail_digits):
            return True
        if tail_key is None:
            return False
        number_key = key(number, region)
        return number_key is not None and number_key.endswith(tail_key)

    return matches


def _never(_stored: str) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class PhoneSearch:
    """A number a person gives to find a customer or a call (see `search`)."""

    whole: bool  # a complete number (`is_complete`), not only its last digits
    key: str | None  # its comparison key, when it has one
    digits: str  # its digits
    matches: Callable[[str], bool]  # whether a stored number is one it finds
    # A whole number's keys in every spelling a place that keeps keys may hold it in (`_keys_of`).
    keys: tuple[str, ...] = ()
    # A valid number, not only one of a possible length: nine digits are a possible Indian number
    # and, far more often, the end of a mobile's. A place that keeps keys looks a valid one up by
    # `keys`, any other by `tails`.
    valid: bool = False
    # Whether a stored number it finds is the number given (`same_number`), not a longer, other
    # number that only ends with it: never so for last digits, which name no number.
    is_given: Callable[[str], bool] = _never

    @property
    def tails(self) -> tuple[str, ...]:
        """What a place that keeps numbers as keys is searched by: the keys that end with one of
        its keys or with its digits, as `matches` finds them (`+91 419416` is `419416` after its
        code)."""
        return tuple(dict.fromkeys(t for t in (self.key, *self.keys, self.digits) if t))

    def holds(self, stored: str) -> bool:
        """Whether a key a place keeps (`key`) is of a number this search finds, where nothing else
        checks the number: one of its whole keys, or a key ending with its own key or digits (a
        foreign number's national digits end many of the region's numbers)."""
        return stored in self.keys or any(stored.endswith(t) for t in (self.key, self.digits) if t)


def search(text: str, region: str) -> PhoneSearch:
    """The one rule for a number given to find someone, "the whole number or its last digits".

    It finds the numbers that end with it (`ends_with`): the same number in any spelling, a longer
    one that holds it after a prefix the phone rule does not strip (the vendor document's own
    `0458681166572` for `8681166572`, another number: `is_given` tells them apart) and, for last
    digits, any number that ends so. `whole` says whether it is a complete number, which a place
    that keeps only keys (the call history) looks up by `key`. Raises PhoneError when it has fewer
    than MIN_TAIL_DIGITS digits, or anything but what numbers are written with (`98765abc` is not
    `98765` with a typo left out)."""
    if _two_numbers(text, region):
        raise PhoneError(f"{_shown(text)} is {_TWO_NUMBERS}: give one number at a time.")
    if _extension(text, region):
        raise PhoneError(f"{_shown(text)} is {_EXTENSION_WHY}.")
    if not is_number_text(text.strip()):
        raise PhoneError(
            f"{_shown(text)} is not a phone number: use digits (the whole number or its last "
            f"{MIN_TAIL_DIGITS} or more), optionally with + and the country code."
        )
    matches = ending_matcher(text, region)
    facts = _facts(text, region)
    foreign = _with_plus(text, region)
    regional = facts is not None and facts.possible
    keys = _keys_of(facts if regional else None, foreign, region)
    whole = regional or foreign is not None
    valid = foreign is not None or (regional and _valid(text, region))
    given = functools.partial(same_number, text, region=region) if whole else _never
    return PhoneSearch(whole, facts.nsn if facts else None, digits(text), matches, keys, valid, given)


def _valid(text: str, region: str) -> bool:
    lib = _lib()
    try:
        return bool(lib.is_valid_number(lib.parse(text, region)))
    except lib.NumberParseException:
        return False


def _keys_of(regional: _Facts | None, foreign: _Facts | None, region: str) -> tuple[str, ...]:
    """The keys of a whole number in the spellings numbers are stored in: its own; that of its
    country code and number run together without `+` (Ameyo's `34697912072` for Spain's
    `+34 697 91 20 72`, which the region's rule reads as one long national number); and, for such a
    run of digits given, those of the foreign number it is (`_with_plus`)."""
    found: list[str] = []
    for facts in (regional, foreign):
        if facts is not None:
            found.append(facts.nsn)
            if run := key(f"{facts.country_code}{facts.nsn}", region):
                found.append(run)
    return tuple(dict.fromkeys(found))


def _with_plus(text: str, region: str) -> _Facts | None:
    """Digits without `+` or a trunk `0` (spaces and the like between them) that are no valid number
    of `region` but a valid one with `+` before them: a foreign number written without its `+`, as
    Ameyo's pushes write them. Not when its national number is a valid number of `region` too:
    its key would find that region's customers (`18662648345`, a US number, is not India's
    `8662648345`)."""
    foreign = _plus_reading(text, region)
    if foreign is None or _valid(foreign.nsn, region):
        return None
    return foreign


def _plus_reading(text: str, region: str) -> _Facts | None:
    """Digits without `+` or a trunk `0` that are no valid number of `region` but a valid one with
    `+` before them, read so (`447911123456` is +44 7911 123456), whatever its national digits
    are in `region`."""
    text = text.strip()
    if text[:1] in ("+", "0") or not is_number_text(text):
        return None
    run = digits(text)
    if not 8 <= len(run) <= _MAX_NSN + 3:
        return None
    lib = _lib()
    try:
        regional, foreign = lib.parse(run, region), lib.parse(f"+{run}", region)
    except lib.NumberParseException:
        return None
    if lib.is_valid_number(regional) or not lib.is_valid_number(foreign):
        return None
    return _Facts(foreign.country_code, lib.national_significant_number(foreign), True)


def for_ameyo(raw: str, region: str, style: str = DEFAULT_STYLE) -> Dialable:
    """The spelling sent to Ameyo's dialer for a number as people paste it (`+91 98765 43211`,
    `98-330-00004`, `(0) 98765 43211`). Raises PhoneError with the reason when it is not a
    complete phone number."""
    return dial_and_identity(raw, region, style)[0]


def dial_and_identity(raw: str, region: str, style: str = DEFAULT_STYLE) -> tuple[Dialable, str]:
    """`for_ameyo` and `identity` in one parse, for uploads that check every row of a file."""
    if style not in STYLES:
        raise PhoneError(f"The phone format {style!r} is unknown; use one of {', '.join(STYLES)}.")
    text = raw.strip()
    if text.isdigit() and text.isascii():
        rule = _rule(region)
        facts = rule.digits_facts(text) if rule.fast else _library_facts(text, region)
        if facts is not None and facts.possible:
            return Dialable(text, text != raw), f"+{facts.country_code}{facts.nsn}"
    elif not text:
        raise PhoneError("The phone number is empty.")
    elif _SCIENTIFIC.fullmatch(text):
        raise PhoneError(f"{_shown(raw)} is {_SCIENTIFIC_WHY}.", _SCIENTIFIC_WHY)
    elif _two_numbers(text, region):
        raise PhoneError(f"{_shown(raw)} is {_TWO_NUMBERS_WHY}.", _TWO_NUMBERS_WHY)
    elif _extension(text, region):
        raise PhoneError(f"{_shown(raw)} is {_EXTENSION_WHY}.", _EXTENSION_WHY)
    elif not is_number_text(text):
        raise PhoneError(
            f"{_shown(raw)} is not a phone number: use digits, optionally with + and the country code."
        )
    if _DECIMAL.fullmatch(text):  # (digits alone, the usual text, never reach here)
        raise PhoneError(f"{_shown(raw)} is {_DECIMAL_WHY}.", _DECIMAL_WHY)
    facts = _facts(text, region)
    if facts is None or not facts.possible:
        why = f"not {'a' if facts is None else 'a complete'} phone number: {_why_not(text, region)}"
        raise PhoneError(f"{_shown(raw)} is {why}.", why)
    value = _spell(facts, region, style)
    return Dialable(value, value != raw), f"+{facts.country_code}{facts.nsn}"


def _two_numbers(text: str, region: str) -> bool:
    """Whether `text` is numbers joined by a separator (`_BETWEEN_NUMBERS`), the first of them a
    complete number: `98765/43210` stays one number written with a slash."""
    parts = _BETWEEN_NUMBERS.split(text.strip())
    if len(parts) < 2 or not all(part and is_number_text(part) and digits(part) for part in parts):
        return False
    facts = _facts(parts[0], region)
    return facts is not None and facts.possible


def _extension(text: str, region: str) -> bool:
    """Whether `text` is a complete number followed by an extension (`_EXTENSION`)."""
    found = _EXTENSION.fullmatch(text.strip())
    if found is None or not is_number_text(found[1]):
        return False
    facts = _facts(found[1], region)
    return facts is not None and facts.possible


def is_number_text(text: str) -> bool:
    """Whether `text` is made only of digits and what people put between them (spaces, +, dashes,
    brackets, dots, slashes): letters, `;`, `#` or `*` make it no number at all."""
    return _PASTED.fullmatch(text) is not None


def check_region(region: str) -> str:
    """The region code if libphonenumber knows it; SettingsError naming the setting otherwise."""
    _rule(region)
    return region


def region_unknown(region: str) -> bool:
    """Whether libphonenumber surely has no metadata for `region`, told from its data files without
    importing it (start-up never loads the library). False when that cannot be told so (a layout
    of the library's files not seen before): the first use of the rule then refuses the region."""
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("phonenumbers")
    if spec is None or not spec.submodule_search_locations:
        return False
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not (data / f"region_{DEFAULT_REGION}.py").is_file():
        return False
    return not (data / f"region_{region}.py").is_file()


def unknown_region(region: str) -> SettingsError:
    return SettingsError(
        f"AMEYO_PHONE_REGION {region!r} is not a region libphonenumber knows: "
        "use a two-letter ISO code such as IN."
    )


# --- the library, loaded on first use ---------------------------------------------------------


def _lib() -> Any:
    import phonenumbers  # lazy: an import most calls never need (see module docstring)

    return phonenumbers


def _facts(raw: str, region: str) -> _Facts | None:
    text = raw.strip()
    rule = _rule(region)
    if text.isascii():
        if text.isdigit() and rule.fast:
            return rule.digits_facts(text)
        if text[:1] == "+" and text[1:].isdigit():
            return _international_facts(text, text[1:], region)
    if _DECIMAL.fullmatch(text):
        return None  # no number's spelling: searched for, or compared, it is none
    return _library_facts(text, region)


def _library_facts(text: str, region: str) -> _Facts | None:
    if not text or len(text) > _MAX_TEXT or any(c.isalpha() for c in text):
        return None  # letters would be read as a vanity number (1-800-FLOWERS): never a customer's
    lib = _lib()
    try:
        number = lib.parse(text, region)
    except lib.NumberParseException:
        return None
    nsn: str = lib.national_significant_number(number)
    if len(nsn) < MIN_TAIL_DIGITS:
        return None
    possible = lib.is_possible_number_with_reason(number) == lib.ValidationResult.IS_POSSIBLE
    return _Facts(number.country_code, nsn, possible)


def _why_not(text: str, region: str) -> str:
    lib = _lib()
    try:
        number = lib.parse(text, region)
    except lib.NumberParseException as exc:
        reasons = {
            lib.NumberParseException.INVALID_COUNTRY_CODE: "its country code is not one that exists",
            lib.NumberParseException.TOO_LONG: "it has too many digits",
        }
        return reasons.get(exc.error_type, "it has too few digits")
    reason = lib.is_possible_number_with_reason(number)
    result = lib.ValidationResult
    if reason == result.TOO_LONG:
        return f"it has too many digits for a number of region {lib.region_code_for_number(number)}"
    if reason == result.INVALID_COUNTRY_CODE:
        return "its country code is not one that exists"
    if reason == result.IS_POSSIBLE_LOCAL_ONLY:
        return "it has no area code"
    if len(lib.national_significant_number(number)) < MIN_TAIL_DIGITS:
        return "it has too few digits"
    return f"it has too few digits for a number of region {lib.region_code_for_number(number) or region}"


def _spell(facts: _Facts, region: str, style: str) -> str:
    lib = _lib()
    home = lib.country_code_for_region(region)
    if style == "e164":
        return f"+{facts.country_code}{facts.nsn}"
    if style == "international":
        return f"{facts.country_code}{facts.nsn}"
    if facts.country_code != home:
        # Another country's number is dialed as from the region: its international prefix (00 in
        # India), the country code, the number.
        number = lib.parse(f"+{facts.country_code}{facts.nsn}", None)
        spelled: str = lib.format_out_of_country_calling_number(number, region)
        return ("+" if spelled.startswith("+") else "") + digits(spelled)
    if style == "trunk":
        prefix = lib.PhoneMetadata.metadata_for_region(region).national_prefix or ""
        return f"{prefix}{facts.nsn}"
    return facts.nsn


def _shown(text: str) -> str:
    return repr(text if len(text) <= 30 else text[:29] + "…")


@lru_cache(maxsize=64)
def _rule(region: str) -> _Rule:
    lib = _lib()
    if region not in lib.SUPPORTED_REGIONS:
        # A setting, not the number: refused as a phone, every row would blame its own data.
        raise unknown_region(region)
    return _Rule(lib, region)


# --- the fast path for digits-only text -------------------------------------------------------

_TOO_SHORT, _POSSIBLE, _LOCAL_ONLY, _INVALID_LENGTH, _TOO_LONG = range(5)
_KEEP_PREFIX = frozenset({_TOO_SHORT, _LOCAL_ONLY, _INVALID_LENGTH})


def _length_results(desc: Any) -> tuple[int, ...]:
    """libphonenumber's `_test_number_length` for one general description, for every length up to
    `_MAX_TEXT`: a bulk file's rows look their length up instead of testing it."""
    possible = tuple(desc.possible_length)
    local = frozenset(desc.possible_length_local_only)

    def test(n: int) -> int:
        if n in local:
            return _LOCAL_ONLY
        if n == possible[0]:
            return _POSSIBLE
        if n < possible[0]:
            return _TOO_SHORT
        if n > possible[-1]:
            return _TOO_LONG
        return _POSSIBLE if n in possible else _INVALID_LENGTH

    return tuple(test(n) for n in range(_MAX_TEXT + 1))


class _Rule:
    """One region's parsing steps for digits-only text, as libphonenumber's `parse` takes them.

    The fast path covers regions without a national prefix transform rule (213 of 245), and numbers
    given with a country code whose main region is one of them; anything else goes to the library.
    """

    def __init__(self, lib: Any, region: str) -> None:
        meta = lib.PhoneMetadata.metadata_for_region(region)
        self.region = region
        self.country_code: int = meta.country_code
        self.cc_text = str(meta.country_code)
        self.fast = not meta.national_prefix_transform_rule
        self.idd = re.compile(meta.international_prefix).match if meta.international_prefix else None
        self.prefix = (
            re.compile(meta.national_prefix_for_parsing).match if meta.national_prefix_for_parsing else None
        )
        pattern = meta.general_desc.national_number_pattern
        self.general = re.compile(pattern).fullmatch if pattern else None
        self.lengths = _length_results(meta.general_desc)
        # The possible-number test reads the metadata of the country code's main region (US for CA).
        main = lib.PhoneMetadata.metadata_for_region_or_calling_code(
            meta.country_code, lib.region_code_for_country_code(meta.country_code)
        )
        self.possible = frozenset(
            n for n, result in enumerate(_length_results(main.general_desc)) if result == _POSSIBLE
        )

    def _viable(self, number: str) -> bool:
        return self.general is not None and self.general(number) is not None

    def _strip_prefix(self, number: str, match: re.Match[str]) -> str:
        rest = number[match.end() :]
        if self._viable(number) and not self._viable(rest):
            return number
        return rest

    def digits_facts(self, text: str) -> _Facts | None:
        size = len(text)
        if size < 2 or size > _MAX_TEXT:
            return None
        if self.idd is not None:
            idd = self.idd(text)
            if idd is not None and text[idd.end() : idd.end() + 1] != "0":
                return _international_facts(text, text[idd.end() :], self.region)
        national = text
        prefix = self.prefix
        if text.startswith(self.cc_text):
            stripped = text[len(self.cc_text) :]
            match = prefix(stripped) if prefix is not None and stripped else None
            if match is not None:
                stripped = self._strip_prefix(stripped, match)
            if (not self._viable(text) and self._viable(stripped)) or self.lengths[size] == _TOO_LONG:
                national = stripped
                if len(national) < 2:
                    return None
        return self.national_facts(national)

    def national_facts(self, national: str) -> _Facts | None:
        """The facts of a national number of this region, once any country code is gone: its
        trunk prefix stripped where what is left still has a usable length."""
        prefix = self.prefix
        match = prefix(national) if prefix is not None else None
        if match is not None:
            stripped = self._strip_prefix(national, match)
            if self.lengths[len(stripped)] not in _KEEP_PREFIX:
                national = stripped
        if len(national) > _MAX_NSN or len(national) < MIN_TAIL_DIGITS:
            return None
        return _Facts(self.country_code, national, len(national) in self.possible)


def _international_facts(text: str, rest: str, region: str) -> _Facts | None:
    """Digits after `+` or the region's international prefix: a country code, then a national
    number of that country, parsed with its main region's rule (the library's own steps)."""
    if len(rest) <= 2:
        return None  # libphonenumber: too short after the international prefix
    found = _country_code(rest)
    if found is None:
        return _library_facts(text, region)  # no known country code: the library says why
    code, national = found
    rule = _country_rule(code)
    if rule is None:
        return _library_facts(text, region)  # a non-geographic code, or a region outside the fast path
    if len(national) < 2:
        return None
    return rule.national_facts(national)


def _country_code(digits_: str) -> tuple[int, str] | None:
    """libphonenumber's country code at the start of `digits_` (1 to 3 digits, never 0...), and the rest."""
    if digits_[:1] == "0":
        return None
    known = _lib().COUNTRY_CODE_TO_REGION_CODE
    for size in (1, 2, 3):
        code = int(digits_[:size])
        if code in known:
            return code, digits_[size:]
    return None


@lru_cache(maxsize=512)
def _country_rule(code: int) -> _Rule | None:
    """The fast-path rule for numbers with this country code (its main region's), or None."""
    lib = _lib()
    main = lib.region_code_for_country_code(code)
    if main not in lib.SUPPORTED_REGIONS:
        return None
    rule = _rule(main)
    return rule if rule.fast and rule.country_code == code else None
