"""The phone rule (ameyo_mcp/rules/phones.py): keys, endings, completeness, the dialer's spelling, and the
digits-only fast path checked against libphonenumber itself."""

from __future__ import annotations

import subprocess
import sys

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ameyo_mcp.errors import PhoneError, SettingsError
from ameyo_mcp.rules import phones
from ameyo_mcp.rules.phones import Dialable, ends_with, for_ameyo, is_complete, key, same_number

ONE_NUMBER = ["+91 93344 19416", "09334419416", "9334419416", "919334419416", "0091 93344 19416"]


@pytest.mark.parametrize("spelling", ONE_NUMBER)
def test_key_ignores_formatting_country_code_and_trunk_zero(spelling: str) -> None:
    assert key(spelling, "IN") == "9334419416"


@pytest.mark.parametrize("text", ["", "   ", "12", "1-800-FLOWERS", "call me", "+", "9a8b7c6d5e4f"])
def test_key_is_none_without_a_usable_number(text: str) -> None:
    assert key(text, "IN") is None


def test_same_number() -> None:
    for a in ONE_NUMBER:
        for b in ONE_NUMBER:
            assert same_number(a, b, "IN")
    assert same_number("+91 73080 59204", "7308059204", "IN")
    assert not same_number("9334419416", "9334419417", "IN")
    # The same digits in another country are another number.
    assert not same_number("+34 612345678", "612345678", "IN")
    assert not same_number("", "", "IN")


def test_identity_keeps_the_country() -> None:
    assert {phones.identity(s, "IN") for s in ONE_NUMBER} == {"+919334419416"}
    assert phones.identity("+34 612 34 56 78", "IN") == "+34612345678"
    assert phones.identity("12", "IN") is None
    assert phones.dial_and_identity("+91 98765 43211", "IN", "trunk") == (
        Dialable("09876543211", True),
        "+919876543211",
    )


def test_ends_with_matches_the_end_only() -> None:
    assert not ends_with("917485017980", "9174", "IN")
    assert ends_with("917485017980", "7980", "IN")
    assert ends_with("09334419416", "19416", "IN")
    assert ends_with("09334419416", "+91 93344 19416", "IN")
    assert ends_with("+91 93344 19416", "09334419416", "IN")
    assert not ends_with("09334419416", "+91 93344 19417", "IN")


@pytest.mark.parametrize("tail", ["", "916", "+9-1-6", "abc"])
def test_ends_with_needs_four_digits(tail: str) -> None:
    with pytest.raises(PhoneError, match="at least 4 digits"):
        ends_with("09334419416", tail, "IN")


def test_is_complete() -> None:
    assert is_complete("+91 93344 19416", "IN")
    assert is_complete("09334419416", "IN")
    assert is_complete("+1 415 555 2671", "IN")
    assert not is_complete("9766", "IN")
    # Possible only as a local number (no area code), or the last six digits of a mobile.
    assert not is_complete("419416", "IN") and not is_complete("4419416", "IN")
    assert not is_complete("+91 9766", "IN")
    assert not is_complete("hello", "IN")


@pytest.mark.parametrize(
    ("raw", "style", "value"),
    [
        ("+91 98765 43211", "national", "9876543211"),
        ("98-330-00004", "national", "9833000004"),
        ("(0) 98765 43211", "national", "9876543211"),
        ("+91 98765 43211", "trunk", "09876543211"),
        ("+91 98765 43211", "international", "919876543211"),
        ("+91 98765 43211", "e164", "+919876543211"),
        # Other countries' numbers: dialed from India through its international prefix.
        ("+1 415 555 2671", "national", "0014155552671"),
        ("+34 612 34 56 78", "trunk", "0034612345678"),
        ("+34 612 34 56 78", "e164", "+34612345678"),
    ],
)
def test_for_ameyo_rewrites_pasted_spellings(raw: str, style: str, value: str) -> None:
    assert for_ameyo(raw, "IN", style) == Dialable(value, True)


