"""The one living session: single-flight login, reuse across restarts, keepalive, retries, secrecy."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import anyio
import pytest

from ameyo_mcp.ameyo.models import AddCallbackRequest, GetContactsRequest, UploadContactsRequest
from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.errors import AuthenticationFailed, UpstreamTimeout
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import ameyo_of, settings_for

pytestmark = pytest.mark.anyio


def contacts_request() -> GetContactsRequest:
    return GetContactsRequest(campaign_id=1, limit_offset="LIMIT 5")


async def test_fifty_concurrent_calls_on_an_expired_session_log_in_once(
    ameyo: Ameyo, simulator: SimulatorThread
) -> None:
    await ameyo.get_contacts(contacts_request())
    assert simulator.state.logins == 1
    simulator.state.expire_all_sessions()
    results = await asyncio.gather(*(ameyo.get_contacts(contacts_request()) for _ in range(50)))
    assert all(len(r) == 5 for r in results)
    assert simulator.state.logins == 2


async def test_fifty_concurrent_first_calls_log_in_once(ameyo: Ameyo, simulator: SimulatorThread) -> None:
    await asyncio.gather(*(ameyo.get_contacts(contacts_request()) for _ in range(50)))
    assert simulator.state.logins == 1


async def test_restart_with_a_live_session_in_the_lease_costs_no_login(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    first = ameyo_of(simulator, settings)
    await first.get_contacts(contacts_request())
    await first.aclose(logout=False)  # the process died: no clean logout
    second = ameyo_of(simulator, settings)
    try:
        await second.get_contacts(contacts_request())
        assert second.session.reused_sessions == 1 and second.session.logins == 0
    finally:
        await second.aclose(logout=True)
    assert simulator.state.logins == 1 and simulator.state.logouts == 1
    assert simulator.state.live_sessions() == []  # logged out: nothing stale left behind
    assert not (tmp_path / "session.json").exists()  # the lease replaced the cache file


async def test_a_session_file_of_an_earlier_version_is_taken_up_once(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = settings_for(simulator, tmp_path)
    cache = tmp_path / "session.json"
    # What earlier versions left: the live session of a clean shutdown, owner-only.
    earlier = ameyo_of(simulator, settings)
    info = await earlier.client.login()
    await earlier.client.aclose()
    cache.write_text(
        json.dumps(
            {
                "base_url": settings.base_url,
                "user_id": settings.user_id,
                "login": info.model_dump(mode="json", by_alias=True),
            }
        )
    )
    cache.chmod(0o600)
    first, second = ameyo_of(simulator, settings), ameyo_of(simulator, settings)
    try:
        await first.get_contacts(contacts_request())
        assert (first.session.logins, first.session.reused_sessions) == (0, 1)
        assert not cache.exists()  # read once, and never written again
        await second.get_contacts(contacts_request())  # from the lease, which took it up
        assert (second.session.logins, second.session.reused_sessions) == (0, 1)
    finally:
        await first.aclose()
        await second.aclose()
    assert simulator.state.logins == 1
    assert simulator.state.live_sessions() == [info.session_id]
    assert not cache.exists()


async def test_stale_cached_session_is_replaced(simulator: SimulatorThread, tmp_path: Path) -> None:
    settings = settings_for(simulator, tmp_path)
    first = ameyo_of(simulator, settings)
    await first.get_contacts(contacts_request())
    await first.aclose(logout=False)
    simulator.state.expire_all_sessions()
    second = ameyo_of(simulator, settings)
    try:
        await second.get_contacts(contacts_request())
    finally:
        await second.aclose()
    assert simulator.state.logins == 2


@pytest.mark.parametrize(
    "sim_config", [SimulatorConfig(session_timeout_ms=600, ping_interval_ms=150, contacts=20)], indirect=False
)
async def test_idle_session_is_kept_alive_then_released(simulator: SimulatorThread, tmp_path: Path) -> None:
    # Time is scaled down: the session dies after 0.6 s idle, pings every 0.15 s, idle limit 2 s.
    ameyo = ameyo_of(simulator, settings_for(simulator, tmp_path, AMEYO_IDLE_LIMIT_S="2"))
    try:
        await ameyo.get_contacts(contacts_request())
        await asyncio.sleep(1.5)  # 2.5 session lifetimes of idleness
        assert simulator.state.pings >= 4
        assert len(simulator.state.live_sessions()) == 1
        await ameyo.get_contacts(contacts_request())
        assert simulator.state.logins == 1
        await asyncio.sleep(2.6)  # past the idle limit
        assert simulator.state.live_sessions() == []
        assert simulator.state.logouts == 1 and ameyo.session.idle_releases == 1
        await ameyo.get_contacts(contacts_request())
        assert simulator.state.logins == 2
    finally:
        await ameyo.aclose()


@pytest.fixture
def sim_config(request: pytest.FixtureRequest) -> SimulatorConfig:
    return getattr(request, "param", None) or SimulatorConfig(contacts=50, password="pw-5ec2e7-simulated")


async def test_no_pings_while_calls_flow(ameyo: Ameyo, simulator: SimulatorThread) -> None:
    for _ in range(20):
        await ameyo.get_contacts(contacts_request())
    assert simulator.state.pings == 0


async def test_write_answered_invalid_session_runs_once_after_relogin(
    ameyo: Ameyo, simulator: SimulatorThread
) -> None:
    await ameyo.get_contacts(contacts_request())
    simulator.state.expire_all_sessions()
    results = await ameyo.send(
        UploadContactsRequest(
            campaign_id="1",
            lead_id=21,
            properties={"update.customer": False, "migrate.customer": False},
            customer_records=[{"phone1": "9876543210", "name": "Retry Once"}],
        )
    )
    assert [r.result_type for r in results] == ["ADDED"]
    assert simulator.state.logins == 2
    assert simulator.state.executed["uploadContacts"] == 1
    assert simulator.state.commands["uploadContacts"] == 2  # refused once, run once


@pytest.mark.network
async def test_write_that_timed_out_is_not_resent(simulator: SimulatorThread, tmp_path: Path) -> None:
    ameyo = ameyo_of(simulator, settings_for(simulator, tmp_path, AMEYO_TIMEOUT_S="0.5"))
    try:
        await ameyo.get_contacts(contacts_request())
        simulator.state.faults.commands = {"addCallback"}
        simulator.state.faults.delay_s = 1.0
        with pytest.raises(UpstreamTimeout) as caught:
            await ameyo.send(
                AddCallbackRequest(
                    campaign_id=1,
                    call_back_time="2030-05-31 15:30:00",
                    properties={"customerId": "12458", "phone": "0458681166572"},
                )
            )
        await asyncio.sleep(1.2)
    finally:
        await ameyo.aclose()
    assert caught.value.outcome_unknown
    assert simulator.state.commands["addCallback"] == 1
    assert simulator.state.executed["addCallback"] == 1


async def test_wrong_password_is_not_retried_in_a_loop(simulator: SimulatorThread, tmp_path: Path) -> None:
    ameyo = ameyo_of(simulator, settings_for(simulator, tmp_path, AMEYO_PASSWORD="bad-password-123"))
    try:
        for _ in range(3):
            with pytest.raises(AuthenticationFailed, match="AMEYO_PASSWORD"):
                await ameyo.get_contacts(contacts_request())
    finally:
        await ameyo.aclose()
    assert simulator.state.failed_logins == 1


@pytest.mark.parametrize(
    ("env", "logs_out"),
    [
        ({}, False),  # the document's flow: the session waits in the lease for the next start
        ({"AMEYO_LOGOUT_ON_EXIT": "true"}, True),  # the only process using it
        # No store to share it through: nobody could take it up, so the seat is freed.
        ({"AMEYO_DATABASE_URL": "{tmp}"}, True),
    ],
)
async def test_clean_shutdown(
    simulator: SimulatorThread, tmp_path: Path, env: dict[str, str], logs_out: bool
) -> None:
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    ameyo = ameyo_of(simulator, settings_for(simulator, tmp_path, **env))
    await ameyo.get_contacts(contacts_request())
    assert ameyo.session.shared is ("AMEYO_DATABASE_URL" not in env)
    await ameyo.aclose()
    assert simulator.state.logouts == int(logs_out)
    assert len(simulator.state.live_sessions()) == int(not logs_out)
    assert not (tmp_path / "session.json").exists()


async def test_no_secret_in_logs_at_debug(
    simulator: SimulatorThread, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_for(simulator, tmp_path)
    ameyo = ameyo_of(simulator, settings)
    sessions: list[str] = []
    try:
        await ameyo.get_contacts(contacts_request())
        sessions += simulator.state.live_sessions()
        simulator.state.expire_all_sessions()
        await ameyo.get_contacts(contacts_request())
        sessions += simulator.state.live_sessions()
        await ameyo.session.ping()
    finally:
        await ameyo.aclose(logout=True)  # else the next user would take up the session in the lease
    bad = ameyo_of(simulator, settings_for(simulator, tmp_path, AMEYO_PASSWORD="another-secret-pw"))
    try:
        with pytest.raises(AuthenticationFailed):
            await bad.get_contacts(contacts_request())
    finally:
        await bad.aclose()
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert len(sessions) == 2 and caplog.records
    for secret in (*sessions, "pw-5ec2e7-simulated", "another-secret-pw"):
        assert secret not in logged
    assert "pw-5ec2e7" not in repr(settings) and "another-secret-pw" not in repr(bad.settings)


@pytest.mark.parametrize("shared", [True, False])
async def test_a_call_cancelled_during_its_login_leaves_the_session_for_the_next(
    simulator: SimulatorThread, tmp_path: Path, shared: bool
) -> None:
    """Ameyo logged in (a seat taken) but the call that asked for it was given up on before the
    answer came: the session is still taken up (and published in the lease), not left for Ameyo to
    time out while the next call takes a second seat. With or without a store to share it through."""
    env = {} if shared else {"AMEYO_DATABASE_URL": str(tmp_path)}  # a folder: no usable store
    ameyo = ameyo_of(simulator, settings_for(simulator, tmp_path, **env))
    simulator.state.faults.commands = {"login"}
    simulator.state.faults.delay_s = 0.4
    try:
        with anyio.move_on_after(0.1):
            await ameyo.get_contacts(contacts_request())
        simulator.state.faults.reset()
        await asyncio.sleep(0.5)  # the login's answer arrives meanwhile
        await ameyo.get_contacts(contacts_request())
        assert ameyo.session.shared is shared
    finally:
        await ameyo.aclose(logout=False)
    assert simulator.state.logins == 1
    assert len(simulator.state.live_sessions()) == 1
