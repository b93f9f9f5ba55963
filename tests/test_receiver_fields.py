"""What a push may hold, as pure functions: every field shape Ameyo sends, and hostile ones refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ameyo_mcp.errors import PushRejected
from ameyo_mcp.receiver.body import MAX_BODY_BYTES, body_fields, query_fields
from ameyo_mcp.receiver.fields import (
    MAX_ASSOCIATIONS_CHARS,
    MAX_FIELDS,
    normalise,
    parse_duration,
    parse_time,
)
from ameyo_mcp.rules import phones
from ameyo_mcp.rules.redact import SECRETS

IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
KEY = partial(phones.key, region="IN")
CALL = datetime(2026, 11, 28, 14, 1, 5, tzinfo=IST)
ASSOCIATIONS = "[{&quot;userId&quot;:&quot;agent7&quot;,&quot;crtObjectId&quot;:&quot;d1-2&quot;}]"


def push(**fields: str) -> dict[str, str]:
    return {"callId": "c-1", "customerId": "12458", "phone": "+91 98765 43210", **fields}


def test_a_full_push_is_normalised() -> None:
    event = normalise(
        push(
            campaignId="1",
            leadId="21",
            userId="agent7",
            dispositionCode="Interested",
            dispositionName="Interested in plan",
            systemDisposition="CONNECTED",
            callType="outbound.manual.dial",
            dialedTime="2026-11-28 14:01:05",
            callStartTime="2026-11-28 14:01:12",
            callEndTime="Nov 28, 2026 2:03:00 PM",
            callbackTime="2026-11-2916:23:00",
            talkTime="95",
            ringingTime="00:00:07",
            holdTime="0",
            numAttempts="2",
            recordingFileUrl="http://ameyo/rec/1.wav",
            userAssociations=ASSOCIATIONS,
            token="must-not-be-kept",
        ),
        zone=IST,
        phone_key=KEY,
        now=NOW,
    )
    assert (event.call_id, event.customer_id, event.campaign_id, event.lead_id) == ("c-1", 12458, 1, 21)
    assert event.phone == "9876543210"  # the phone rule's key, whatever the spelling
    assert event.started_at == datetime(2026, 11, 28, 14, 1, 12, tzinfo=IST)
    assert event.ended_at == datetime(2026, 11, 28, 14, 3, tzinfo=IST)
    assert event.callback_at == datetime(2026, 11, 29, 16, 23, tzinfo=IST)
    assert event.received_at == NOW and event.received_at.tzinfo == IST
    assert event.talk_s == 95 and event.attempts == 2
    # The outcome is the disposition as agents named it, as getContacts shows it.
    assert event.outcome == "Interested in plan" and event.system_disposition == "CONNECTED"
    assert event.raw["userAssociations"] == [{"userId": "agent7", "crtObjectId": "d1-2"}]
    assert event.raw["ringingTime"] == "00:00:07" and "token" not in event.raw


def test_every_field_may_be_missing_but_one_of_the_three_ids() -> None:
    assert normalise({"callId": "x"}, zone=IST, phone_key=KEY).call_id == "x"
    assert normalise({"customerId": "5"}, zone=IST, phone_key=KEY).customer_id == 5
    assert normalise({"phone": "09876543210"}, zone=IST, phone_key=KEY).phone == "9876543210"
    with pytest.raises(PushRejected, match="no customerId, phone or callId") as info:
        normalise({"dispositionCode": "Interested", "callId": "null", "phone": ""}, zone=IST, phone_key=KEY)
    assert info.value.status == 422
    with pytest.raises(PushRejected, match="not a phone number"):
        normalise({"phone": "abc"}, zone=IST, phone_key=KEY)


def test_agent_comes_from_the_associations_when_user_id_is_missing() -> None:
    event = normalise(push(userAssociations=ASSOCIATIONS), zone=IST, phone_key=KEY)
    assert event.agent == "agent7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28 14:01:05", datetime(2026, 11, 28, 14, 1, 5, tzinfo=IST)),
        ("2026-11-2814:01:05", datetime(2026, 11, 28, 14, 1, 5, tzinfo=IST)),
        ("2026-11-28 14:01:05 IST", datetime(2026, 11, 28, 14, 1, 5, tzinfo=IST)),
        ("2026-11-28 08:31:05 UTC", datetime(2026, 11, 28, 14, 1, 5, tzinfo=IST)),
        ("Nov 28, 2026 2:01:05 PM", datetime(2026, 11, 28, 14, 1, 5, tzinfo=IST)),
        ("2026-11-28T14:01:05", datetime(2026, 11, 28, 14, 1, 5, tzinfo=IST)),
        ("2026-11-28T08:31:05Z", datetime(2026, 11, 28, 14, 1, 5, tzinfo=IST)),
        (str(int(CALL.timestamp() * 1000)), CALL),
        ("2026-11-28 14:01:05.250", datetime(2026, 11, 28, 14, 1, 5, 250000, tzinfo=IST)),
        ("tomorrow", None),
        ("12345", None),
    ],
)
def test_times_in_the_documents_shapes_are_read_in_the_servers_zone(text: str, expected: object) -> None:
    moment = parse_time(text, IST)
    assert moment == expected
    if moment is not None:
        assert moment.tzinfo == IST


def test_a_zone_abbreviation_the_servers_zone_does_not_use_is_refused_not_misread() -> None:
    """EST was read as the server's own zone (Asia/Kolkata): stored 10½ hours off, without a word."""
    with pytest.raises(
        PushRejected, match=r"EST is not in this server's zone: .* Asia/Kolkata \(IST\)"
    ) as info:
        normalise(push(callStartTime="2026-11-28 14:01:05 EST"), zone=IST, phone_key=KEY)
    assert info.value.status == 422 and "AMEYO_TIMEZONE" in str(info.value)
    york = ZoneInfo("America/New_York")
    assert parse_time("2026-11-28 14:01:05 EST", york) == datetime(2026, 11, 28, 14, 1, 5, tzinfo=york)


