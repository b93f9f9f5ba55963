"""The rules the tools and file uploads share, as plain functions: tested without the protocol."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from ameyo_mcp.config import CallingHours
from ameyo_mcp.rules.phones import PhoneRule
from ameyo_mcp.writes.callback_rules import RecordCallbacks

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


def test_a_time_in_the_past_or_without_a_time_of_day_is_refused() -> None:
    with pytest.raises(ValueError, match="in the past"):
        callbacks().check(RECORD, "9876543210", "2031-04-30T11:00:00", None)
    with pytest.raises(ValueError, match="no time of day"):
        callbacks().check(RECORD, "9876543210", "2031-05-02", None)
