"""The rules the tools and file uploads share, as plain functions: tested without the protocol."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from ameyo_mcp.ameyo.models import Contact
from ameyo_mcp.config import CallingHours
from ameyo_mcp.errors import PhoneError
from ameyo_mcp.index.lookup import contact_filter, name_matcher
from ameyo_mcp.rules import phones
from ameyo_mcp.rules.phones import PhoneRule
from ameyo_mcp.writes.callback_rules import RecordCallbacks, do_not_call, outside_hours

ZONE = ZoneInfo("Asia/Kolkata")
NOW = datetime(2031, 5, 1, 8, 0, tzinfo=ZONE)
RECORD = {"phone1": "9876543210", "phone2": "09812300001", "name": "Priya"}


def callbacks(*, show_number: bool = False, any_hour: bool = False) -> RecordCallbacks:
    return RecordCallbacks(
        zone=ZONE,
        rule=PhoneRule("IN", "national"),
        max_phone_length=20,
        calling_hours=None if any_hour else CallingHours(time(9), time(21)),
        hours_hint="say so if meant",
        show_number=show_number,
        now=NOW,
    )


def test_a_callback_dials_phone1_unless_another_own_number_is_given() -> None:
    when, dial = callbacks().check(RECORD, "9876543210", "2031-05-01T11:00:00", None)
    assert when.wire == "2031-05-01 11:00:00" and dial == "9876543210"
    # Another of the record's numbers, in any spelling, is dialled as Ameyo dials it.
    assert callbacks().check(RECORD, "9876543210", "2031-05-01T11:00", "+91 98123 00001")[1] == "9812300001"


def test_a_number_that_is_not_the_records_own_is_refused_and_shown_only_to_who_typed_it() -> None:
    with pytest.raises(ValueError, match="callback_phone given is not one of this record's numbers"):
        callbacks().check(RECORD, "9876543210", "2031-05-01T11:00", "9000000001")
    with pytest.raises(ValueError, match="callback_phone 9000000001 is not one of"):
        callbacks(show_number=True).check(RECORD, "9876543210", "2031-05-01T11:00", "9000000001")
    # What is no number at all is described, never quoted, whoever gave it.
    with pytest.raises(ValueError, match="callback_phone has letters") as refused:
        callbacks(show_number=True).check(RECORD, "9876543210", "2031-05-01T11:00", "call me maybe")
    assert "call me" not in str(refused.value)


def test_calling_hours_unless_the_person_asked_for_any_hour() -> None:
    with pytest.raises(ValueError, match=r"outside calling hours .*; say so if meant"):
        callbacks().check(RECORD, "9876543210", "2031-05-01T22:30:00", None)
    when, _ = callbacks(any_hour=True).check(RECORD, "9876543210", "2031-05-01T22:30:00", None)
    assert when.wire == "2031-05-01 22:30:00"


def test_calling_hours_and_do_not_call_for_an_existing_customer() -> None:
    hours = CallingHours(time(9), time(21))
    assert outside_hours(datetime(2031, 5, 1, 20, 59, tzinfo=ZONE), hours, ZONE) is None
    late = outside_hours(datetime(2031, 5, 1, 21, 0, tzinfo=ZONE), hours, ZONE)
    assert late is not None and "outside calling hours (09:00-21:00 Asia/Kolkata" in late
    assert do_not_call(" DNC ") and do_not_call("Do Not Call") and do_not_call("dnd")
    assert not do_not_call("") and not do_not_call("Call Later")


def test_a_time_in_the_past_or_without_a_time_of_day_is_refused() -> None:
    with pytest.raises(ValueError, match="in the past"):
        callbacks().check(RECORD, "9876543210", "2031-04-30T11:00:00", None)
    with pytest.raises(ValueError, match="no time of day"):
        callbacks().check(RECORD, "9876543210", "2031-05-02", None)


def test_a_number_finds_itself_in_any_spelling_and_the_numbers_that_end_with_it() -> None:
    wanted = phones.search("+91 98765 43210", "IN")
    assert wanted.whole and wanted.key == "9876543210"
    assert wanted.matches("09876543210") and wanted.matches("9876543210")
    assert not wanted.matches("919876543211") and not wanted.matches("98765432")
    # A stored number may hold it after a prefix the rule does not strip (the document's 045).
    assert phones.search("8681166572", "IN").matches("0458681166572")
    # Last digits match the end of a number only.
    tail = phones.search("3210", "IN")
    assert not tail.whole and tail.digits == "3210"
    assert tail.matches("+91 98765 43210") and not tail.matches("9876543201")
    # Six digits are the end of a number too, never an Indian landline without its area code.
    assert not phones.search("543210", "IN").whole
    with pytest.raises(PhoneError, match="at least 4 digits"):
        phones.search("210", "IN")


def contact(**data: object) -> Contact:
    extra = {k: data.pop(k) for k in ("status", "disposition") if k in data}
    return Contact.model_validate({"customerId": 1, "customerData": data, "extraData": extra})


def test_a_name_matches_by_the_starts_of_its_words() -> None:
    priya = contact(name="Priya Sharma", phone1="9876543210", city="Pune")
    assert name_matcher("pri sha")(priya) and name_matcher("SHARMA")(priya)
    assert not name_matcher("riya")(priya) and not name_matcher("pune")(priya)
    assert name_matcher("jose")(contact(first_name="José", phone1="9876543210"))
    assert not name_matcher("")(priya)


def test_the_filter_of_a_scan_keeps_what_every_criterion_accepts() -> None:
    seen: Counter[str] = Counter()
    busy = contact(name="Ñuño García", phone1="9876543210", status="BUSY", disposition="Call Later")
    number = phones.search("43210", "IN")
    assert contact_filter(number, "garcia", {"BUSY"}, ["call later"], seen)(busy)
    assert not contact_filter(number, None, {"NO_ANSWER"}, [], seen)(busy)
    assert not contact_filter(phones.search("9876543211", "IN"), None, set(), [], seen)(busy)
    assert not contact_filter(None, None, set(), ["DNC"], seen)(busy)
    assert seen == Counter({"Call Later": 2})