def test_an_unreadable_time_refuses_the_push_naming_the_field() -> None:
    with pytest.raises(PushRejected, match="callStartTime 'yesterday' is not a time"):
        normalise(push(callStartTime="yesterday"), zone=IST, phone_key=KEY)


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("callStartTime", "0001-01-01 00:00:00"),  # year 0 in UTC: no datetime holds it
        ("callStartTime", "9999-12-31 23:59:59"),  # every customer's "last call" for good
        ("callEndTime", "9999999999999"),  # epoch milliseconds of 2286
        ("dialedTime", "1999-12-31 23:59:59"),
        ("callStartTime", "2026-12-01 15:00:00"),  # a call more than three days past its push
    ],
)
def test_a_time_out_of_range_refuses_the_push_naming_the_field(field: str, text: str) -> None:
    """A far-off time was kept, and the call history then failed on every question (ValueError)."""
    with pytest.raises(PushRejected, match=f"{field} '{text}' is out of range") as info:
        normalise(push(**{field: text}), zone=IST, phone_key=KEY, now=NOW)
    assert info.value.status == 422


@pytest.mark.parametrize(
    "text", ["1970-01-01 05:30:00", "0000000000", "2099-12-31 00:00:00", "9999-12-31 23:59:59"]
)
def test_a_callback_time_out_of_range_is_no_callback_and_the_call_is_kept(text: str) -> None:
    """Epoch 0 and 2099-12-31 stand for "none" in some dialers: the whole push had been refused,
    and the call's outcome lost with it."""
    event = normalise(push(callbackTime=text, systemDisposition="BUSY"), zone=IST, phone_key=KEY, now=NOW)
    assert event.callback_at is None and event.raw["callbackTime"] == text
    assert event.system_disposition == "BUSY"