@pytest.mark.parametrize("raw", ["9876543211", "09876543211", "919876543211", "0034612345678"])
@pytest.mark.parametrize("style", sorted(phones.STYLES))
def test_for_ameyo_keeps_complete_digits_untouched(raw: str, style: str) -> None:
    # Ameyo matches customers by phone1's text: rewriting these would make new customers.
    assert for_ameyo(raw, "IN", style) == Dialable(raw, False)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("9766", "not a complete phone number: it has too few digits"),
        ("419416", "not a complete phone number: it has no area code"),
        ("", "empty"),
        ("98765 ext 4", "use digits"),
        ("+999 1234567", "country code"),
        ("98765432112345678901", "too many digits"),
        ("9876543211; DROP", "use digits"),
    ],
)
def test_for_ameyo_refuses_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(PhoneError, match=reason) as caught:
        for_ameyo(raw, "IN")
    assert len(str(caught.value)) < 160


def test_unknown_style_and_region_are_named() -> None:
    with pytest.raises(PhoneError, match="national"):
        for_ameyo("9876543211", "IN", "dialable")
    with pytest.raises(SettingsError, match="AMEYO_PHONE_REGION 'XQ'"):
        key("9876543211", "XQ")
    assert phones.region_unknown("XQ") and not phones.region_unknown("GB")
    assert phones.check_region("GB") == "GB"


