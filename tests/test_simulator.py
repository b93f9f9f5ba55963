"""The embedded Ameyo simulator, exercised over real loopback HTTP with plain httpx."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from ameyo_mcp.simulator import SimulatorConfig, SimulatorState, SimulatorThread
from ameyo_mcp.simulator.app import java_medium

PATH = "/ameyowebaccess/command"
KOLKATA = ZoneInfo("Asia/Kolkata")
ALIAS = "__campaign_customer_table_alias__."
SESSION_ID = re.compile(r"^[0-9a-f]{4}-[0-9a-f]{8}-ses-CustomerManager-\d{4}-\d+$")
CALLBACK_ID = re.compile(r"^d431-54f54717-cm-\d+$")
JAVA_MEDIUM = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M$")


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[SimulatorThread]:
    config = getattr(request, "param", None) or SimulatorConfig(contacts=60)
    with SimulatorThread(config) as simulator:
        yield simulator


@pytest.fixture
def http(sim: SimulatorThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, timeout=5) as client:
        yield client


def call(http: httpx.Client, command: str, data: Any, **kwargs: Any) -> httpx.Response:
    body = data if isinstance(data, str) else json.dumps(data)
    return http.post(PATH, data={"command": command, "data": body}, **kwargs)


def run(http: httpx.Client, command: str, data: Any, **kwargs: Any) -> Any:
    response = call(http, command, data, **kwargs)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain;charset=UTF-8"
    return response.json()


def login(http: httpx.Client, sim: SimulatorThread) -> str:
    config = sim.state.config
    body = run(
        http, "login", {"userId": config.user_id, "password": config.password, "terminal": "127.0.0.1"}
    )
    session_id: str = body["sessionId"]
    return session_id


def failed(*comment: Any) -> dict[str, Any]:
    return {"result": "Failed.", "comment": list(comment)}


def invalid_session(session_id: str | None) -> dict[str, Any]:
    return failed("LogoutRemoterProcessorHelper.invalid.sessionid", session_id)


PROPS_NONE = {"update.customer": False, "migrate.customer": False}


def upload(
    http: httpx.Client, sid: str, lead: int, records: list[Any], **props: bool
) -> list[dict[str, Any]]:
    properties = {
        "update.customer": props.get("update", False),
        "migrate.customer": props.get("migrate", False),
    }
    data = {
        "campaignId": "1",
        "leadId": lead,
        "sessionId": sid,
        "properties": properties,
        "customerRecords": records,
    }
    body = run(http, "uploadContacts", data)
    rows: list[dict[str, Any]] = body["beanResponse"]
    return rows


# --- login, ping, logout, expiry -------------------------------------------------------------------


@pytest.mark.parametrize(
    "sim",
    [SimulatorConfig(contacts=5, session_timeout_ms=90_000, ping_interval_ms=7_000, max_phone_length=15,
                     masked_campaigns={5})],
    indirect=True,
)  # fmt: skip
def test_login_answers_the_documented_object(sim: SimulatorThread, http: httpx.Client) -> None:
    data = {
        "userId": "CustomerManager",
        "password": "simulator",
        "terminal": "10.10.2.134",
        "clientType": "x",
    }
    body = run(http, "login", data)
    assert SESSION_ID.match(body["sessionId"])
    assert body["userId"] == "CustomerManager" and body["userType"] == "CustomerManager"
    assert body["terminalInfo"] == "10.10.2.134"
    assert body["breakStatuses"][-1] == "Baño" and body["readStatuses"] == ["Available"]
    assert [(c["campaignName"], c["campaignId"], c["campaignType"]) for c in body["campaignInfos"]] == [
        ("MoviStarSurvey", 1, "Outbound Voice Campaign"),
        ("MOSL_Frenchise", 5, "Interactive Voice Application"),
        ("TestInbound", 10, "Interactive Voice Application"),
    ]
    assert body["campaignInfos"][0]["localIVRInfos"] == [] and body["campaignInfos"][0]["dialTimeOut"] == -1
    assert (body["pingInterval"], body["sessionTimeout"], body["commandTimeout"]) == (7000, 90000, 20000)
    assert body["maxPhoneLengthAllowed"] == 15 and body["pingNotificationTimeout"] == 60000
    assert body["preferences"]["_shouldMaskCustomerPhone"] == {"1": False, "5": True, "10": False}
    assert body["preferences"]["_maskCustomerPhoneWithValue"]["1"] == "xxxxxxxxxx"
    assert body["campaignMaskedPrivilegeMap"] == {"campaignId_1": [], "campaignId_5": [], "campaignId_10": []}

    second = run(http, "login", data)["sessionId"]
    assert second != body["sessionId"]
    assert sorted(sim.state.live_sessions()) == sorted([body["sessionId"], second])
    assert sim.state.logins == 2 and sim.state.executed["login"] == 2


def test_wrong_password_answers_null(sim: SimulatorThread, http: httpx.Client) -> None:
    response = call(http, "login", {"userId": "CustomerManager", "password": "nope", "terminal": "127.0.0.1"})
    assert (response.status_code, response.text) == (200, "null")
    assert call(http, "login", {"userId": "someone", "password": "simulator"}).text == "null"
    assert (sim.state.logins, sim.state.failed_logins, sim.state.live_sessions()) == (0, 2, [])
    assert sim.state.commands["login"] == 2 and sim.state.executed["login"] == 0


def test_query_string_get_and_trailing_slash(sim: SimulatorThread, http: httpx.Client) -> None:
    data = json.dumps({"userId": "CustomerManager", "password": "simulator", "terminal": "127.0.0.1"})
    by_get = http.get(PATH + "/", params={"command": "login", "data": data})
    assert SESSION_ID.match(by_get.json()["sessionId"])
    sid = by_get.json()["sessionId"]
    by_post_query = http.post(
        PATH, params={"command": "ping-session", "data": json.dumps({"sessionId": sid})}
    )
    assert by_post_query.json()["alive"] is True


def test_ping_renews_and_reports_invalid_sessions(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    body = run(http, "ping-session", {"sessionId": sid, "sessionPushSeqNo": "0", "sessionpushseqno": "0"})
    assert body["alive"] is True and abs(body["serverTime"] - time.time() * 1000) < 5000
    bad = "d547-54f428e8-ses-CustomerManager-3207-2"
    reason = f"Invalid session Id: {bad}"
    assert run(http, "ping-session", {"sessionId": bad}) == {
        "status": "error",
        "reason": reason,
        "details": reason,
    }
    assert sim.state.pings == 1


def test_logout_ends_the_session(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    assert run(http, "logout", {"sessionId": sid}) == {}
    expected = {"message": f"Invalid session Id: {sid}", "type": "ProcessingException", "isPopulated": True}
    assert run(http, "logout", {"sessionId": sid}) == expected
    assert run(http, "ping-session", {"sessionId": sid})["status"] == "error"
    assert run(http, "getLeadsForCampaign", {"sessionId": sid, "campaignId": 1}) == invalid_session(sid)
    assert (sim.state.logouts, sim.state.live_sessions()) == (1, [])


@pytest.mark.parametrize("sim", [SimulatorConfig(contacts=5, session_timeout_ms=300)], indirect=True)
def test_sessions_expire_without_activity_and_commands_renew_them(
    sim: SimulatorThread, http: httpx.Client
) -> None:
    now = [1_000.0]
    sim.state.clock = lambda: now[0]
    sid = login(http, sim)
    for _ in range(3):  # 600 ms in all, but never 300 ms idle
        now[0] += 0.2
        assert run(http, "getLeadsForCampaign", {"sessionId": sid, "campaignId": 1})[0]["leadId"] == 1
    now[0] += 0.4
    assert run(http, "getContacts", {"sessionId": sid, "campaignId": 1}) == invalid_session(sid)
    assert sim.state.live_sessions() == []
    sid = login(http, sim)
    now[0] += 0.299
    assert run(http, "ping-session", {"sessionId": sid})["alive"] is True
    now[0] += 0.4
    assert run(http, "ping-session", {"sessionId": sid})["status"] == "error"


def test_expire_all_sessions(sim: SimulatorThread, http: httpx.Client) -> None:
    sids = [login(http, sim) for _ in range(3)]
    assert sim.state.expire_all_sessions() == 3
    assert all(run(http, "ping-session", {"sessionId": s})["status"] == "error" for s in sids)


# --- getContacts, getLeadsForCampaign --------------------------------------------------------------


def test_get_contacts_document_sample(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    columns = {f"{ALIAS}{c}": c.upper() for c in ("last_disposition_2", "disposition", "status", "attempts")}
    data = {
        "sessionId": sid,
        "campaignId": 1,
        "chooseEnabledLeads": True,
        "customerIds": ["12458"],
        "leadIds": ["1"],
        "otherColumns": columns,
    }
    body = run(http, "getContacts", data)
    assert body["result"] == "Success." and body["comment"] == "Execution successful"
    [contact] = body["beanResponse"]
    assert {k: contact[k] for k in ("customerId", "processId", "leadId")} == {
        "customerId": 12458,
        "processId": 1,
        "leadId": 1,
    }
    assert contact["customerData"] == {"region": "REGIÓN 4", "login": "504089", "phone1": "0458681166572"}
    assert contact["extraData"]["STATUS"] == "BUSY" and contact["extraData"]["ATTEMPTS"] == 5
    assert contact["numOutboundAttempted"] == 5 and contact["numInboundAttempted"] == 0
    # Null columns are left out of extraData altogether.
    assert all(value is not None for value in contact["extraData"].values())


def test_get_contacts_filters_order_and_limits(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)

    def ids(**query: Any) -> list[int]:
        body = run(http, "getContacts", {"sessionId": sid, "campaignId": 1, **query})
        return [c["customerId"] for c in body["beanResponse"]]

    stored = sim.state.contacts(1)
    assert ids() == [c.customer_id for c in stored] == sorted(c.customer_id for c in stored)
    assert len(stored) == 60 + 1  # the sample customers and the document's addCallback customer, 112
    assert set(ids(leadIds=[21, "39"])) == {c.customer_id for c in stored if c.lead_id in (21, 39)}
    enabled = ids(chooseEnabledLeads=True)
    assert enabled and set(enabled) == {c.customer_id for c in stored if c.lead_id != 35}
    assert ids(customerIds=[12458, "99999"]) == [12458]
    assert ids(orderBy="customerId desc") == sorted(ids(), reverse=True)
    everything = ids(orderBy="customerId")
    assert ids(orderBy="customerId", limitOffset="LIMIT 5 OFFSET 2") == everything[2:7]
    assert ids(orderBy="customerId", limitOffset="limit 5") == everything[:5]
    assert ids(orderBy="customerId", limitOffset="5") == everything[:5]
    assert ids(orderBy="customerId", limitOffset=5) == everything[:5]
    assert ids(orderBy="customerId", limitOffset="2, 5") == everything[2:7]

    column = {f"{ALIAS}last_dialed_time": "LAST", f"{ALIAS}status": "STATUS"}
    body = run(
        http,
        "getContacts",
        {
            "sessionId": sid,
            "campaignId": 1,
            "otherColumns": column,
            "orderBy": f"{ALIAS}last_dialed_time DESC",
        },
    )
    times = [c["extraData"].get("LAST") for c in body["beanResponse"]]
    dialed = [t for t in times if t is not None]
    assert dialed and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t in dialed)
    assert dialed == sorted(dialed, reverse=True) and times[: len(dialed)] == dialed  # NULLs last in DESC
    never = [c for c in body["beanResponse"] if "LAST" not in c["extraData"]]
    assert never and all(c["extraData"]["STATUS"] == "NOT_TRIED" for c in never)


def test_get_contacts_errors(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    base = {"sessionId": sid, "campaignId": 1}
    assert run(http, "getContacts", {**base, "leadIds": ["2"]}) == failed(
        "CustomerManager.lead.not.in.camp.11", 2, 1
    )
    assert run(http, "getContacts", {**base, "campaignId": 77}) == failed(
        "CustomerManager.campaign.not.found", 77
    )
    bad_column = {**base, "otherColumns": {f"{ALIAS}shoe_size": "SHOE"}}
    assert run(http, "getContacts", bad_column)["comment"][0] == "CustomerManager.invalid.column.name"
    assert run(http, "getContacts", {**base, "orderBy": "nonsense; drop"})["result"] == "Failed."
    assert run(http, "getContacts", {**base, "limitOffset": "LIMIT ten"})["result"] == "Failed."
    assert run(http, "getContacts", {"sessionId": sid})["comment"][0] == "CustomerManager.invalid.request"
    assert sim.state.executed["getContacts"] == 0


def test_get_leads_for_campaign(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    leads = run(http, "getLeadsForCampaign", {"campaignId": 1, "sessionId": sid})
    assert isinstance(leads, list)
    assert [(lead["id"], lead["leadId"], lead["enabled"]) for lead in leads] == [
        (1, 1, True),
        (35, 35, False),
        (21, 21, True),
        (39, 39, True),
    ]
    assert leads[0] == {
        "id": 1,
        "campaignId": 1,
        "leadId": 1,
        "priority": 1,
        "weightage": 1,
        "enabled": True,
        "maxAttempt": 10,
        "churnCount": 0,
        "fetchOrderDetails": [{"ascending": False}],
    }
    assert "fetchOrderDetails" not in leads[1]
    assert [
        lead["leadId"] for lead in run(http, "getLeadsForCampaign", {"campaignId": "5", "sessionId": sid})
    ] == [51]
    assert run(http, "getLeadsForCampaign", {"campaignId": 3, "sessionId": sid})["result"] == "Failed."


# --- uploads ---------------------------------------------------------------------------------------


def test_upload_contacts_document_sample(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    data = {
        "campaignId": "1",
        "leadId": 35,
        "sessionId": sid,
        "properties": {"update.customer": True, "migrate.customer": True},
        "numAttempts": "2",
        "Status": "NOT_TRIED",
        "customerRecords": [
            {"phone1": "1734567898999", "name": "amit", "region": "region3", "login": "amit"},
            {"phone1": "9991734567896", "name": "amit", "region": "region3", "login": "amit"},
        ],
    }
    rows = run(http, "uploadContacts", data)["beanResponse"]
    first, second = rows
    assert first == {
        "inserted": True,
        "customerId": first["customerId"],
        "resultTypeString": "ADDED",
        "crmIntegrated": True,
        "crmSuccess": True,
        "crmResultTypeString": "ADDED",
    }
    assert second["customerId"] == first["customerId"] + 1
    stored = sim.state.contact(first["customerId"])
    assert stored is not None and stored.lead_id == 35 and stored.customer_data["login"] == "amit"
    assert (stored.columns["status"], stored.columns["attempts"]) == ("NOT_TRIED", 2)
    assert [w.detail for w in sim.state.records_written] == ["ADDED", "ADDED"]


def test_upload_dedup_update_and_migrate(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    phone = "919000000001"
    [added] = upload(http, sid, 1, [{"phone1": phone, "name": "Asha"}])
    cid = added["customerId"]

    def result(lead: int, name: str, **props: bool) -> tuple[str, int]:
        [row] = upload(http, sid, lead, [{"phone1": phone, "name": name}], **props)
        assert row["customerId"] == cid
        contact = sim.state.contact(cid)
        assert contact is not None
        return row["resultTypeString"], contact.lead_id

    assert result(1, "x") == ("DUPLICATE_NOT_ADDED", 1)
    assert result(1, "Asha Rao", migrate=True) == ("DUPLICATE_NOT_ADDED", 1)
    assert result(1, "Asha Rao", update=True) == ("UPDATED", 1)
    assert result(21, "y") == ("DUPLICATE_NOT_ADDED", 1)
    assert result(21, "Asha R.", update=True) == ("UPDATED", 1)  # update only: stays in its lead
    assert result(21, "ignored", migrate=True) == ("MIGRATED", 21)
    assert result(39, "Asha M.", update=True, migrate=True) == ("UPDATED_AND_MIGRATED", 39)
    assert result(35, "nope", update=True, migrate=True) == ("NOT_MIGRATED", 39)  # lead 35 is disabled
    contact = sim.state.contact(cid)
    assert contact is not None and contact.customer_data["name"] == "Asha M."
    assert len(sim.state.contacts(1)) == 60 + 1 + 1  # 60 sample customers, 112, and the one added
    kinds = [w.detail for w in sim.state.records_written]
    assert kinds == ["ADDED", "UPDATED", "UPDATED", "MIGRATED", "UPDATED_AND_MIGRATED"]


def test_upload_with_status_churns_the_record(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    data = {
        "campaignId": 1,
        "leadId": 1,
        "sessionId": sid,
        "properties": {"update.customer": "true"},
        "Status": "NOT_TRIED",
        "numAttempts": "0",
        "customerRecords": [{"phone1": "0458681166572"}],
    }
    assert run(http, "uploadContacts", data)["beanResponse"][0]["resultTypeString"] == "UPDATED"
    contact = sim.state.contact(12458)
    assert contact is not None
    assert (contact.columns["status"], contact.columns["last_churn_1"], contact.columns["attempts"]) == (
        "NOT_TRIED",
        "BUSY",
        0,
    )


def test_same_phone_twice_in_one_request(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    twice = [{"phone1": "919000000002", "name": "a"}, {"phone1": "+91 90000-00002", "name": "b"}]
    first, second = upload(http, sid, 21, twice)
    assert (first["resultTypeString"], second["resultTypeString"]) == ("ADDED", "DUPLICATE_NOT_ADDED")
    assert second["customerId"] == first["customerId"] and second["inserted"] is False
    twice = [{"phone1": "919000000003", "name": "a"}, {"phone1": "919000000003", "name": "b"}]
    first, second = upload(http, sid, 21, twice, update=True)
    assert (first["resultTypeString"], second["resultTypeString"]) == ("ADDED", "UPDATED")
    contact = sim.state.contact(first["customerId"])
    assert contact is not None and contact.customer_data["name"] == "b"


@pytest.mark.parametrize("sim", [SimulatorConfig(contacts=10, max_phone_length=12)], indirect=True)
def test_upload_record_failures(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    records = [
        {"name": "no phone"},
        {"phone1": "1734567898999"},
        {"phone1": "12"},
        {"phone1": "98765abc10"},
        {"phone1": "919000000004", "notes": "x" * 300},
        "not a record",
        {"phone1": "919000000005", "tags": ["a"]},
        {"phone1": 919000000006},
    ]
    rows = upload(http, sid, 1, records)
    assert rows[0] == {
        "Inserted": False,
        "exception": ["CustomerManager.Column.name.cannot.be.missing.empty", "phone1"],
        "resultTypeString": "PREPROCESSOR_NOT_NULLABLE_COLUMN_GIVEN_NULL",
        "crmIntegrated": False,
        "crmSuccess": False,
    }
    assert rows[1] == {
        "inserted": False,
        "exception": ["CustomerManager.Phone.number.does.not.have.valid.length", 13],
        "resultTypeString": "PREPROCESSING_INVALID_LENGTH",
        "crmIntegrated": False,
        "crmSuccess": False,
    }
    assert rows[2]["exception"] == ["CustomerManager.Phone.number.does.not.have.valid.length", 2]
    types = [row["resultTypeString"] for row in rows[3:]]
    assert types == [
        "INVALID_RECORD_FAILED",
        "ADD_FAILED",
        "INVALID_RECORD_FAILED",
        "INVALID_RECORD_FAILED",
        "ADDED",
    ]
    assert [w.detail for w in sim.state.records_written] == ["ADDED"]

    existing = sim.state.contacts(1)[0].phone1
    [row] = upload(http, sid, 1, [{"phone1": existing, "notes": "y" * 300}], update=True)
    assert row["resultTypeString"] == "UPDATE_FAILED"


def test_upload_whole_command_failures(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    base = {"campaignId": 1, "leadId": 1, "sessionId": sid, "customerRecords": [{"phone1": "919000000007"}]}
    assert run(http, "uploadContacts", base)["comment"][0] == "CustomerManager.properties.cannot.be.null"
    with_props = {**base, "properties": PROPS_NONE}
    assert run(http, "uploadContacts", {**with_props, "leadId": 51}) == failed(
        "CustomerManager.lead.not.in.camp.11", 51, 1
    )
    rows = run(http, "uploadContacts", {**with_props, "Status": "HAPPY"})["beanResponse"]
    assert rows[0]["resultTypeString"] == "INVALID_CONFIGURATION"
    rows = run(http, "uploadContacts", {**base, "properties": {"update.customer": "maybe"}})["beanResponse"]
    assert rows[0]["resultTypeString"] == "INVALID_CONFIGURATION"
    assert sim.state.records_written == []


def test_upload_contact_and_add_callback_follows_the_three_rules(
    sim: SimulatorThread, http: httpx.Client
) -> None:
    sid = login(http, sim)
    existing = next(c for c in sim.state.contacts(1) if c.customer_id != 12458)
    before = len(sim.state.callbacks())
    records = [
        # Rule i: customerId given, the callback is for that customer (on its phone1).
        {
            "customerRecord": {"phone1": "919000000010"},
            "callbackRecord": {
                "callBackTime": "2016-08-27 16:23:00",
                "customerId": "12458",
                "userId": "agent",
            },
        },
        # Rule ii: the record's customer was added, the callback is for it. Document's lost space.
        {
            "customerRecord": {"phone1": "6601045038888"},
            "callbackRecord": {
                "isSelfCallBack": False,
                "userId": "agent",
                "callBackPhone": "6601045038888",
                "callBackTime": "2016-08-2716:23:00",
            },
        },
        # Rule iii: a duplicate, not uploaded: the callback is for the phone number alone.
        {
            "customerRecord": {"phone1": existing.phone1},
            "callbackRecord": {
                "callBackTime": "2030-01-02 00:05:00",
                "isSelfCallBack": "true",
                "userId": "agent2",
            },
        },
        # A bad time fails this row only.
        {"customerRecord": {"phone1": "919000000011"}, "callbackRecord": {"callBackTime": "tomorrow 3pm"}},
    ]
    data = {
        "campaignId": 1,
        "leadId": 21,
        "sessionId": sid,
        "customerAndCallbackRecords": records,
        "properties": {"update.customer": False},
        "validityTime": "2010-04-13 22:30:00 IST",
    }
    rows = run(http, "uploadContactAndAddCallback", data)
    assert isinstance(rows, list) and len(rows) == 4
    rule_i, rule_ii, rule_iii, bad = rows
    assert rule_i["callbackProperties"] == {"phone": "0458681166572", "customerId": "12458"}
    assert rule_i["resultTypeString"] == "ADDED" and rule_i["customerId"] != 12458
    assert rule_ii == {
        "callbackProperties": {"phone": "6601045038888", "customerId": str(rule_ii["customerId"])},
        "callbackTime": "Aug 27, 2016 4:23:00 PM",
        "campaignId": 1,
        "id": rule_ii["id"],
        "isSelfCallback": False,
        "userId": "agent",
        "crmIntegrated": True,
        "crmTypeString": "ADDED",
        "crmSuccess": True,
        "customerId": rule_ii["customerId"],
        "isInserted": True,
        "resultTypeString": "ADDED",
        "message": None,
    }
    assert CALLBACK_ID.match(rule_ii["id"])
    assert rule_iii["resultTypeString"] == "DUPLICATE_NOT_ADDED" and rule_iii["isInserted"] is False
    assert rule_iii["callbackProperties"] == {"phone": existing.phone1, "customerId": None}
    assert rule_iii["callbackTime"] == "Jan 2, 2030 12:05:00 AM" and rule_iii["isSelfCallback"] is True
    assert bad["id"] is None and "callBackTime" in bad["message"] and bad["resultTypeString"] == "ADDED"

    stored = {cb.callback_id: cb for cb in sim.state.callbacks()}
    assert len(stored) == before + 3
    assert stored[rule_i["id"]].customer_id == 12458
    assert stored[rule_ii["id"]].customer_id == rule_ii["customerId"]
    assert stored[rule_iii["id"]].customer_id is None
    assert stored[rule_ii["id"]].callback_time == datetime(2016, 8, 27, 16, 23, tzinfo=KOLKATA)


def test_add_callback(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    data = {
        "sessionId": sid,
        "campaignId": 1,
        "callBackTime": "2017-05-31 15:30:00",
        "isSelfCallBack": "false",
        "userId": "agent",
        "callBackHandlerType": "voice.campaign.callback.handler",
        "callBackProperties": {"customerId": "12458", "phone": "5555056887"},
    }
    [row] = run(http, "addCallback", data)["beanResponse"]
    assert row == {
        "id": row["id"],
        "campaignId": 1,
        "callBackTime": "May 31, 2017 3:30:00 PM",
        "selfCallback": False,
        "callBackProperties": [{"phone": "5555056887", "customerId": "12458"}],
        "userId": "agent",
        "phone": "5555056887",
        "customerId": 12458,
    }
    assert CALLBACK_ID.match(row["id"]) and row["id"] in {cb.callback_id for cb in sim.state.callbacks()}

    unknown = {**data, "callBackProperties": {"customerId": "1", "phone": "5555056887"}}
    assert run(http, "addCallback", unknown) == failed("CustomerManager.customer.not.found", "1")
    late = {**data, "callBackTime": "31/05/2017 3pm"}
    assert run(http, "addCallback", late) == failed("CustomerManager.invalid.callback.time", "31/05/2017 3pm")
    zoned = {**data, "callBackTime": "2017-05-31 15:30:00 IST"}
    assert run(http, "addCallback", zoned)["beanResponse"][0]["callBackTime"] == "May 31, 2017 3:30:00 PM"
    other_zone = {**data, "callBackTime": "2017-05-31 15:30:00 PST"}
    assert run(http, "addCallback", other_zone)["result"] == "Failed."
    assert sim.state.executed["addCallback"] == 2


@pytest.mark.parametrize(
    "sim", [SimulatorConfig(contacts=60), SimulatorConfig(contacts=20_000)], indirect=True
)
def test_the_documents_add_callback_sample_runs_as_written(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    [customer] = run(http, "getContacts", {"sessionId": sid, "campaignId": 1, "customerIds": [112]})[
        "beanResponse"
    ]
    assert (customer["customerId"], customer["customerData"]["phone1"]) == (112, "5555056887")
    sample = {  # section 4.10.3, only the session id changed
        "sessionId": sid,
        "campaignId": 1,
        "callBackTime": "2017-05-31 15:30:00",
        "isSelfCallBack": "false",
        "userId": "agent",
        "callBackHandlerType": "voice.campaign.callback.handler",
        "callBackProperties": {"customerId": "112", "phone": "5555056887"},
    }
    [row] = run(http, "addCallback", sample)["beanResponse"]
    assert (row["customerId"], row["phone"]) == (112, "5555056887")
    assert row["callBackProperties"] == [{"phone": "5555056887", "customerId": "112"}]


def test_seed_callbacks_exist_and_are_well_formed(sim: SimulatorThread) -> None:
    callbacks = sim.state.callbacks()
    assert callbacks and all(CALLBACK_ID.match(cb.callback_id) for cb in callbacks)
    assert all(cb.customer_id is not None and sim.state.contact(cb.customer_id) for cb in callbacks)


# --- protocol errors and token authentication ------------------------------------------------------


def test_unknown_command_and_malformed_data(sim: SimulatorThread, http: httpx.Client) -> None:
    body = run(http, "getWeather", {})
    assert body["status"] == "error" and body["reason"] == "Unknown command: getWeather" and body["details"]
    assert run(http, "getContacts", "{not json")["comment"][0] == "CustomerManager.invalid.request"
    assert run(http, "getContacts", "[1, 2]")["comment"][0] == "CustomerManager.invalid.request"
    assert sim.state.commands["getWeather"] == 1 and sim.state.executed["getWeather"] == 0


def test_token_authentication(sim: SimulatorThread, http: httpx.Client) -> None:
    config = sim.state.config
    headers = {"hash-key": config.hash_key, "policy-name": config.policy_name, "requesting-host": "crm.local"}
    body = run(http, "getContacts", {"campaignId": 5}, headers=headers)
    assert body["result"] == "Success." and len(body["beanResponse"]) == 40
    body = run(http, "getContacts", {"campaignId": 5, "sessionId": "stale"}, headers=headers)
    assert body["result"] == "Success."

    wrong = call(http, "getContacts", {"campaignId": 5}, headers={**headers, "hash-key": "guess"})
    assert wrong.status_code == 401
    assert (
        wrong.json()["status"] == "error"
        and wrong.json()["reason"] == "Authentication failed: invalid hash-key"
    )
    assert run(http, "getContacts", {"campaignId": 5}) == invalid_session(None)
    assert sim.state.logins == 0 and sim.state.executed["getContacts"] == 2


# --- fault injection -------------------------------------------------------------------------------


def test_html_502_for_chosen_commands_only(sim: SimulatorThread, http: httpx.Client) -> None:
    sim.state.faults.commands = {"getLeadsForCampaign"}
    sim.state.faults.html_502 = 2
    sid = login(http, sim)  # login stays healthy
    for _ in range(2):
        response = call(http, "getLeadsForCampaign", {"campaignId": 1, "sessionId": sid})
        assert response.status_code == 502 and response.headers["content-type"].startswith("text/html")
        assert "502 Bad Gateway" in response.text
    assert isinstance(run(http, "getLeadsForCampaign", {"campaignId": 1, "sessionId": sid}), list)
    assert sim.state.executed["getLeadsForCampaign"] == 1 and sim.state.commands["getLeadsForCampaign"] == 3


@pytest.mark.parametrize("fault", ["malformed", "truncated", "null_body"])
def test_bad_bodies_after_execution(sim: SimulatorThread, http: httpx.Client, fault: str) -> None:
    sid = login(http, sim)
    setattr(sim.state.faults, fault, 1)
    records = [{"phone1": "919000000020"}]
    data = {
        "campaignId": 1,
        "leadId": 1,
        "sessionId": sid,
        "properties": PROPS_NONE,
        "customerRecords": records,
    }
    response = call(http, "uploadContacts", data)
    assert response.status_code == 200
    if fault == "null_body":
        assert response.json() is None
    else:
        with pytest.raises(json.JSONDecodeError):
            response.json()
    assert len(sim.state.records_written) == 1  # executed all the same
    assert run(http, "ping-session", {"sessionId": sid})["alive"] is True  # one request only


def test_drop_before_does_not_execute(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    sim.state.faults.drop_before = 1
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        upload(http, sid, 1, [{"phone1": "919000000030"}])
    assert sim.state.records_written == [] and sim.state.executed["uploadContacts"] == 0
    assert upload(http, sid, 1, [{"phone1": "919000000030"}])[0]["resultTypeString"] == "ADDED"


def test_drop_after_executes_then_cuts_the_response(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    sim.state.faults.drop_after = 1
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        upload(http, sid, 1, [{"phone1": "919000000031"}])
    assert len(sim.state.records_written) == 1 and sim.state.executed["uploadContacts"] == 1
    assert upload(http, sid, 1, [{"phone1": "919000000031"}])[0]["resultTypeString"] == "DUPLICATE_NOT_ADDED"


def test_delay_executes_then_answers_late(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    faults = sim.state.faults
    faults.commands, faults.delay_s = {"addCallback"}, 0.6
    phone = {"phone": "919000000040"}
    data = {
        "sessionId": sid,
        "campaignId": 1,
        "callBackTime": "2030-01-01 10:00:00",
        "callBackProperties": phone,
    }
    with pytest.raises(httpx.ReadTimeout):
        call(http, "addCallback", data, timeout=0.2)
    assert sim.state.executed["addCallback"] == 1
    started = time.monotonic()
    assert run(http, "ping-session", {"sessionId": sid})["alive"] is True  # other commands are not slowed
    assert time.monotonic() - started < 0.5
    faults.reset()
    assert faults.delay_s == 0 and faults.commands == set()
    assert run(http, "addCallback", data, timeout=2)["beanResponse"][0]["phone"] == "919000000040"


def test_fault_minus_one_means_every_request(sim: SimulatorThread, http: httpx.Client) -> None:
    sim.state.faults.null_body = -1
    assert [call(http, "ping-session", {"sessionId": "x"}).text for _ in range(3)] == ["null"] * 3
    sim.state.faults.reset()
    assert call(http, "ping-session", {"sessionId": "x"}).json()["status"] == "error"


# --- seed data, formats, and the blocking server ---------------------------------------------------


@pytest.mark.parametrize("size", [1200, 20_000])  # listed at start, and generated on demand
def test_seed_data_is_deterministic_and_realistic(size: int) -> None:
    now = datetime(2025, 3, 3, 11, 29, 34, tzinfo=KOLKATA)
    one, two = (SimulatorState(SimulatorConfig(contacts=size, now=now)) for _ in range(2))
    contacts = one.contacts()
    assert contacts == two.contacts() and one.callbacks() == two.callbacks()
    assert len(one.contacts(1)) == size + 1 and len(one.contacts(5)) == 40
    phones = [c.phone1 for c in contacts]
    assert len(set(phones)) == len(phones) and all(p.isdigit() and 10 <= len(p) <= 13 for p in phones)
    assert any(c.customer_data.get("name") == "Priya Sharma" for c in contacts)
    doc = one.contact(12458)
    assert doc is not None and (doc.lead_id, doc.columns["status"], doc.columns["attempts"]) == (1, "BUSY", 5)
    assert {c.lead_id for c in one.contacts(1)} == {1, 21, 35, 39}
    for contact in contacts:
        cols = contact.columns
        assert cols["num_outbound_attempted"] == cols["attempts"]
        assert (cols["status"] == "NOT_TRIED") == (cols["attempts"] == 0)
        assert cols["disposition"] is None or cols["num_outbound_connected"]
        dialed = cols["last_dialed_time"]
        assert dialed is None or (isinstance(dialed, datetime) and dialed < now)
    different = SimulatorState(SimulatorConfig(contacts=size, now=now, seed=8)).contacts()
    assert [c.phone1 for c in different] != phones


def test_java_medium_format() -> None:
    assert java_medium(datetime(2015, 3, 3, 11, 29, 34, tzinfo=KOLKATA), KOLKATA) == "Mar 3, 2015 11:29:34 AM"
    assert java_medium(datetime(2015, 3, 3, 0, 5, tzinfo=KOLKATA), KOLKATA) == "Mar 3, 2015 12:05:00 AM"
    assert java_medium(datetime(2015, 12, 13, 12, 0, tzinfo=KOLKATA), KOLKATA) == "Dec 13, 2015 12:00:00 PM"
    assert JAVA_MEDIUM.match(java_medium(datetime(2015, 3, 3, 13, 7, 26, tzinfo=KOLKATA), KOLKATA))


def test_serve_blocks_and_logs_one_line_to_stderr() -> None:
    code = (
        "from ameyo_mcp.simulator import SimulatorConfig, serve\n"
        "serve(SimulatorConfig(contacts=5, password='pw'), host='127.0.0.1', port=0)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/ameyowebaccess/command", line)
        assert match and "CustomerManager" in line and "password as given (not shown)" in line, line
        url = f"http://127.0.0.1:{match.group(1)}"
        with httpx.Client(base_url=url, timeout=5) as http:
            for _ in range(100):  # listening already; the loop may need a moment to serve
                try:
                    body = run(http, "login", {"userId": "CustomerManager", "password": "pw"})
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            assert SESSION_ID.match(body["sessionId"])
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert out == ""


# --- campaigns too large to list: generated on demand ------------------------------------------------

STATUS_COLUMN = {f"{ALIAS}status": "STATUS", f"{ALIAS}attempts": "ATTEMPTS"}


@pytest.mark.parametrize("sim", [SimulatorConfig(contacts=100_000)], indirect=True)
def test_paging_a_large_campaign_by_customer_id_gives_every_contact_once(
    sim: SimulatorThread, http: httpx.Client
) -> None:
    sid = login(http, sim)
    seen: list[int] = []
    added: list[int] = []
    offset = 0
    while True:
        query = {
            "sessionId": sid,
            "campaignId": 1,
            "orderBy": "customerId",
            "limitOffset": f"LIMIT 500 OFFSET {offset}",
            "otherColumns": STATUS_COLUMN,
        }
        page = run(http, "getContacts", query)["beanResponse"]
        if not page:
            break
        seen.extend(c["customerId"] for c in page)
        offset += len(page)
        if offset == 50_000:  # uploads while the pass runs: new contacts come after every old one
            rows = upload(http, sid, 21, [{"phone1": "9000000001"}, {"phone1": "9000000002"}])
            added = [r["customerId"] for r in rows]
            assert [r["resultTypeString"] for r in rows] == ["ADDED", "ADDED"]
    assert len(seen) == len(set(seen)) == 100_000 + 1 + 2
    assert seen == sorted(seen) and seen[0] == 112 and seen[-2:] == added
    assert 12458 in seen and seen[-3] == 12000 + 100_000

    last = run(http, "getContacts", {"sessionId": sid, "campaignId": 1, "orderBy": "customerId desc",
                                     "limitOffset": "LIMIT 3"})["beanResponse"]  # fmt: skip
    assert [c["customerId"] for c in last] == [*reversed(added), 112_000]


@pytest.mark.parametrize("sim", [SimulatorConfig(contacts=20_000)], indirect=True)
def test_generated_campaign_filters_as_the_listed_one_does(sim: SimulatorThread, http: httpx.Client) -> None:
    sid = login(http, sim)
    stored = sim.state.contacts(1)

    def ids(**query: Any) -> list[int]:
        body = run(http, "getContacts", {"sessionId": sid, "campaignId": 1, **query})
        return [c["customerId"] for c in body["beanResponse"]]

    in_21_39 = [c.customer_id for c in stored if c.lead_id in (21, 39)]
    assert ids(leadIds=[21, 39], limitOffset="LIMIT 300 OFFSET 7000") == in_21_39[7000:7300]
    assert (
        ids(leadIds=[21, 39], orderBy="customerId desc", limitOffset="LIMIT 300 OFFSET 10")
        == (in_21_39[::-1][10:310])
    )
    assert ids(leadIds=[21], limitOffset="LIMIT 5 OFFSET 99999") == []
    enabled = [c.customer_id for c in stored if c.lead_id != 35]
    assert ids(chooseEnabledLeads=True, limitOffset="LIMIT 100 OFFSET 12345") == enabled[12345:12445]
    assert ids(customerIds=[20_000, 12001, "5", 112], leadIds=[1, 21]) == [
        c
        for c in (112, 12001, 20_000)
        if sim.state.contact(c).lead_id in (1, 21)  # type: ignore[union-attr]
    ]
    by_status = ids(orderBy=f"{ALIAS}attempts desc, customerId", limitOffset="LIMIT 5")
    most = max(c.columns["attempts"] or 0 for c in stored)  # type: ignore[type-var]
    assert all(sim.state.contact(i).columns["attempts"] == most for i in by_status)  # type: ignore[union-attr]

    # An upload finds a generated customer by phone1, and a migrate moves it between leads.
    target = next(c for c in stored[5000:] if c.lead_id == 1)
    [dup] = upload(http, sid, 1, [{"phone1": target.phone1}])
    assert (dup["resultTypeString"], dup["customerId"]) == ("DUPLICATE_NOT_ADDED", target.customer_id)
    [moved] = upload(http, sid, 39, [{"phone1": target.phone1, "name": "Moved"}], update=True, migrate=True)
    assert (moved["resultTypeString"], moved["customerId"]) == ("UPDATED_AND_MIGRATED", target.customer_id)
    assert target.customer_id in ids(leadIds=[39]) and target.customer_id not in ids(leadIds=[1])
    [row] = run(
        http, "getContacts", {"sessionId": sid, "campaignId": 1, "customerIds": [target.customer_id]}
    )["beanResponse"]
    assert (row["leadId"], row["customerData"]["name"]) == (39, "Moved")


def test_a_million_contact_campaign_holds_its_last_contact() -> None:
    state = SimulatorState(SimulatorConfig(contacts=1_000_000))  # bench/bench_simulator.py times this
    last = state.contact(12000 + 1_000_000)
    assert last is not None and state.contact(12000 + 1_000_001) is None


def test_the_simulator_says_a_password_given_to_it_only_as_given(tmp_path: Path) -> None:
    """Its start line said the password given with --password, perhaps one used elsewhere; the
    documented default is still said, so that the README's first commands need no reading."""
    from tests.conftest import logged_port

    for given, shown in (
        (["--password", "pw-used-elsewhere-3d9c"], "password as given (not shown)"),
        ([], "password 'simulator'"),
    ):
        log = tmp_path / f"simulator{len(given)}.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "ameyo_mcp", "simulator", "--port", "0", *given],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        try:
            logged_port(log, proc, b"Ameyo simulator listening on http://127.0.0.1:", within=30)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        said = log.read_text()
        assert shown in said and "pw-used-elsewhere-3d9c" not in said, said