def test_a_callback_months_ahead_and_a_call_minutes_ahead_are_kept() -> None:
    event = normalise(
        push(callStartTime="2026-11-28 14:35:00", callbackTime="2027-03-01 10:00:00"),
        zone=IST,
        phone_key=KEY,
        now=NOW,
    )
    assert event.started_at == datetime(2026, 11, 28, 14, 35, tzinfo=IST)
    assert event.callback_at == datetime(2027, 3, 1, 10, tzinfo=IST)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("45", 45),
        ("45.5", 45.5),
        ("00:01:05", 65),
        ("1:05", 65),
        ("45000ms", 45),
        ("12s", 12),
        ("-3", None),
        # The range of seconds holds for hours:minutes:seconds too: 10000000 seconds was refused,
        # and the same written as a clock kept, shown as a call talked for millions of minutes.
        ("10000000", None),
        ("2777:46:40", None),
        ("99999999999999999999:00:00", None),
        ("9" * 320 + ":00:00", None),  # past a float: no OverflowError
        ("2777:46:39", 9_999_999),
    ],
)
def test_durations_are_seconds(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_a_bad_duration_or_number_refuses_the_push() -> None:
    with pytest.raises(PushRejected, match="talkTime 'long' is not a duration"):
        normalise(push(talkTime="long"), zone=IST, phone_key=KEY)
    with pytest.raises(PushRejected, match="customerId must be a whole number"):
        normalise(push(customerId="12x"), zone=IST, phone_key=KEY)
    with pytest.raises(PushRejected, match="holdTime"):
        normalise(push(holdTime="1e9"), zone=IST, phone_key=KEY)


@pytest.mark.parametrize("field", ["customerId", "campaignId", "leadId", "numAttempts"])
def test_a_number_past_a_float_refuses_the_push_naming_the_field(field: str) -> None:
    """'1.0e400' reads as infinity, and int() of it raised OverflowError: a bare 500."""
    for text in ("1.0e400", "-1.0e400"):
        with pytest.raises(PushRejected, match=f"{field} must be a whole number") as info:
            normalise(push(**{field: text}), zone=IST, phone_key=KEY)
        assert info.value.status == 422


def test_entities_that_spell_control_characters_decode_to_nothing() -> None:
    event = normalise(
        push(userAssociations="[{&quot;userId&quot;:&quot;a&#27;[31m&#0;&quot;}]"), zone=IST, phone_key=KEY
    )
    assert event.raw["userAssociations"] == [{"userId": "a[31m\ufffd"}]


def test_associations_sent_as_json_twice_encoded_or_plain_are_decoded() -> None:
    twice = ASSOCIATIONS.replace("&", "&amp;")
    plain = '[{"userId":"agent7"}]'
    for text in (twice, plain, '{"userId":"agent7"}'):
        event = normalise(push(userAssociations=text), zone=IST, phone_key=KEY)
        assert event.raw["userAssociations"][0]["userId"] == "agent7"


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"userAssociations": "&amp;" * (MAX_ASSOCIATIONS_CHARS // 5 + 1)}, 413, "over"),
        ({"userAssociations": "[" * 50 + "]" * 50}, 422, "nested deeper"),
        ({"userAssociations": "&#91;" * 10 + "&#93;" * 10}, 422, "nested deeper"),
        ({"userAssociations": "[{&quot;userId&quot;:&quot;a\\u001b[31m&quot;}]"}, 400, "control characters"),
        ({"userAssociations": "not json"}, 422, "not JSON"),
        ({"userAssociations": "[1, 2]"}, 422, "list of objects"),
        ({"dispositionName": "ok\x1b[2J"}, 400, "control characters"),
        ({"dispositionName": "ok\x00"}, 400, "control characters"),
        ({"x\x07": "1"}, 400, "control characters"),
        ({"dispositionName": "x" * 5000}, 413, "over 4000"),
        ({f"f{i}": "1" for i in range(300)}, 413, "303 fields"),
    ],
)
def test_hostile_fields_are_refused_with_a_reason(fields: dict[str, str], status: int, reason: str) -> None:
    with pytest.raises(PushRejected, match=reason) as info:
        normalise(push(**fields), zone=IST, phone_key=KEY)
    assert info.value.status == status


