"""The answer models read the vendor document's own samples, spelling variants and all."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter

from ameyo_mcp.ameyo.client import _bean_list, _comment_parts
from ameyo_mcp.ameyo.models import Callback, CallbackUploadResult, Lead, RecordResult, parse_ameyo_time
from ameyo_mcp.receiver.fields import parse_time

IST = ZoneInfo("Asia/Kolkata")


def test_upload_results_accept_every_spelling() -> None:
    rows = TypeAdapter(list[RecordResult]).validate_python(
        [
            {
                "inserted": True,
                "customerId": 17821,
                "resultTypeString": "ADDED",
                "crmResultTypeString": "ADDED",
            },
            {
                "Inserted": False,
                "exception": ['CustomerManager.Column.name.cannot.be.missing.empty\\",\\"phone1\\"'],
                "resultTypeString": "PREPROCESSOR_NOT_NULLABLE_COLUMN_GIVEN_NULL",
            },
            {
                "isInserted": "true",
                "customerId": "17924",
                "resultTypeString": "ADDED",
                "crmTypeString": "ADDED",
            },
        ]
    )
    assert [r.inserted for r in rows] == [True, False, True]
    assert rows[1].failure_key == "CustomerManager.Column.name.cannot.be.missing.empty"
    assert rows[1].failure_args == ["phone1"]
    assert rows[2].customer_id == 17924 and rows[2].crm_result_type == "ADDED"


def test_callback_rows_from_both_samples() -> None:
    row = CallbackUploadResult.model_validate(
        {
            "callbackProperties": {"phone": "6601045038888", "customerId": "17924"},
            "callbackTime": "Mar 3, 2015 11:29:34 AM",
            "campaignId": 1,
            "id": None,
            "isSelfCallback": False,
            "customerId": 17924,
            "isInserted": True,
            "resultTypeString": "ADDED",
        }
    )
    assert row.callback_time == datetime(2015, 3, 3, 11, 29, 34)
    assert row.properties.customer_id == 17924 and row.callback_id is None
    # The document's own answer: no id, and the callback scheduled all the same.
    assert row.callback_scheduled
    assert not CallbackUploadResult.model_validate({"id": "", "resultTypeString": "ADDED"}).callback_scheduled
    callback = Callback.model_validate(
        {
            "id": "d431-54f54717-cm-2",
            "callBackTime": "Mar 3, 2015 1:07:26\u202fPM",
            "selfCallback": False,
            "callBackProperties": [{"phone": "5555056887", "customerId": "112"}],
            "customerId": 112,
        }
    )
    assert callback.callback_time == datetime(2015, 3, 3, 13, 7, 26)
    assert callback.properties.phone == "5555056887"


def test_lists_bare_or_wrapped_and_fused_comments() -> None:
    assert _bean_list({"beanResponse": [1, 2]}) == [1, 2]
    assert _bean_list([3]) == [3]
    leads = TypeAdapter(list[Lead]).validate_python(
        [{"id": 35, "campaignId": 1, "leadId": 35, "enabled": False}]
    )
    assert leads[0].lead_id == 35 and not leads[0].enabled
    assert _comment_parts(['CustomerManager.lead.not.in.camp.11\\"', 2, 1]) == [
        "CustomerManager.lead.not.in.camp.11",
        2,
        1,
    ]
    assert _comment_parts(['LogoutRemoterProcessorHelper.invalid.sessionid\\",\\"d865-54eabe17-ses-x\\"'])[
        0
    ] == ("LogoutRemoterProcessorHelper.invalid.sessionid")


def test_times() -> None:
    assert parse_ameyo_time("2016-08-2716:23:00") == datetime(2016, 8, 27, 16, 23)
    assert parse_ameyo_time(1425297998312) is not None


def test_a_row_without_a_result_type_is_counted_one_way_everywhere() -> None:
    from ameyo_mcp.ameyo import result_types
    from ameyo_mcp.writes.path import answer_summary
    from ameyo_mcp.writes.records import answered, outcome

    inserted = RecordResult.model_validate({"inserted": True, "customerId": 5})
    unsaid = RecordResult.model_validate({"customerId": 6})
    assert (inserted.kind, unsaid.kind) == ("ADDED", "UNKNOWN")
    assert result_types.effect("UPDATED_AND_MIGRATED") == "updated"
    assert result_types.effect("MIGRATED") == "moved"
    assert result_types.effect("NOT_MIGRATED") == "duplicate"
    assert result_types.effect("ADD_FAILED") == result_types.effect("UNKNOWN") == "failed"
    # The tool's record, the audit trail's counts and the answer's tally agree on both rows.
    first, second = outcome(1, None, inserted), outcome(2, None, unsaid)
    assert (first.result, first.ok, second.result, second.ok) == ("ADDED", True, "UNKNOWN", False)
    assert answer_summary([inserted, unsaid])["counts"] == {"ADDED": 1, "UNKNOWN": 1}
    assert answered({"ADDED": 1, "UNKNOWN": 1}) == {
        "added": 1,
        "updated": 0,
        "moved": 0,
        "duplicate": 0,
        "failed": 1,
    }


def test_every_command_declares_how_its_answer_is_read() -> None:
    from ameyo_mcp.ameyo import models

    pending: list[type[models._Request]] = [models._Request]
    commands: dict[str, bool] = {}
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if model.command:
            commands[model.command] = model.writes
            assert isinstance(model.reply, models.Reply), model
            model.reply.adapter  # noqa: B018  (its type resolves)
    assert commands == {
        "login": False,
        "ping-session": False,
        "logout": False,
        "getContacts": False,
        "getLeadsForCampaign": False,
        "uploadContacts": True,
        "uploadContactAndAddCallback": True,
        "addCallback": True,
    }


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("1425297998", datetime(2015, 3, 2, 12, 6, 38, tzinfo=UTC)),  # seconds, as a push may send
        ("1425297998312", datetime(2015, 3, 2, 12, 6, 38, 312000, tzinfo=UTC)),  # milliseconds
        (1425297998, datetime(2015, 3, 2, 12, 6, 38, tzinfo=UTC)),
        ("2016-08-27T16:23:00+05:30", datetime(2016, 8, 27, 10, 53, tzinfo=UTC)),
        ("2016-08-27 16:23:00.5", datetime(2016, 8, 27, 16, 23, 0, 500000, tzinfo=IST)),
    ],
)
def test_a_time_ameyo_writes_is_read_alike_in_an_answer_and_a_push(given: object, meant: datetime) -> None:
    """One reading of Ameyo's times: a contact's last dial read 1970 (seconds taken for
    milliseconds) or nothing (an offset, a fraction) in the call history, and the right time in a push."""
    read = parse_ameyo_time(given)
    assert read is not None
    moment = read if read.tzinfo is not None else read.replace(tzinfo=IST)
    assert moment == meant
    assert parse_time(str(given), IST) == meant
