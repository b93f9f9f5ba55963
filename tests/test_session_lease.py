"""One Ameyo session for every process on one store: the session lease.

Several `Ameyo` objects stand for several processes (each with its own session manager and its own
connection to the store) on one SQLite file or one PostgreSQL database, against one simulator; the
last tests run real `ameyo-mcp` processes. A licensed seat per process, or a login attempt per
process after a refused password, is what these tests keep from coming back. Time is the subject of
the keepalive, idle and back-off tests: they move a clock the processes share by hand.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from ameyo_mcp.ameyo.models import GetContactsRequest
from ameyo_mcp.ameyo.sealing import Sealer
from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.errors import AuthenticationFailed, StoreError
from ameyo_mcp.rules.owners import machine
from ameyo_mcp.server.page.status import Serving, Status
from ameyo_mcp.store import Store
from ameyo_mcp.store.lease import LeaseKey
from tests.conftest import Simulator, http_process, server_of, settings_for, text_of, transport_of
from tests.test_ledger_everywhere import env_for

pytestmark = pytest.mark.anyio


class Clock:
    """Seconds since the epoch, moved by hand; shared by the processes of a test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def contacts() -> GetContactsRequest:
    return GetContactsRequest(campaign_id=1, limit_offset="LIMIT 5")


@asynccontextmanager
async def processes(
    sim: Simulator,
    tmp_path: Path,
    database_url: str,
    count: int = 3,
    *,
    clock: Callable[[], float] = time.time,
    store: Callable[[], Store] | None = None,
    **env: str,
) -> AsyncIterator[list[Ameyo]]:
    """`count` processes of one deployment: one settings, one store, one Ameyo server."""
    settings = settings_for(sim, tmp_path, AMEYO_DATABASE_URL=database_url, **env)
    group = [Ameyo(settings, transport=transport_of(sim), wall=clock, store=store) for _ in range(count)]
    try:
        yield group
    finally:
        for ameyo in group:
            await ameyo.aclose()


async def calls(group: list[Ameyo], each: int) -> list[Any]:
    """`each` concurrent lookups in every process at once."""
    return await asyncio.gather(*(a.get_contacts(contacts()) for a in group for _ in range(each)))


def key_of(sim: Simulator) -> LeaseKey:
    return LeaseKey(sim.base_url, sim.state.config.user_id)


# -- one login, one renewal, one refusal --------------------------------------------------------