def test_a_lone_surrogate_is_kept_as_a_replacement_character_not_failing_the_store_for_ever() -> None:
    """JSON spells half of a UTF-16 pair alone (`\\ud800`); no database encoding holds one, and the
    push was answered 503 "send it again" for ever. The call is kept, the half as U+FFFD."""
    body = b'{"callId":"c-1","customerId":112,"name":"Priya \\ud800 Sharma","\\udc00x":"1"}'
    associations = '[{"userId":"agent\\ud83d","crtObjectId":"d1"}]'
    fields = body_fields("application/json", body) | {"userAssociations": associations}
    event = normalise(fields, zone=IST, phone_key=KEY)
    assert event.raw["name"] == "Priya \ufffd Sharma" and event.raw["\ufffdx"] == "1"
    assert event.raw["userAssociations"] == [{"userId": "agent\ufffd", "crtObjectId": "d1"}]
    json.dumps(event.raw, ensure_ascii=False).encode("utf-8")  # what the store writes
    # An emoji whose halves are both there is one character, kept as it is.
    assert normalise(push(name="\U0001f600"), zone=IST, phone_key=KEY).raw["name"] == "\U0001f600"


def test_a_secret_spelt_with_escapes_in_the_associations_is_masked_as_decoded() -> None:
    """The push's values are masked before userAssociations is decoded: a password spelt with a
    JSON escape or an HTML entity was decoded after, and kept whole as the agent and in `raw`."""
    secret = "Pw-SECRETassoc-9f8e7d"
    SECRETS.add(secret)
    escaped = f"\\u{ord(secret[0]):04x}{secret[1:]}"
    entity = f"&#{ord(secret[0])};{secret[1:]}"
    for text in (
        f'[{{"userId":"{escaped}","crtObjectId":"{escaped}"}}]',
        f"[{{&quot;userId&quot;:&quot;{entity}&quot;,&quot;{entity}&quot;:&quot;d1&quot;}}]",
        f"[{{&quot;userId&quot;:&quot;{escaped}&quot;}}]",
    ):
        event = normalise(push(userAssociations=text), zone=IST, phone_key=KEY)
        kept = json.dumps([event.agent, event.raw], ensure_ascii=False)
        assert secret not in kept and "[redacted]" in kept, kept


def test_a_secret_split_by_characters_the_history_drops_is_masked_as_shown() -> None:
    """Masking saw `Pw-SECRET\\u200b…`; the columns keep text with zero-width and control
    characters dropped, and the password was kept whole as the call's agent."""
    secret = "Pw-SECRETsplit-9f8e7d"
    SECRETS.add(secret)
    for split in (
        f"{secret[:9]}\u200b{secret[9:]}",
        f"{secret[:9]}\u00ad{secret[9:]}",
        f"{secret[:3]}\u2060{secret[3:]}",
    ):
        event = normalise(push(userId=split, dispositionName=split), zone=IST, phone_key=KEY)
        assert event.agent == event.disposition_name == "[redacted]"
        assert event.raw["userId"] == "[redacted]"
    plain = normalise(push(userId="agent\u200b7"), zone=IST, phone_key=KEY)
    assert plain.raw["userId"] == "agent\u200b7"  # kept as sent when it hides no secret


def test_body_shapes_give_the_same_fields() -> None:
    form = body_fields("application/x-www-form-urlencoded", b"callId=c-1&phone=%2B91+98765+43210&talkTime=5")
    as_json = body_fields("application/json", b'{"callId": "c-1", "phone": "+91 98765 43210", "talkTime": 5}')
    as_text = body_fields("text/plain", b' {"callId": "c-1", "phone": "+91 98765 43210", "talkTime": 5}')
    query = query_fields(b"callId=c-1&phone=%2B91%2098765%2043210&talkTime=5")
    assert (
        form == as_json == as_text == query == {"callId": "c-1", "phone": "+91 98765 43210", "talkTime": "5"}
    )
    nested = body_fields("application/json", b'{"callId": "c", "userAssociations": [{"userId": "a"}]}')
    assert nested["userAssociations"] == '[{"userId":"a"}]'


