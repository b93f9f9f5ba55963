"""The client against the simulator over real loopback HTTP: every command, every error shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from ameyo_mcp.ameyo.client import AmeyoClient
from ameyo_mcp.ameyo.models import (
    AddCallbackRequest,
    CallbackRecord,
    CustomerAndCallback,
    GetContactsRequest,
    GetLeadsRequest,
    UploadContactsRequest,
    UploadWithCallbacksRequest,
)
from ameyo_mcp.config import Settings
from ameyo_mcp.errors import (
    AuthenticationFailed,
    CommandFailed,
    InvalidSession,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import Simulator, settings_for, transport_of

pytestmark = pytest.mark.anyio


async def test_login_returns_campaigns_and_timings(simulator: Simulator, settings: Settings) -> None:
    client = AmeyoClient(settings, transport=transport_of(simulator))
    try:
        info = await client.login()
    finally:
        await client.aclose()
    assert info.user_id == "CustomerManager"
    names = {c.campaign_name: c.campaign_id for c in info.campaign_infos}
    assert names == {"MoviStarSurvey": 1, "MOSL_Frenchise": 5, "TestInbound": 10}
    assert (info.ping_interval_ms, info.session_timeout_ms, info.max_phone_length) == (20000, 180000, 20)
    assert info.session_id not in repr(info)


async def test_every_command_round_trips(settings: Settings, simulator: SimulatorThread) -> None:
    client = AmeyoClient(settings, transport=transport_of(simulator))
    try:
        sid = (await client.login()).session_id
        assert (await client.ping_session(sid)).alive
        contacts = await client.send(
            GetContactsRequest(
                session_id=sid,
                campaign_id=1,
                customer_ids=["12458"],
                other_columns={"__campaign_customer_table_alias__.status": "STATUS"},
            )
        )
        assert [c.customer_id for c in contacts] == [12458]
        assert contacts[0].customer_data["phone1"] == "0458681166572"
        assert contacts[0].extra_data["STATUS"] == "BUSY"
        leads = await client.send(GetLeadsRequest(session_id=sid, campaign_id=1))
        assert {lead.lead_id: lead.enabled for lead in leads} == {1: True, 21: True, 35: False, 39: True}
        uploaded = await client.send(
            UploadContactsRequest(
                session_id=sid,
                campaign_id="1",
                lead_id=21,
                properties={"update.customer": False, "migrate.customer": False},
                customer_records=[{"phone1": "9991734567896", "name": "amit"}, {"name": "no phone"}],
            )
        )
        assert [r.result_type for r in uploaded] == ["ADDED", "PREPROCESSOR_NOT_NULLABLE_COLUMN_GIVEN_NULL"]
        assert uploaded[0].inserted and uploaded[0].customer_id
        assert uploaded[1].failure_key == "CustomerManager.Column.name.cannot.be.missing.empty"
        assert uploaded[1].failure_args == ["phone1"]
        rows = await client.send(
            UploadWithCallbacksRequest(
                session_id=sid,
                campaign_id=1,
                lead_id=21,
                records=[
                    CustomerAndCallback(
                        customer_record={"phone1": "6601045038888"},
                        callback_record=CallbackRecord(call_back_time="2030-08-27 16:23:00", user_id="agent"),
                    )
                ],
                properties={"update.customer": True},
            )
        )
        assert rows[0].result_type == "ADDED" and rows[0].callback_id
        assert rows[0].callback_time is not None and rows[0].callback_time.hour == 16
        callbacks = await client.send(
            AddCallbackRequest(
                session_id=sid,
                campaign_id=1,
                call_back_time="2030-05-31 15:30:00",
                user_id="agent",
                properties={"customerId": "12458", "phone": "0458681166572"},
            )
        )
        assert callbacks[0].customer_id == 12458 and callbacks[0].callback_id
        assert callbacks[0].properties.phone == "0458681166572"
        await client.logout(sid)
        with pytest.raises(InvalidSession):
            await client.ping_session(sid)
    finally:
        await client.aclose()
    assert simulator.state.executed["addCallback"] == 1


async def test_each_invalid_session_shape_is_invalid_session(
    simulator: Simulator, settings: Settings
) -> None:
    client = AmeyoClient(settings, transport=transport_of(simulator))
    stale = "d547-54f428e8-ses-CustomerManager-3207-2"
    try:
        with pytest.raises(InvalidSession) as ping:  # status/reason/details
            await client.ping_session(stale)
        with pytest.raises(InvalidSession) as logout:  # message/type/isPopulated
            await client.logout(stale)
        with pytest.raises(InvalidSession) as contacts:  # result Failed./comment
            await client.send(GetContactsRequest(session_id=stale, campaign_id=1))
    finally:
        await client.aclose()
    for error in (ping.value, logout.value, contacts.value):
        assert stale not in str(error)


async def test_lead_not_in_campaign_keeps_key_and_args(simulator: Simulator, settings: Settings) -> None:
    client = AmeyoClient(settings, transport=transport_of(simulator))
    try:
        sid = (await client.login()).session_id
        with pytest.raises(CommandFailed) as caught:
            await client.send(GetContactsRequest(session_id=sid, campaign_id=1, lead_ids=["2"]))
    finally:
        await client.aclose()
    assert caught.value.key == "CustomerManager.lead.not.in.camp.11"
    assert [int(a) for a in caught.value.args_] == [2, 1]  # type: ignore[call-overload]


async def test_wrong_password_is_authentication_failed(simulator: SimulatorThread, tmp_path: Path) -> None:
    client = AmeyoClient(
        settings_for(simulator, tmp_path, AMEYO_PASSWORD="wrong-secret"), transport=transport_of(simulator)
    )
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            await client.login()
    finally:
        await client.aclose()
    assert "AMEYO_PASSWORD" in str(caught.value) and "wrong-secret" not in str(caught.value)


@pytest.mark.parametrize("fault", ["html_502", "malformed", "truncated", "null_body"])
async def test_garbage_answers_are_upstream_unavailable(
    settings: Settings, simulator: SimulatorThread, fault: str
) -> None:
    client = AmeyoClient(settings, transport=transport_of(simulator))
    try:
        sid = (await client.login()).session_id
        simulator.state.faults.commands = {"getContacts"}
        setattr(simulator.state.faults, fault, 1)
        with pytest.raises(UpstreamUnavailable) as caught:
            await client.send(GetContactsRequest(session_id=sid, campaign_id=1))
    finally:
        await client.aclose()
    assert "<html" not in str(caught.value).lower()
    assert not caught.value.outcome_unknown  # a read: nothing to be unsure about


@pytest.mark.network
async def test_timeout_on_a_write_says_outcome_unknown(simulator: SimulatorThread, tmp_path: Path) -> None:
    client = AmeyoClient(
        settings_for(simulator, tmp_path, AMEYO_TIMEOUT_S="0.5"), transport=transport_of(simulator)
    )
    try:
        sid = (await client.login()).session_id
        simulator.state.faults.commands = {"addCallback"}
        simulator.state.faults.delay_s = 1.5
        with pytest.raises(UpstreamTimeout) as caught:
            await client.send(
                AddCallbackRequest(
                    session_id=sid,
                    campaign_id=1,
                    call_back_time="2030-05-31 15:30:00",
                    properties={"customerId": "12458", "phone": "0458681166572"},
                )
            )
    finally:
        await client.aclose()
    assert caught.value.outcome_unknown and "unknown" in str(caught.value)


@pytest.mark.network
async def test_dropped_connection_after_a_write_is_outcome_unknown(
    settings: Settings, simulator: SimulatorThread
) -> None:
    client = AmeyoClient(settings, transport=transport_of(simulator))
    try:
        sid = (await client.login()).session_id
        simulator.state.faults.commands = {"uploadContacts"}
        simulator.state.faults.drop_after = 1
        with pytest.raises(UpstreamUnavailable) as caught:
            await client.send(
                UploadContactsRequest(
                    session_id=sid,
                    campaign_id="1",
                    lead_id=21,
                    properties={"update.customer": False, "migrate.customer": False},
                    customer_records=[{"phone1": "9876501234"}],
                )
            )
    finally:
        await client.aclose()
    assert caught.value.outcome_unknown
    assert simulator.state.executed["uploadContacts"] == 1


@pytest.mark.network
async def test_refused_connection_and_wrong_path(simulator: SimulatorThread, tmp_path: Path) -> None:
    client = AmeyoClient(
        settings_for(simulator, tmp_path, AMEYO_BASE_URL="http://127.0.0.1:9"),
        transport=transport_of(simulator),
    )
    try:
        with pytest.raises(UpstreamUnavailable, match="unreachable"):
            await client.login()
    finally:
        await client.aclose()
    client = AmeyoClient(
        settings_for(simulator, tmp_path, AMEYO_BASE_URL=simulator.base_url + "/wrong"),
        transport=transport_of(simulator),
    )
    try:
        with pytest.raises(UpstreamUnavailable, match="404"):
            await client.login()
    finally:
        await client.aclose()


async def test_token_authentication(simulator: SimulatorThread, tmp_path: Path) -> None:
    token = {"AMEYO_HASH_KEY": "simulator-hash-key", "AMEYO_REQUESTING_HOST": "crm.example"}
    client = AmeyoClient(settings_for(simulator, tmp_path, **token), transport=transport_of(simulator))
    try:
        leads = await client.send(GetLeadsRequest(campaign_id=1))
    finally:
        await client.aclose()
    assert len(leads) == 4
    bad = AmeyoClient(
        settings_for(simulator, tmp_path, **{**token, "AMEYO_HASH_KEY": "not-the-key"}),
        transport=transport_of(simulator),
    )
    try:
        with pytest.raises(AuthenticationFailed, match="AMEYO_HASH_KEY") as caught:
            await bad.send(GetLeadsRequest(campaign_id=1))
    finally:
        await bad.aclose()
    assert "not-the-key" not in str(caught.value)


UPLOAD_ANSWERS = [
    b'{"beanResponse":[{"inserted":true,"customerId":7,"resultTypeString":"ADDED","crmIntegrated":true}]}',
    b' [{"Inserted":false,"exception":["k\\\\",\\\\"phone1\\\\""],"resultTypeString":"FAILED"},'
    b'{"isInserted":"true"}]',
    b'{"BeanResponse":{"inserted":true,"customerId":"8","resultTypeString":"UPDATED"}}',
    b'{"beanResponse":null}',
    b'{"beanResponse":[],"status":"error","reason":"invalid session id"}',
    b'{"status":"error","reason":"no such campaign"}',
    b'{"result":"failure","comment":"LeadNotInCamp.lead.not.in.camp,21"}',
    b'{"beanResponse":[{"customerId":"x"}]}',
    b'{"beanResponse":[{"inserted":true}], "more": 1}',
    b"null",
    b"[1, 2]",
    b"<html>proxy error</html>",
]


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("body", UPLOAD_ANSWERS)
async def test_an_upload_answer_read_from_its_bytes_is_read_as_before(
    simulator: Simulator, settings: Settings, body: bytes, status: int
) -> None:
    """Upload answers are validated straight from the bytes when they are plainly rows; every answer
    (rows, error shapes, garbage) must come out as the general reading makes it."""
    import httpx

    from ameyo_mcp.ameyo.models import RecordResult, Reply

    # The same rows, read the general way only: decoded, checked for errors, then validated.
    general_reading = Reply(lambda: list[RecordResult], rows=True)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    client = AmeyoClient(settings, transport=httpx.MockTransport(answer))
    request = UploadContactsRequest(
        session_id="s", campaign_id="1", lead_id=1, properties={}, customer_records=[{"phone1": "9812300001"}]
    )
    try:
        try:
            fast: object = await client.send(request)
        except Exception as exc:
            fast = (type(exc), str(exc), getattr(exc, "outcome_unknown", None))
        try:
            general: object = await client.send(request, general_reading)
        except Exception as exc:
            general = (type(exc), str(exc), getattr(exc, "outcome_unknown", None))
    finally:
        await client.aclose()
    assert fast == general