async def test_many_concurrent_calls_across_processes_log_in_once(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    async with processes(simulator, tmp_path, database_url) as group:
        results = await calls(group, 20)
        assert all(len(r) == 5 for r in results)
        assert simulator.state.logins == 1
        assert sum(a.session.logins for a in group) == 1
        assert sum(a.session.reused_sessions for a in group) == 2  # the others took it up
        assert all(a.session.shared for a in group)
        assert len(simulator.state.live_sessions()) == 1


async def test_an_expired_session_is_renewed_with_one_login_for_all(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    async with processes(simulator, tmp_path, database_url) as group:
        await calls(group, 1)
        assert simulator.state.expire_all_sessions() == 1
        results = await calls(group, 20)
        assert all(len(r) == 5 for r in results)
        assert simulator.state.logins == 2
        assert sum(a.session.logins for a in group) == 2
        lease = group[0].store().session_lease(key_of(simulator))
        assert lease is not None and lease.generation == 2 and lease.invalidated_at is not None


async def test_a_process_late_to_meet_the_dead_session_does_not_end_the_new_one(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    async with processes(simulator, tmp_path, database_url, 2) as (first, late):
        await first.get_contacts(contacts())
        await late.get_contacts(contacts())
        simulator.state.expire_all_sessions()
        await first.get_contacts(contacts())  # renews: the lease holds the new session
        assert simulator.state.logins == 2
        # `late` still holds the dead session; Ameyo refuses it, and the lease, holding another
        # session by now, is left alone (compare-and-set): `late` takes the new one up.
        await late.get_contacts(contacts())
        assert simulator.state.logins == 2 and late.session.logins == 0
        assert late.session.reused_sessions == 2
        assert len(simulator.state.live_sessions()) == 1


async def test_a_session_nobody_used_for_a_while_is_checked_before_it_is_taken_up(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    clock = Clock()
    interval = simulator.state.config.ping_interval_ms / 1000
    async with processes(simulator, tmp_path, database_url, 1, clock=clock) as (earlier,):
        await earlier.get_contacts(contacts())
    # Fresh in the lease: taken on trust, no ping.
    clock.advance(interval / 2)
    async with processes(simulator, tmp_path, database_url, 1, clock=clock) as (fresh,):
        await fresh.session.login()
        assert (fresh.session.reused_sessions, simulator.state.pings) == (1, 0)
    # Ameyo ended it meanwhile, and nobody has used it for over a ping interval: `ameyo_login` must
    # not show as live a session Ameyo no longer knows.
    simulator.state.expire_all_sessions()
    clock.advance(interval * 2)
    async with processes(simulator, tmp_path, database_url, 1, clock=clock) as (later,):
        info = await later.session.login()
        assert later.session.logins == 1 and simulator.state.logins == 2
        assert simulator.state.live_sessions() == [info.session_id]


async def test_a_refused_password_is_tried_once_for_all_within_the_back_off(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    clock = Clock()
    async with processes(
        simulator, tmp_path, database_url, clock=clock, AMEYO_PASSWORD="not-the-password"
    ) as group:
        # 30 calls in 10 s across 3 processes.
        for _ in range(10):
            outcomes = await asyncio.gather(
                *(a.get_contacts(contacts()) for a in group), return_exceptions=True
            )
            assert all(isinstance(o, AuthenticationFailed) for o in outcomes), outcomes
            assert all("AMEYO_PASSWORD" in str(o) for o in outcomes)
            clock.advance(1)
        assert simulator.state.failed_logins == 1
        assert "not-the-password" not in "".join(str(o) for o in outcomes)
        clock.advance(51)  # the back-off is over: one process tries again, for all
        await asyncio.gather(*(a.get_contacts(contacts()) for a in group), return_exceptions=True)
        assert simulator.state.failed_logins == 2


async def test_the_back_off_holds_for_a_process_that_starts_during_it(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    async with processes(simulator, tmp_path, database_url, 1, AMEYO_PASSWORD="not-the-password") as (first,):
        with pytest.raises(AuthenticationFailed):
            await first.get_contacts(contacts())
    async with processes(simulator, tmp_path, database_url, 1, AMEYO_PASSWORD="not-the-password") as (later,):
        with pytest.raises(AuthenticationFailed, match="No process on this store tries to log in again"):
            await later.get_contacts(contacts())
    assert simulator.state.failed_logins == 1


async def test_a_refusal_holds_back_only_the_processes_given_the_same_credentials(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    wrong = {"AMEYO_PASSWORD": "not-the-password"}
    async with (
        processes(simulator, tmp_path, database_url, 2, **wrong) as (first, second),
        processes(simulator, tmp_path, database_url, 1) as (fixed,),
    ):
        with pytest.raises(AuthenticationFailed):
            await first.get_contacts(contacts())
        with pytest.raises(AuthenticationFailed, match="No process on this store tries"):
            await second.get_contacts(contacts())
        assert second.session.ready() == "login refused"
        # A process given the right password (the fix rolled out to it first) is not held back.
        await fixed.get_contacts(contacts())
    assert (simulator.state.failed_logins, simulator.state.logins) == (1, 1)


# -- the login turn --------------------------------------------------------------------------------


async def test_a_login_turn_left_by_a_dead_process_is_taken_over_at_once(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    dead = f"{machine()}:{_dead_pid()}:0000"  # a process of this host that no longer runs
    async with processes(simulator, tmp_path, database_url, 1) as (ameyo,):
        take = ameyo.store().take_session(
            key_of(simulator),
            dead,
            time.time(),
            login_s=600,
            grace=5,
            unusable=None,
            alive=lambda _: True,
            credentials="x",
        )
        assert take.kind == "login"
        with anyio.fail_after(5):
            await ameyo.get_contacts(contacts())
        assert ameyo.session.logins == 1 and ameyo.session.waits == 0


async def test_a_login_turn_held_elsewhere_is_waited_for_until_it_ends(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    clock = Clock()
    elsewhere = "another-host/1234abcd:77:0000"  # its liveness cannot be told from here
    async with processes(simulator, tmp_path, database_url, 1, clock=clock) as (ameyo,):
        ameyo.store().take_session(
            key_of(simulator),
            elsewhere,
            clock(),
            login_s=10,
            grace=5,
            unusable=None,
            alive=lambda _: True,
            credentials="x",
        )
        call = asyncio.ensure_future(ameyo.get_contacts(contacts()))
        with anyio.fail_after(10):  # (a loaded machine may take a while to get the call there)
            while ameyo.session.waits == 0:  # noqa: ASYNC110 - a counter the session keeps
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        assert not call.done() and simulator.state.logins == 0 and ameyo.session.waits == 1
        clock.advance(11)  # its turn ended without a session
        with anyio.fail_after(5):
            await call
        assert simulator.state.logins == 1


# -- keepalive, idle release, logout, shutdown -------------------------------------------------------


async def test_one_process_pings_at_a_time(simulator: Simulator, tmp_path: Path, database_url: str) -> None:
    clock = Clock()
    async with processes(simulator, tmp_path, database_url, clock=clock) as group:
        await calls(group, 1)
        interval = simulator.state.config.ping_interval_ms / 1000
        for ameyo in group:
            await ameyo.session.keep_alive()
        assert simulator.state.pings == 0  # not due yet
        for round_ in (1, 2):
            clock.advance(interval + 1)
            await asyncio.gather(*(a.session.keep_alive() for a in group))
            assert simulator.state.pings == round_
        assert sum(a.session.pings for a in group) == 2
        # A use by any process puts the next ping off for all.
        clock.advance(interval - 1)
        await group[2].get_contacts(contacts())
        await _recorded(group[2])
        clock.advance(2)
        await asyncio.gather(*(a.session.keep_alive() for a in group))
        assert simulator.state.pings == 2
        assert simulator.state.logins == 1


@asynccontextmanager
async def a_failed_ping(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[list[Ameyo], Clock, Status, float]]:
    """Two processes sharing a session whose keepalive ping, due, Ameyo did not answer; with the
    operator page's status on their store, their clock and the ping interval."""
    clock = Clock()
    async with processes(simulator, tmp_path, database_url, 2, clock=clock) as group:
        await calls(group, 1)
        interval = simulator.state.config.ping_interval_ms / 1000
        page = Status(group[0].settings, Serving("stdio", None, _ready), ttl_s=0, clock=clock)
        try:
            clock.advance(interval + 1)
            faults = simulator.state.faults
            faults.commands, faults.html_502 = {"ping-session"}, 1
            await asyncio.gather(*(a.session.keep_alive() for a in group))
            assert faults.html_502 == 0 and simulator.state.pings == 0
            yield group, clock, page, interval
        finally:
            page.close()


async def test_a_failed_ping_is_told_as_failed_and_tried_again_an_interval_later(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    async with a_failed_ping(simulator, tmp_path, database_url) as (group, clock, page, interval):
        shown = (await page())["ameyo"]
        assert shown["last_ping"] is None and shown["ping_failed"]["ago"] == "just now", shown
        # The failed try puts the next one an interval off, for every process, and the session
        # stays: Ameyo did not say it was gone.
        clock.advance(interval - 1)
        await asyncio.gather(*(a.session.keep_alive() for a in group))
        assert simulator.state.pings == 0
        clock.advance(2)
        await asyncio.gather(*(a.session.keep_alive() for a in group))
        assert simulator.state.pings == 1 and simulator.state.logins == 1
        shown = (await page())["ameyo"]
        assert shown["last_ping"]["ago"] == "just now" and shown["ping_failed"] is None, shown


async def test_a_failed_ping_is_not_told_of_a_session_logged_out_or_logged_in_since(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    """The page said 'Ameyo did not answer the last keepalive ping; the next is tried a ping
    interval later' with no session held (logged out, released when idle), and of a session logged
    in after it by a process of the previous version, whose login leaves ping_failed_at as it was."""
    async with a_failed_ping(simulator, tmp_path, database_url) as (group, clock, page, interval):
        assert (await page())["ameyo"]["ping_failed"] is not None
        assert await group[0].session.logout()
        shown = (await page())["ameyo"]
        assert shown["seats"] == 0 and shown["ping_failed"] is None, shown
        # A version 16 process logs in: its lease write (store.lease.publish) had no
        # ping_failed_at to clear, so the failed try of the session before stays.
        clock.advance(interval + 1)
        failed_at = clock()
        await calls(group, 1)
        with group[0].store()._tx() as tx:
            tx.run("UPDATE session_lease SET ping_failed_at = ?", (failed_at - interval,))
        shown = (await page())["ameyo"]
        assert shown["seats"] == 1 and shown["last_ping"] is None and shown["ping_failed"] is None, shown


async def test_a_ping_the_tool_asks_for_is_the_sessions_last_ping(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    """The operator's page shows the lease's last ping: one asked for by ameyo_ping_session counts
    (and puts every process's keepalive ping an interval off), as a keepalive's does."""
    settings = settings_for(simulator, tmp_path, AMEYO_DATABASE_URL=database_url)
    async with Client(server_of(simulator, settings)) as client:
        await client.call_tool("ameyo_login", {})
        ping = await client.call_tool("ameyo_ping_session", {})
        assert not ping.is_error and simulator.state.pings == 1, text_of(ping)
        with Store(database_url) as store:
            lease = store.session_lease(key_of(simulator))
        assert lease is not None and lease.last_ping_at is not None and not lease.ping_failed, lease
        # One Ameyo did not answer is a failed try, not the last ping.
        faults = simulator.state.faults
        faults.commands, faults.html_502 = {"ping-session"}, 1
        failed = await client.call_tool("ameyo_ping_session", {})
        assert failed.is_error and faults.html_502 == 0, text_of(failed)
        with Store(database_url) as store:
            after = store.session_lease(key_of(simulator))
    assert after is not None and after.ping_failed and after.last_ping_at == lease.last_ping_at, after


async def _ready() -> dict[str, object]:
    return {"ready": True, "draining": False}


async def test_idle_release_acts_for_all(simulator: Simulator, tmp_path: Path, database_url: str) -> None:
    clock = Clock()
    async with processes(simulator, tmp_path, database_url, clock=clock, AMEYO_IDLE_LIMIT_S="100") as group:
        await calls(group, 1)
        clock.advance(60)
        await group[1].get_contacts(contacts())  # one process's use keeps it for all
        await _recorded(group[1])
        clock.advance(60)
        await asyncio.gather(*(a.session.keep_alive() for a in group))
        assert simulator.state.logouts == 0 and all(a.session.active for a in group)
        clock.advance(41)
        await asyncio.gather(*(a.session.keep_alive() for a in group))
        assert simulator.state.logouts == 1 and simulator.state.live_sessions() == []
        assert sum(a.session.idle_releases for a in group) == 1
        await asyncio.gather(*(a.session.keep_alive() for a in group))  # the others' next look
        assert not any(a.session.active for a in group)  # they let go of it, without a logout
        assert simulator.state.logouts == 1
        await calls(group, 5)
        assert simulator.state.logins == 2


async def test_logout_ends_the_session_for_all(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    async with processes(simulator, tmp_path, database_url) as group:
        await calls(group, 1)
        assert await group[0].session.logout()
        assert simulator.state.logouts == 1 and simulator.state.live_sessions() == []
        assert group[0].session.logout_failure is None
        await asyncio.gather(*(a.session.keep_alive() for a in group[1:]))
        assert not any(a.session.active for a in group)
        # A process that never held it ends it too: the lease says which session it is.
        await calls(group[:2], 10)
        assert simulator.state.logins == 2
        async with processes(simulator, tmp_path, database_url, 1) as (stranger,):
            assert await stranger.session.logout()
        assert simulator.state.logouts == 2 and simulator.state.live_sessions() == []
        await calls(group, 10)
        assert simulator.state.logins == 3


@pytest.mark.parametrize("logout_on_exit", ["false", "true"])
async def test_a_shutdown_never_logs_the_others_out(
    simulator: Simulator, tmp_path: Path, database_url: str, logout_on_exit: str
) -> None:
    async with processes(simulator, tmp_path, database_url, AMEYO_LOGOUT_ON_EXIT=logout_on_exit) as group:
        await calls(group, 1)
        for ameyo in group[:2]:
            await ameyo.aclose()
            assert simulator.state.logouts == 0 and ameyo.session.left_to
        await group[2].get_contacts(contacts())
        assert simulator.state.logins == 1
        await group[2].aclose()
        assert len(group[2].session.left_to) == 0
    # The last one out logs out when asked to; otherwise the session waits for the next start.
    assert simulator.state.logouts == (1 if logout_on_exit == "true" else 0)
    async with processes(simulator, tmp_path, database_url, 1) as (next_start,):
        await next_start.get_contacts(contacts())
        assert next_start.session.reused_sessions == (0 if logout_on_exit == "true" else 1)


# -- what the store holds ----------------------------------------------------------------------------


async def test_the_store_never_holds_the_session_id_in_clear(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    seen: set[str] = set()
    async with processes(simulator, tmp_path, database_url, 2) as group:
        await calls(group, 2)
        seen.update(simulator.state.live_sessions())
        simulator.state.expire_all_sessions()
        await calls(group, 2)
        seen.update(simulator.state.live_sessions())
        lease = group[0].store().session_lease(key_of(simulator))
        assert lease is not None and lease.sealed is not None and lease.generation == 2
        held = _store_text(database_url, tmp_path)
    assert len(seen) == 2
    assert "session_lease" in held or lease.sealed in held  # the dump is of the right place
    for session_id in seen:
        assert session_id not in held
        assert session_id.split("-ses-")[1] not in held  # nor its distinctive part


async def test_a_lease_sealed_with_another_key_is_no_session(
    simulator: Simulator, tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with (
        processes(
            simulator, tmp_path, database_url, 1, AMEYO_SECRET_KEY="first-secret-key-0123456789-0123456789"
        ) as (one,),
        processes(
            simulator, tmp_path, database_url, 1, AMEYO_SECRET_KEY="other-secret-key-4567890123-4567890123"
        ) as (two,),
    ):
        await one.get_contacts(contacts())
        await two.get_contacts(contacts())
        assert (one.session.logins, two.session.logins) == (1, 1)
    assert "sealed with another key" in caplog.text
    assert "first-secret-key" not in caplog.text and "other-secret-key" not in caplog.text


async def test_processes_given_the_secret_key_share_the_session_and_others_cannot_open_it(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    key = "shared-secret-key-0123456789-0123456789"
    async with processes(simulator, tmp_path, database_url, 2, AMEYO_SECRET_KEY=key) as group:
        await calls(group, 3)
        assert simulator.state.logins == 1
        # Keyed by the password instead, a process cannot open the session: it logs in anew.
        async with processes(simulator, tmp_path, database_url, 1) as (unkeyed,):
            await unkeyed.get_contacts(contacts())
            assert unkeyed.session.logins == 1
        assert simulator.state.logins == 2


async def test_a_sealed_session_opens_only_for_its_server_and_user(
    simulator: Simulator, tmp_path: Path
) -> None:
    key = {"AMEYO_SECRET_KEY": "shared-secret-key-0123456789-0123456789"}
    settings = settings_for(simulator, tmp_path, **key)
    ameyo = Ameyo(settings, transport=transport_of(simulator))
    try:
        info = await ameyo.session.login()
    finally:
        await ameyo.aclose()
    sealed = Sealer(settings).seal(info)
    assert info.session_id not in sealed and Sealer(settings).open(sealed) == info
    assert Sealer(settings).open(sealed[:-4] + "AAAA") is None  # tampered with
    for other in ({"AMEYO_USER_ID": "Supervisor"}, {"AMEYO_BASE_URL": "http://ameyo-two.invalid"}):
        assert Sealer(settings_for(simulator, tmp_path, **key, **other)).open(sealed) is None
    assert Sealer(settings_for(simulator, tmp_path)).open(sealed) is None  # keyed by the password


# -- the store down ----------------------------------------------------------------------------------


class Unreachable(Store):
    """A store that can be switched off, as a database that stops answering."""

    down = False

    @contextmanager
    def _held(self, wait: bool) -> Any:
        if self.down:
            raise StoreError(f"The index database {self.where} cannot be reached (switched off by the test)")
        with super()._held(wait) as held:
            yield held


async def test_lookups_work_with_the_store_down_and_the_session_is_shared_once_it_is_back(
    simulator: Simulator, tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    flaky = Unreachable(database_url)
    flaky.down = True
    async with (
        processes(simulator, tmp_path, database_url, 1) as (steady,),
        processes(simulator, tmp_path, database_url, 1, store=lambda: flaky) as (cut_off,),
    ):
        await steady.get_contacts(contacts())
        for _ in range(3):
            assert len(await cut_off.get_contacts(contacts())) == 5
        assert not cut_off.session.shared and cut_off.session.logins == 1
        assert caplog.text.count("cannot be shared through the store") == 1  # said once
        assert len(simulator.state.live_sessions()) == 2  # one seat more while the store is down
        flaky.down = False
        await cut_off.session.keep_alive()  # it takes the shared session and ends its own
        assert cut_off.session.shared and simulator.state.logouts == 1
        assert len(simulator.state.live_sessions()) == 1
        await cut_off.get_contacts(contacts())
        assert simulator.state.logins == 2
    flaky.close()


async def _a_process_started_now_takes_it_up(simulator: Simulator, tmp_path: Path, database_url: str) -> None:
    """A process started now uses the session the lease holds, without a login of its own."""
    async with processes(simulator, tmp_path, database_url, 1) as (second,):
        await second.get_contacts(contacts())
        assert second.session.reused_sessions == 1


async def test_a_session_of_its_own_is_handed_to_the_lease_when_the_store_is_back(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    flaky = Unreachable(database_url)
    flaky.down = True
    async with processes(simulator, tmp_path, database_url, 1, store=lambda: flaky) as (first,):
        await first.get_contacts(contacts())
        flaky.down = False
        await first.session.keep_alive()
        assert first.session.shared
        await _a_process_started_now_takes_it_up(simulator, tmp_path, database_url)
    assert simulator.state.logins == 1
    flaky.close()


async def test_a_session_ameyo_called_gone_while_the_store_was_down_is_dropped_when_it_is_back(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    flaky = Unreachable(database_url)
    async with processes(simulator, tmp_path, database_url, 1, store=lambda: flaky) as (first,):
        await first.get_contacts(contacts())
        assert first.session.shared and simulator.state.logins == 1
        flaky.down = True
        simulator.state.expire_all_sessions()
        await first.get_contacts(contacts())  # "invalid session": the store cannot be told
        assert not first.session.shared and simulator.state.logins == 2
        own = simulator.state.live_sessions()
        flaky.down = False
        # The lease still holds the session Ameyo called gone, fresh by its clock: it is dropped,
        # and the live session of this process is the one handed to the lease.
        await first.session.keep_alive()
        assert first.session.shared
        assert simulator.state.logouts == 0 and simulator.state.live_sessions() == own
        await first.get_contacts(contacts())
        await _a_process_started_now_takes_it_up(simulator, tmp_path, database_url)
    assert simulator.state.logins == 2
    flaky.close()


async def test_a_process_back_from_a_store_outage_checks_the_lease_session_before_ending_its_own(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    clock = Clock()
    interval = simulator.state.config.ping_interval_ms / 1000
    async with processes(simulator, tmp_path, database_url, 1, clock=clock) as (earlier,):
        await earlier.get_contacts(contacts())
    # Ameyo ended the session left in the lease, and nobody has used it for over a ping interval.
    simulator.state.expire_all_sessions()
    clock.advance(interval * 2)
    flaky = Unreachable(database_url)
    flaky.down = True
    async with processes(simulator, tmp_path, database_url, 1, clock=clock, store=lambda: flaky) as (late,):
        await late.get_contacts(contacts())  # a session of its own
        own = simulator.state.live_sessions()
        flaky.down = False
        await late.session.keep_alive()  # pings the lease's session, finds it gone, publishes its own
        assert late.session.shared and late.session.reused_sessions == 0
        assert simulator.state.logouts == 0 and simulator.state.live_sessions() == own
    assert simulator.state.logins == 2
    flaky.close()


# -- real processes ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.network
async def test_two_server_processes_and_the_cli_on_one_store_log_in_once(
    simulator: Simulator, tmp_path: Path, database_url: str
) -> None:
    env = env_for(simulator, tmp_path, database_url)  # type: ignore[arg-type]
    with http_process(env, tmp_path) as (one, first), http_process(env, tmp_path) as (two, _):
        async with Client(one) as a, Client(two) as b:

            async def ask(client: Client) -> None:
                for _ in range(3):
                    done = await client.call_tool("ameyo_list_campaigns", {})
                    assert not done.is_error, text_of(done)

            async with anyio.create_task_group() as group:
                for client in (a, b, a, b):
                    group.start_soon(ask, client)
            assert simulator.state.logins == 1
            # `check` beside them takes the same session up, and leaves it to them.
            check = await anyio.run_process(
                [sys.executable, "-m", "ameyo_mcp", "check"], env=env, check=False
            )
            said = check.stdout.decode()
            assert check.returncode == 0, said + check.stderr.decode()
            assert "the session stays with the 2 other processes using it" in said, said
            assert simulator.state.logins == 1 and simulator.state.logouts == 0
        # One server stops: the other goes on with the same session.
        first.terminate()
        await anyio.to_thread.run_sync(lambda: first.wait(timeout=10))
        async with Client(two) as b:
            done = await b.call_tool("ameyo_get_leads", {"campaign": 1})
            assert not done.is_error, text_of(done)
    assert simulator.state.logins == 1 and simulator.state.logouts == 0
    assert len(simulator.state.live_sessions()) == 1


# -- helpers ---------------------------------------------------------------------------------------


async def _recorded(ameyo: Ameyo) -> None:
    """Wait until the process's last use is written to the lease (it is written in the background)."""
    task = ameyo.session._recording
    if task is not None:
        await task


def _dead_pid() -> int:
    pid = 2**22 - 1
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def _store_text(database_url: str, tmp_path: Path) -> str:
    """Everything the store holds, as text: the SQLite files' bytes, or PostgreSQL's lease tables."""
    if not database_url.startswith("postgresql"):
        folder = Path(database_url).parent
        return b"".join(p.read_bytes() for p in folder.iterdir() if p.is_file()).decode("latin-1")
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = [
            *conn.execute("SELECT 'session_lease', * FROM session_lease").fetchall(),
            *conn.execute("SELECT 'session_users', * FROM session_users").fetchall(),
            *conn.execute("SELECT 'write_ledger', * FROM write_ledger").fetchall(),
        ]
    return repr(rows)