def test_a_body_written_with_a_byte_order_mark_is_read() -> None:
    """A JSON body starting with UTF-8's byte-order mark was refused as not JSON: the outcome lost."""
    bom = b"\xef\xbb\xbf"
    expected = {"callId": "c-1", "customerId": "7"}
    assert body_fields("application/json", bom + b'{"callId": "c-1", "customerId": 7}') == expected
    assert body_fields("text/plain", bom + b' {"callId": "c-1", "customerId": 7}') == expected
    assert body_fields("application/x-www-form-urlencoded", bom + b"callId=c-1&customerId=7") == expected


def test_a_push_that_is_not_utf8_is_read_as_windows_1252_not_refused_and_lost() -> None:
    """Ameyo does not send a push again after a 4xx: a system writing Windows-1252 lost every call
    of a customer with an accent in their name. A raw byte in a form (not_utf8) was answered 413."""
    assert body_fields("application/x-www-form-urlencoded", b"callId=c1&name=Jos%E9")["name"] == "José"
    assert body_fields("application/x-www-form-urlencoded", b"callId=c1&name=Jos\xe9")["name"] == "José"
    assert body_fields("application/json", b'{"callId": "c1", "name": "Jos\xe9"}')["name"] == "José"
    assert query_fields(b"callId=c1&name=%93Ana%94")["name"] == "\u201cAna\u201d"
    # Field by field: one field of another system does not garble a UTF-8 one beside it.
    mixed = body_fields("application/x-www-form-urlencoded", b"name=Jos%C3%A9&city=M%FCnchen")
    assert mixed == {"name": "José", "city": "München"}


@pytest.mark.parametrize(
    ("content_type", "body", "status", "reason"),
    [
        ("application/json", b'{"callId": ', 400, "not valid JSON"),
        ("application/json", b'["callId"]', 400, "one object"),
        ("application/json", b"[" * 100 + b"]" * 100, 400, "nested too deeply"),
        ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % i for i in range(300)), 413, "more than"),
        ("text/plain", b"x" * (MAX_BODY_BYTES + 1), 413, "over"),
    ],
)
def test_malformed_bodies_are_refused(content_type: str, body: bytes, status: int, reason: str) -> None:
    with pytest.raises(PushRejected, match=reason) as info:
        body_fields(content_type, body)
    assert info.value.status == status


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=30), st.text(max_size=60), max_size=12))
# A character this Python's Unicode does not know (unassigned in its tables): it had been kept.
@example(fields={"AGENTID": "\U00016b46"})
def test_any_fields_give_an_event_or_a_reason_never_a_crash(fields: dict[str, str]) -> None:
    try:
        event = normalise({"callId": "c", **fields}, zone=IST, phone_key=KEY, now=NOW)
    except PushRejected as exc:
        assert 400 <= exc.status < 500 and str(exc)
        return
    for value in (event.agent, event.disposition, event.call_id, event.phone):
        assert value is None or value.isprintable()


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=400),
    st.sampled_from(["application/json", "text/plain", "", "application/x-www-form-urlencoded"]),
)
def test_any_body_gives_fields_or_a_reason(body: bytes, content_type: str) -> None:
    try:
        fields = body_fields(content_type, body)
    except PushRejected as exc:
        assert 400 <= exc.status < 500
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


def test_a_form_of_exactly_the_most_fields_is_read_and_one_more_refused() -> None:
    most = b"&".join(b"f%d=1" % i for i in range(MAX_FIELDS + 1))
    assert len(query_fields(most)) == MAX_FIELDS + 1  # check_sizes refuses it later, naming the count
    with pytest.raises(PushRejected, match="more than") as info:
        query_fields(most + b"&x=1")
    assert info.value.status == 413


def test_user_associations_have_their_own_cap_not_every_fields() -> None:
    """The README's 8,000 characters for userAssociations: the 4,000 of every other field came first."""
    many = json.dumps([{"userId": f"agent{i}", "crtObjectId": "x" * 100} for i in range(40)])
    assert 4000 < len(many) < 8000
    event = normalise({"callId": "c", "userAssociations": many}, zone=IST, phone_key=KEY, now=NOW)
    assert event.call_id == "c"
    with pytest.raises(PushRejected, match="over 4000 characters"):
        normalise({"callId": "c", "dispositionName": "x" * 4001}, zone=IST, phone_key=KEY, now=NOW)