def test_the_simulator_logs_each_login_and_logout_with_running_counts(tmp_path: Path) -> None:
    """An operator could not tell from outside how many sessions a deployment took (README: one
    Ameyo session for all the replicas): a line per login, refused login and logout says so, and
    never the password, the session id or what a refused login gave as its userId."""
    from tests.conftest import logged_port

    log = tmp_path / "simulator.log"
    password = "pw-ops-7f21c"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ameyo_mcp",
                "simulator",
                "--port",
                "0",
                "--user",
                "ops",
                "--password",
                password,
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        port = logged_port(log, proc, b"Ameyo simulator listening on http://127.0.0.1:", within=30)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            # A password typed into the userId field is refused, and not echoed.
            assert call(http, "login", {"userId": password, "password": "ops"}).text == "null"
            given = {"userId": "ops", "password": password, "terminal": "127.0.0.1"}
            first, second = run(http, "login", given)["sessionId"], run(http, "login", given)["sessionId"]
            assert run(http, "logout", {"sessionId": first}) is not None
            run(http, "logout", {"sessionId": first})  # no longer a session: not a logout
        deadline = time.monotonic() + 10
        while log.read_text().count("simulator.state: log") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    said = log.read_text()
    lines = [
        line.split("ameyo_mcp.simulator.state: ", 1)[1]
        for line in said.splitlines()
        if "simulator.state" in line
    ]
    assert lines == [
        "login refused (wrong userId or password): logins 0, logouts 0, refused 1; sessions open 0",
        "login of ops: logins 1, logouts 0, refused 1; sessions open 1",
        "login of ops: logins 2, logouts 0, refused 1; sessions open 2",
        "logout: logins 2, logouts 1, refused 1; sessions open 1",
    ], said
    assert password not in said and first not in said and second not in said


def test_every_option_of_the_simulator_is_in_the_readme() -> None:
    """--user and --password were missing from the README's Commands table, the simulator's one
    documentation outside its --help."""
    shown = subprocess.run(
        [sys.executable, "-m", "ameyo_mcp", "simulator", "--help"], capture_output=True, text=True, check=True
    ).stdout
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", shown)) - {"--help"}
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    table = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = "\n".join(row.split("|")[1] for row in table.splitlines() if "`ameyo-mcp simulator" in row)
    assert {"--user", "--password", "--port"} <= options
    assert sorted(o for o in options if o not in rows) == []
