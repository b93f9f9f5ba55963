"""Secrets a push spells only as the history shows it (a password's space doubled, a split by a
zero-width character inside userAssociations or in a field's name) are masked in what is kept; a
clock-style talkTime past a float's range is refused 422, not a 500."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from zoneinfo import ZoneInfo

import httpx
import pytest

from ameyo_mcp.receiver.app import Receiver as PushApp
from ameyo_mcp.receiver.fields import normalise, parse_duration
from ameyo_mcp.receiver.writer import BatchWriter
from ameyo_mcp.rules import phones
from ameyo_mcp.rules.redact import SECRETS
from ameyo_mcp.rules.sanitize import data_text
from ameyo_mcp.store.records import CallEvent

IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
KEY = partial(phones.key, region="IN")


def push(**fields: str) -> dict[str, str]:
    return {"callId": "c-1", "customerId": "12458", "phone": "+91 98765 43210", **fields}


def test_a_password_with_a_space_doubled_in_a_push_is_not_kept_or_shown_whole() -> None:
    """AMEYO_PASSWORD may hold spaces. Masking saw `correct  horse…` (two spaces, or a tab inside
    userAssociations); the columns fold whitespace, and kept the password whole as the agent (and
    the history and operator page showed it, also as the customer's name)."""
    secret = "correct horse t9 battery"
    SECRETS.add(secret)
    doubled = secret.replace(" ", "  ")
    for fields in (
        push(userId=doubled),
        push(dispositionName=doubled),
        push(name=doubled),
        push(userAssociations=json.dumps([{"userId": secret.replace(" ", "\t")}])),
        push(userAssociations=json.dumps([{"userId": doubled}])),
    ):
        event = normalise(fields, zone=IST, phone_key=KEY, now=NOW)
        kept = json.dumps([event.agent, event.disposition_name, event.raw], ensure_ascii=False)
        shown = [data_text(event.agent or "", 40), data_text(event.outcome or "", 60)]
        shown.append(data_text(str(event.raw.get("name", "")), 40))
        assert secret not in kept, kept
        assert all(secret not in text for text in shown), shown


def test_a_secret_split_by_a_zero_width_character_in_the_associations_is_masked_as_shown() -> None:
    """9bcbd6a masks a split secret in the push's own fields, 4498006 masks the decoded associations
    only as decoded: a userId in userAssociations split by \\u200b (as JSON escape, raw, or &shy;)
    is kept split as the call's agent and in raw, and the history shows the password joined."""
    secret = "Pw-SECRETt9split-9f8e7d"
    SECRETS.add(secret)
    head, tail = secret[:9], secret[9:]
    for text in (
        json.dumps([{"userId": f"{head}\u200b{tail}"}], ensure_ascii=False),
        f'[{{"userId":"{head}\\u200b{tail}"}}]',
        f"[{{&quot;userId&quot;:&quot;{head}&shy;{tail}&quot;}}]",
        f"[{{&quot;userId&quot;:&quot;{head}&#8203;{tail}&quot;}}]",
    ):
        event = normalise(push(userAssociations=text), zone=IST, phone_key=KEY, now=NOW)
        assert secret not in data_text(event.agent or "", 40), (text, event.agent)  # the history's agent
        assert event.raw["userAssociations"][0]["userId"] == "[redacted]", event.raw


def test_a_secret_split_by_a_zero_width_character_in_a_field_name_is_not_kept() -> None:
    """Values split so are masked as shown; a field name so split is kept in raw as sent."""
    secret = "Pw-SECRETt9name-9f8e7d"
    SECRETS.add(secret)
    split = f"{secret[:9]}\u200b{secret[9:]}"
    event = normalise(push(**{split: "1"}), zone=IST, phone_key=KEY, now=NOW)
    assert all(secret not in data_text(name, 200) for name in event.raw), list(event.raw)


def test_a_clock_talk_time_past_a_float_is_not_a_duration_not_a_crash() -> None:
    """13df50f holds hh:mm:ss to the seconds' range, but an hours count past a float overflows
    before the range is checked: OverflowError, a bare 500 and a traceback, not a 422."""
    assert parse_duration("9" * 320 + ":00:00") is None


@pytest.mark.anyio
async def test_a_push_with_a_clock_talk_time_past_a_float_is_refused_422() -> None:
    kept: list[str | None] = []

    def write(events: Sequence[CallEvent]) -> list[bool]:
        kept.extend(event.call_id for event in events)
        return [True] * len(events)

    token = "t9-push-token-0123456789"
    writer = BatchWriter(write)
    app = PushApp(token, writer, zone=IST, phone_key=KEY)
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ameyo.test") as http:
            answer = await http.post(
                "/ameyo/status",
                params={"token": token},
                json={"callId": "o-1", "customerId": "5", "talkTime": "9" * 320 + ":00:00"},
            )
    finally:
        writer.close()
    assert answer.status_code == 422 and "talkTime" in answer.text, (answer.status_code, answer.text)
    assert kept == []