def test_the_library_loads_on_first_use_only() -> None:
    code = (
        "import sys, ameyo_mcp.cli.main, ameyo_mcp.server.app, ameyo_mcp.rules.phones as p; "
        "assert 'phonenumbers' not in sys.modules; "
        "p.key('9876543211', 'IN'); assert 'phonenumbers' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the fast path for digits-only text agrees with the library -----------------------------------

# Regions whose rules differ in the ways that matter: trunk 0 (IN, GB, ES), none (ES), trunk 1 and a
# shared country code (US, CA), Italian leading zeros (IT), a 3-digit IDD (US: 011), short numbers.
REGIONS = ["IN", "US", "CA", "GB", "ES", "IT", "DE", "CL", "SG", "AE", "FR", "JP"]
_PREFIXES = ["", "0", "00", "011", "91", "091", "0091", "1", "34", "0034", "39", "44", "000", "9191"]
_PREFIXES += ["+", "+91", "+34", "+1", "+39", "+0", "+0091", "+44", "+800", "+7", "+262", "+999", "0039"]


def _library(text: str, region: str) -> tuple[str | None, bool, str | None]:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, False, None
    nsn = phonenumbers.national_significant_number(number)
    if len(nsn) < phones.MIN_TAIL_DIGITS:
        return None, False, None
    reason = phonenumbers.is_possible_number_with_reason(number)
    return nsn, reason == phonenumbers.ValidationResult.IS_POSSIBLE, f"+{number.country_code}{nsn}"


@settings(max_examples=3000, deadline=None)
@given(
    region=st.sampled_from(REGIONS),
    prefix=st.sampled_from(_PREFIXES),
    body=st.text(alphabet="0123456789", min_size=0, max_size=18),
)
@example(region="IN", prefix="91", body="98765432")
@example(region="IN", prefix="", body="9198765432")
@example(region="IN", prefix="0", body="9334419416")
@example(region="IN", prefix="0091", body="9334419416")
@example(region="IT", prefix="", body="0212345678")
@example(region="US", prefix="1", body="4155552671")
@example(region="CA", prefix="011", body="919876543210")
@example(region="CA", prefix="+1", body="4165550123")
@example(region="IN", prefix="0034", body="612345678")
@example(region="IN", prefix="+34", body="0612345678")
@example(region="IN", prefix="+0091", body="9334419416")
@example(region="IN", prefix="+", body="12")
@example(region="IT", prefix="+39", body="0212345678")
def test_fast_path_agrees_with_the_library(region: str, prefix: str, body: str) -> None:
    text = prefix + body
    nsn, possible, identity = _library(text, region)
    assert key(text, region) == nsn
    assert is_complete(text, region) == possible
    assert phones.identity(text, region) == identity
    # And the same text with formatting, which always takes the library's path.
    if len(text) >= 2:
        assert key(f" {text[:2]}-{text[2:]} ", region) == nsn


def test_fast_path_covers_the_usual_regions() -> None:
    rule = phones._rule("IN")
    assert rule.fast and phones._rule("US").fast and phones._rule("GB").fast


def test_a_foreign_run_of_digits_holds_its_own_keys_and_not_the_regions_that_end_alike() -> None:
    """Ameyo's `34697912072` is Spain's +34 697 91 20 72 (its national digits end India's
    9697912072 too); `18662648345` is a US number whose national digits are a valid Indian number,
    and is not searched by them."""
    spain = phones.search("34 697 91 20 72", "IN")
    assert spain.whole and "697912072" in spain.keys and "34697912072" in spain.keys
    assert spain.holds("697912072") and spain.holds("34697912072") and not spain.holds("9697912072")
    us = phones.search("18662648345", "IN")
    assert "8662648345" not in us.keys and not us.holds("8662648345")
    assert phones.search("34697912072", "US").keys == ("697912072", "34697912072")


def test_a_foreign_run_of_digits_is_the_same_number_as_its_spelling_with_plus() -> None:
    for spelt in ("+34 697 91 20 72", "0034697912072", "34697912072"):
        assert phones.same_number("34697912072", spelt, "IN")
        assert phones.same_number(spelt, "34697912072", "IN")
    assert not phones.same_number("34697912072", "9697912072", "IN")
    # Whatever its national digits are in the region: a UK or US number run together is theirs
    # (7911123456 and 8662648345 are Indian mobiles too), and never the region's number.
    for run, plus, national in (
        ("447911123456", "+44 7911 123456", "7911123456"),
        ("18662648345", "+1 866 264 8345", "8662648345"),
    ):
        assert phones.same_number(run, plus, "IN") and phones.same_number(plus, run, "IN")
        assert not phones.same_number(run, national, "IN")
    # A run that is a valid number of the region is the region's (9876543210 is not +98 …).
    assert not phones.same_number("9876543210", "+98 765 432 10", "IN")


# Spellings of a few numbers that are one another's under `same_number` in odd ways: a foreign run
# without its `+` (with a trunk 0 after its code, or Italy's leading 0), the same digits in another
# country, the region's number, text that is none.
_SPELLINGS = [
    "34697912072", "+34 697 91 20 72", "0034697912072", "9697912072", "697912072",
    "447911123456", "+44 7911 123456", "7911123456", "18662648345", "+1 866 264 8345", "8662648345",
    "+91 93344 19416", "09334419416", "9334419416", "919334419416", "9334419417", "+34 612345678",
    "612345678", "9876543210", "+98 765 432 10", "4407911123456", "390212345678", "+39 02 1234 5678",
    "0212345678", "", "12", "call me",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    numbers=st.lists(st.sampled_from(_SPELLINGS), max_size=8),
    stored=st.sampled_from(_SPELLINGS),
    region=st.sampled_from(["IN", "US", "GB"]),
)
def test_positions_is_same_number_for_many(numbers: list[str], stored: str, region: str) -> None:
    """The do-not-call check's newest contacts are matched to a batch's numbers at once: exactly the
    positions `same_number` finds, pair by pair."""
    expected = [p for p, n in enumerate(numbers) if same_number(stored, n, region)]
    assert phones.Positions(numbers, region)(stored) == expected


@settings(max_examples=300, deadline=None)
@given(
    numbers=st.lists(st.sampled_from(_SPELLINGS), max_size=8),
    stored=st.lists(st.sampled_from(_SPELLINGS), max_size=6),
    region=st.sampled_from(["IN", "US", "GB"]),
)
def test_a_runs_newest_contacts_are_found_as_same_number_finds_them(
    numbers: list[str], stored: list[str], region: str
) -> None:
    """A run's newest contacts (`NewestSeen`) are matched to a later batch's numbers through lookups
    by identity and last digits, not every contact to every number: the customers found, and their
    positions, are exactly those `same_number` finds pair by pair."""
    from ameyo_mcp.ameyo.models import Contact
    from ameyo_mcp.index.added import Added
    from ameyo_mcp.index.held import NewestSeen

    seen = NewestSeen(region)
    contacts = [Contact(customerId=i, customerData={"phone1": s}) for i, s in enumerate(stored, start=1)]
    seen.keep(Added(contacts, "campaign", len(contacts) or None), 0.0)
    pairs = {
        i: [p for p, n in enumerate(numbers) if same_number(s, n, region)] for i, s in enumerate(stored, 1)
    }
    assert seen.candidates(phones.Positions(numbers, region)) == {i: p for i, p in pairs.items() if p}
