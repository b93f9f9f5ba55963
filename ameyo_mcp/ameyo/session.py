"""SessionManager: one Ameyo session for every process on one store.

Customer Manager users are licensed seats, so the processes of a deployment (server replicas on one
PostgreSQL, the CLI beside a server on one SQLite file) share one session, kept in the store's
session lease (`store/lease.py`), its id sealed (`sealing.py`):

- A process that finds a live session in the lease uses it. One that finds none takes the turn to
  log in for everyone, for a short time, while the others wait and then use the session it
  publishes; within a process one coroutine asks and the others wait for it.
- "Invalid session": the first process to meet it drops it from the lease, only if the lease still
  holds that session (compare-and-set on its generation), and logs in once for all. One that meets
  it while the store cannot be used remembers it, and drops it alike before it next takes anything
  from the lease: the lease never hands back a session Ameyo told this process was gone.
- A refused login stops every process from trying again for AUTH_FAILURE_COOLDOWN_S.
- Keepalive: each process looks at the lease once a ping interval; a ping goes out only when no
  process has used or pinged the session for an interval, from the one process that claims it.
- Idle release (no process used it for AMEYO_IDLE_LIMIT_S) and `logout` (ameyo_logout) end the
  shared session for all; the others let go of it at their next look or call.
- A shutdown never ends a session others use: with AMEYO_LOGOUT_ON_EXIT the last process using it
  logs it out; otherwise it stays in the lease for the next start (Ameyo ends it after its own
  inactivity timeout).
- While the store cannot be used, a process keeps a session of its own (a warning says so, once),
  logs it out on exit since nobody else could take it up, and hands it to the lease once the store
  is back, unless the lease holds a session that passes the check any taken up passes and is not
  one Ameyo told it was gone: that one is used, and its own logged out. Lookups keep working; only
  the one-seat guarantee waits for the store.
- A session cached by earlier versions in AMEYO_SESSION_FILE is read once, when a login would
  otherwise be needed, and taken up if Ameyo still knows it; the file is removed, never written.

Token authentication (AMEYO_HASH_KEY) needs no session and none of this. Nothing here ever hands
the session id to a caller outside the package.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from ..config import Settings
from ..errors import AmeyoError, AuthenticationFailed, InvalidSession, StoreBusy, StoreError
from ..rules.owners import new_owner, owner_alive
from .client import AmeyoClient
from .models import LoginInfo, PingResult
from .sealing import Sealer

if TYPE_CHECKING:
    from ..store import Store
    from ..store.lease import Lease, LeaseKey, Take

# What the lease tells a process asking for the session (store/lease.py's `Take.kind`; the store
# is not imported before a session is needed: start-up does not pay for it).
SESSION, LOGIN, WAIT, REFUSED = "session", "login", "wait", "refused"
# How `verify_login` proved the credentials.
PROVED_SHARED, PROVED_LOGIN, PROVED_OWN = "shared", "login", "own"

log = logging.getLogger(__name__)

T = TypeVar("T")

# After a refused login, no process on the store tries again for this long, instead of hammering
# Ameyo (and risking a locked account) with the same wrong password on every tool call.
AUTH_FAILURE_COOLDOWN_S = 60.0
# A command that found no Ameyo to connect to makes the session unobtainable for this long (or
# until a command is answered): readiness reflects it without trying Ameyo itself.
UNREACHABLE_S = 30.0
_LOGOUT_TIMEOUT_S = 5.0
# Renewals one command may wait for: each is a login, and a session that ends again at once that
# many times is not one that the next renewal will keep.
RENEWALS_PER_CALL = 3
# A process records its use of the session in the lease at most this often (and at most every
# quarter ping interval): a store write per command would cost more than the command.
_TOUCH_EVERY_S = 5.0
# How often a process waiting for another's login looks at the lease: at first, and at most.
_POLL_FIRST_S, _POLL_LAST_S = 0.05, 0.5
# A process not seen for this long (nor for three ping intervals) no longer counts as using the lease.
_USER_STALE_S = 60.0
# Session managers of this process that have not shut down: an owner of this process is alive
# while it is here (several managers share a process in tests and benchmarks).
_OPEN_HERE: set[str] = set()


def _alive(owner: str) -> bool:
    return owner_alive(owner, here=_OPEN_HERE.__contains__)


class SessionManager:
    def __init__(
        self,
        client: AmeyoClient,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        store: Callable[[], Store] | None = None,
    ) -> None:
        """`clock`: seconds since the epoch, as every process on the store counts them (tests pass
        one they move by hand); `sleep` waits out the keepalive's looks. `store`: where the shared
        lease is, opened on first use; without it the session is this process's alone."""
        self.client = client
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._store = store
        self.owner = new_owner()
        _OPEN_HERE.add(self.owner)
        self._sealer = Sealer(settings)
        self.info: LoginInfo | None = None
        self._sid: str | None = None
        # The lease's generation of the session held; None: a session of this process alone.
        self._generation: int | None = None
        self._lock = asyncio.Lock()
        self._cache_checked = False
        self._auth_failure: tuple[float, AuthenticationFailed] | None = None
        now = self._clock()
        self._last_activity = now  # the last command or ping of this process
        self._last_use = now  # the last command of this process (idle release counts these)
        self._last_recorded = now  # the last use written to the lease
        self._keepalive: asyncio.Task[None] | None = None
        self._recording: asyncio.Task[None] | None = None
        self._closed = False
        self._store_down = False
        # Generations of lease sessions Ameyo called gone while the store could not be told: `_take`
        # drops them from the lease before it asks for a session.
        self._gone: set[int] = set()
        self._foreign_key_told = False
        self._joined = False  # whether this process has used the lease (and so is listed as a user)
        # Figures for tests, benchmarks and `ameyo_ping_session`, all of this process.
        self.logins = 0  # logins to Ameyo
        self.reused_sessions = 0  # sessions taken up without a login (the lease's, an old cache file's)
        self.pings = 0  # pings sent
        self.idle_releases = 0  # shared sessions this process released after the idle limit
        self.waits = 0  # times it waited for another process's login
        # Why Ameyo did not confirm the last logout (the session is forgotten here all the same).
        self.logout_failure: AmeyoError | None = None
        # On shutdown: the other processes on the store the session was left to.
        self.left_to: list[str] = []

    @functools.cached_property
    def _key(self) -> LeaseKey:
        from ..store.lease import LeaseKey

        return LeaseKey(self.settings.base_url, self.settings.user_id or "")

    @functools.cached_property
    def _credentials(self) -> str:
        return self._sealer.credentials_tag()

    @property
    def uses_sessions(self) -> bool:
        """Token authentication carries credentials on every request and needs no session."""
        return not self.settings.token_auth

    @property
    def active(self) -> bool:
        return self._sid is not None

    @property
    def shared(self) -> bool:
        """Whether the session held is the lease's (False: none, or one of this process alone)."""
        return self._sid is not None and self._generation is not None

    def ready(self) -> str | None:
        """Why a session cannot be had now, in a few words, or None when it can. Cheap, and it never
        contacts Ameyo: a readiness probe asks it every few seconds."""
        if self._closed:
            return "closed"
        if self._auth_failure is not None and self._clock() - self._auth_failure[0] < AUTH_FAILURE_COOLDOWN_S:
            return "login refused"
        down = self.client.unreachable_at
        if down is not None and time.monotonic() - down < UNREACHABLE_S:
            return "unreachable"
        return None

    # -- what callers use --------------------------------------------------------------------

    async def call(self, command: Callable[[str | None], Awaitable[T]]) -> T:
        """Run one command with the live session (taking it up or logging in if needed).

        A command answered "invalid session" was not run by Ameyo, so it is sent again, reads and
        writes alike, after the session is renewed; again if the renewed session ended too before
        the command reached it (many calls in flight, a short session timeout), up to
        `RENEWALS_PER_CALL` times. Anything else propagates untouched: in particular a write whose
        answer never came is not resent.
        """
        self._last_use = self._clock()
        sid = await self.session_id()
        renewals = 0
        while True:
            try:
                result = await command(sid)
                break
            except InvalidSession:
                if not self.uses_sessions or renewals == RENEWALS_PER_CALL:
                    raise
                renewals += 1
                log.info("Ameyo says the session is gone; renewing it")
                sid = await self._renew(stale=sid)
        self._used()
        return result

    async def session_id(self) -> str | None:
        if not self.uses_sessions:
            return None
        sid = self._sid
        if sid is not None:
            return sid
        async with self._lock:
            if self._sid is None:
                await self._establish()
            return self._sid

    async def login(self, *, new: bool = False) -> LoginInfo:
        """The login info of the live session; `new=True` ends it (for every process on the store)
        and starts another. The live session may be the lease's, or on a process's first call the
        one an earlier version cached: either is ended."""
        if new and self.uses_sessions:
            await self.logout()
        await self.session_id()
        if self.info is None:
            raise AuthenticationFailed(
                "Token authentication is configured (AMEYO_HASH_KEY): there is no login session to show"
            )
        return self.info

    async def verify_login(self) -> str:
        """Prove this process's credentials to Ameyo (`ameyo-mcp check`), taking no seat from the
        processes that share the session. Returns how:

        - `PROVED_SHARED`: the lease holds a live session logged in with these very credentials;
          it is taken up, and its login is the proof. No second login.
        - `PROVED_LOGIN`: no live session: this process logs in for all, as any would.
        - `PROVED_OWN`: the live session was logged in with other credentials (another password,
          another AMEYO_SECRET_KEY), which prove nothing of these: this process logs in with its
          own, a session of its own that never enters the lease (so the shared one is neither
          replaced nor ended) and that `aclose` logs out.

        A refused login raises AuthenticationFailed, and the back-off holds the processes given the
        same credentials, as after any refused login."""
        if not self.uses_sessions:
            raise AuthenticationFailed("Token authentication needs no login to verify")
        self._cache_checked = True  # an earlier version's cached session proves no password
        async with self._lock:
            lease = await self._live_lease()
            if lease is None or lease.login_for == self._credentials:
                before = self.logins
                if self._sid is None:
                    await self._establish()
                if self.logins > before:
                    return PROVED_LOGIN
                lease = await self._live_lease()
                if lease is not None and lease.generation == self._generation:
                    if lease.login_for == self._credentials:
                        return PROVED_SHARED
                    self._drop(self._sid)  # another's session, taken up meanwhile: let go, no logout
            await self._own_login(lease)
            return PROVED_OWN

    async def _live_lease(self) -> Lease | None:
        """The lease if it holds a session Ameyo should still know; None otherwise, or without a
        usable store."""
        store = self._lease_store()
        if store is None:
            return None
        try:
            lease = await self._in_store(store.session_lease, self._key)
        except StoreError as exc:
            self._store_failed(exc)
            return None
        if lease is None or not lease.live(self._clock(), _TOUCH_EVERY_S):
            return None
        return lease

    async def _own_login(self, lease: Lease | None) -> None:
        """A login of this process's own, outside the lease, honouring and recording the shared
        back-off of a refused login."""
        now = self._clock()
        if (
            lease is not None
            and lease.refused_for == self._credentials
            and lease.refused_until is not None
            and lease.refused_until > now
        ):
            raise _refusal(lease, now)
        try:
            await self._establish_alone()
        except AuthenticationFailed as exc:
            store = self._lease_store()
            if store is not None:
                with contextlib.suppress(StoreError):
                    await self._record_refusal(store, exc)
            raise

    async def ping(self) -> PingResult:
        """Ping the live session (taking one up first if there is none)."""
        sid = await self.session_id()
        if sid is None:
            raise AuthenticationFailed("Token authentication needs no session ping")
        try:
            try:
                result = await self.client.ping_session(sid)
            except InvalidSession:
                sid = await self._renew(stale=sid)
                assert sid is not None
                result = await self.client.ping_session(sid)
        except InvalidSession:
            raise
        except AmeyoError:
            # Shown on the operator's page as the keepalive's failed pings are, not as a ping.
            await self._record_own_ping(answered=False)
            raise
        self.pings += 1
        self._last_activity = self._clock()
        await self._record_own_ping()
        return result

    async def _record_own_ping(self, *, answered: bool = True) -> None:
        store, generation = self._lease_store(), self._generation
        if store is not None and generation is not None:
            await self._record_ping(store, generation, answered=answered)

    async def _record_ping(self, store: Store, generation: int, *, answered: bool = True) -> None:
        """Tell the lease that session `generation` was pinged (`answered`: and Ameyo answered): every
        process's next ping is an interval away, and the operator's page shows it. Best effort: a
        store that cannot be told now costs a ping too many at most."""
        with contextlib.suppress(StoreError):
            await self._in_store(
                store.session_pinged, self._key, generation, self.owner, self._clock(), answered=answered
            )

    async def logout(self) -> bool:
        """End the session now, for every process on the store (it frees the seat); returns whether
        there was one. It is forgotten even when Ameyo does not confirm the logout
        (`logout_failure` then says why): Ameyo ends it when it times out, and the next call logs
        in afresh."""
        self.logout_failure = None
        if not self.uses_sessions:
            return False
        async with self._lock:
            sid, generation = self._sid, self._generation
            self._drop(sid)
            self._stop_keepalive()
            ends: list[str] = []
            shared = await self._release()
            if shared is not None:
                ends.append(shared)
            cached = None
            with contextlib.suppress(AmeyoError):  # unanswered: the logouts below say so
                cached = await self._cached_session()  # an earlier version's, on the first call only
            if cached is not None:
                ends.append(cached.session_id)
            if sid is not None and (generation is None or (shared is None and self._store_down)):
                ends.append(sid)  # this process's own, or the shared one while the store is down
        if not ends:
            return False
        for session in dict.fromkeys(ends):
            await self._end(session)
        return True

    async def aclose(self, *, logout: bool | None = None) -> None:
        """Stop using the session. The shared session is logged out only when `logout` (by default
        AMEYO_LOGOUT_ON_EXIT) and no other process uses it: otherwise it stays in the lease, for the
        others and the next start. A session of this process alone (the store was down) is logged
        out unless `logout` is False: nobody else could take it up."""
        self._closed = True
        self._stop_keepalive()
        recording, self._recording = self._recording, None
        if recording is not None:
            recording.cancel()
        try:
            if self.uses_sessions:
                await self._leave(self.settings.logout_on_exit if logout is None else logout, logout)
        finally:
            _OPEN_HERE.discard(self.owner)

    # -- taking the session up ---------------------------------------------------------------

    async def _establish(self) -> None:
        """The lease's session, or a login for all, or (the store unusable) a session of this
        process alone. Caller holds the lock."""
        if self._closed:
            raise AuthenticationFailed("The server is shutting down; no new Ameyo session is started")
        store = self._lease_store()
        if store is not None:
            try:
                await self._from_lease(store)
                return
            except StoreError as exc:
                self._store_failed(exc)
        await self._establish_alone()

    async def _take(self, store: Store, now: float, *, unusable: int | None) -> Take:
        """The lease's answer for this process: the session, its turn to log in, or a wait. The
        sessions Ameyo called gone while the store could not be told are dropped from it first."""
        for generation in sorted(self._gone):
            await self._invalidate(store, generation)
        return await self._in_store(
            store.take_session,
            self._key,
            self.owner,
            now,
            login_s=self.client.timeout_s + 5.0,
            grace=_TOUCH_EVERY_S,
            unusable=unusable,
            alive=_alive,
            credentials=self._credentials,
        )

    async def _from_lease(self, store: Store) -> None:
        unusable: int | None = None
        delay = _POLL_FIRST_S
        waited = False
        while True:
            now = self._clock()
            take = await self._take(store, now, unusable=unusable)
            lease = take.lease
            if take.kind == SESSION:
                info = self._sealer.open(lease.sealed)
                if info is None:
                    self._tell_foreign_key()
                    unusable = lease.generation
                    continue
                if not await self._still_known(store, info, lease, now):
                    continue  # it was dropped from the lease: ask again
                self.reused_sessions += 1
                self._adopt(info, lease.generation)
                return
            if take.kind == REFUSED:
                error = _refusal(lease, now)
                # Known here too, until the shared back-off ends: readiness says so without the store.
                self._auth_failure = ((lease.refused_until or now) - AUTH_FAILURE_COOLDOWN_S, error)
                raise error
            if take.kind == WAIT:
                if not waited:
                    self.waits += 1
                    waited = True
                left = (lease.login_until or now) - now
                await anyio.sleep(max(min(delay, left), 0.01))
                delay = min(delay * 1.5, _POLL_LAST_S)
                continue
            assert take.kind == LOGIN
            # A login Ameyo has run holds a seat: a caller given up on meanwhile must not leave it
            # unpublished for Ameyo to time out while the next call takes another seat.
            with anyio.CancelScope(shield=True):
                logged_in = await self._log_in_for_all(store)
            if logged_in:
                return

    async def _still_known(self, store: Store, info: LoginInfo, lease: Lease, now: float) -> bool:
        """Whether Ameyo still knows the lease's session. One that no process used or pinged for a
        ping interval (the last process stopped a while ago) is pinged before it is taken up, so
        that nothing is shown as logged in on a session Ameyo ended; a fresh one is taken on trust
        (a command meeting it dead renews it all the same)."""
        if lease.ping_every_s is None or now - lease.last_alive < lease.ping_every_s:
            return True
        self.client.redactor.add_session(info.session_id)
        try:
            await self.client.ping_session(info.session_id)
        except InvalidSession:
            await self._invalidate(store, lease.generation)
            return False
        self.pings += 1
        await self._record_ping(store, lease.generation)
        return True

    async def _invalidate(self, store: Store, generation: int) -> None:
        """Ameyo called the lease's session `generation` gone: the lease drops it unless it holds
        another by now (compare-and-set). Until the store is told (a StoreError propagates), the
        generation is remembered, and `_take` tells it before the lease can hand that session out."""
        self._gone.add(generation)
        await self._in_store(store.invalidate_session, self._key, generation, self._clock())
        self._gone.discard(generation)

    async def _log_in_for_all(self, store: Store) -> bool:
        """Holding the login turn: log in (or take up an old cached session) and publish the session
        in the lease. False when the turn passed to another process meanwhile: ask again."""
        turn_done = False
        try:
            info = await self._cached_session()
            if info is None:
                self._refused_here()
                try:
                    info = await self.client.login()
                except AuthenticationFailed as exc:
                    self._auth_failure = (self._clock(), exc)
                    with contextlib.suppress(StoreError):
                        await self._record_refusal(store, exc)
                        turn_done = True
                    raise
                self._auth_failure = None
                self.logins += 1
            else:
                self.reused_sessions += 1
            try:
                lease = await self._in_store(
                    store.publish_session,
                    self._key,
                    self.owner,
                    self._sealer.seal(info),
                    self._clock(),
                    timeout_s=info.session_timeout_ms / 1000,
                    ping_every_s=info.ping_interval_ms / 1000,
                    credentials=self._credentials,
                )
            except StoreError as exc:
                self._store_failed(exc)
                self._adopt(info, None)
                return True
            turn_done = True
            if lease is None:
                log.info("Another process took the login turn over meanwhile; using its session")
                await self._end(info.session_id)
                return False
            self._adopt(info, lease.generation)
            return True
        finally:
            if not turn_done:
                with anyio.CancelScope(shield=True), contextlib.suppress(StoreError):
                    await self._in_store(store.abandon_login, self._key, self.owner)

    async def _establish_alone(self) -> None:
        """A session of this process alone: the store cannot be used."""
        info = await self._cached_session()
        if info is not None:
            self.reused_sessions += 1
            self._adopt(info, None)
            return
        self._refused_here()
        with anyio.CancelScope(shield=True):  # as in _from_lease: the seat is kept, not leaked
            try:
                info = await self.client.login()
            except AuthenticationFailed as exc:
                self._auth_failure = (self._clock(), exc)
                raise
            self._auth_failure = None
            self.logins += 1
            self._adopt(info, None)

    def _refused_here(self) -> None:
        """Raise this process's own refused login while its back-off lasts (the store may not have
        taken it)."""
        if self._auth_failure is not None:
            failed_at, error = self._auth_failure
            if self._clock() - failed_at < AUTH_FAILURE_COOLDOWN_S:
                raise error

    def _adopt(self, info: LoginInfo, generation: int | None) -> None:
        self.info = info
        self._sid = info.session_id
        self._generation = generation
        self._joined = self._joined or generation is not None
        self.client.redactor.add_session(info.session_id)
        self.client.adopt_timings(info)
        now = self._clock()
        self._last_activity = self._last_use = self._last_recorded = now
        self._start_keepalive()

    def _drop(self, sid: str | None) -> bool:
        """Let go of session `sid` here, if it is still the one held (never logs it out)."""
        if sid is None or self._sid != sid:
            return False
        self._sid = None
        self._generation = None
        return True

    async def _renew(self, *, stale: str | None) -> str | None:
        """Replace a session Ameyo rejected. The lease drops it only if it still holds it, so the
        processes (and coroutines) that met the same dead session share one login."""
        async with self._lock:
            if stale is not None and self._sid == stale:
                generation = self._generation
                self._drop(stale)
                store = self._lease_store() if generation is not None else None
                if store is not None and generation is not None:
                    try:
                        await self._invalidate(store, generation)
                    except StoreError as exc:
                        self._store_failed(exc)
            if self._sid is None:
                await self._establish()
            return self._sid

    def _used(self) -> None:
        """A command ran on the session: record it in the lease now and then (not every time)."""
        now = self._clock()
        self._last_activity = now
        generation = self._generation
        if generation is None or now - self._last_recorded < self._record_every():
            return
        if self._recording is not None and not self._recording.done():
            return
        self._last_recorded = now
        self._recording = asyncio.get_running_loop().create_task(self._record_use(generation, now))

    async def _record_use(self, generation: int, now: float) -> None:
        store = self._lease_store()
        if store is None:
            return
        try:
            await self._in_store(store.touch_session, self._key, generation, self.owner, now)
        except StoreError as exc:
            self._store_failed(exc)

    def _record_every(self) -> float:
        interval = self.info.ping_interval_ms / 1000 if self.info is not None else _TOUCH_EVERY_S
        return min(_TOUCH_EVERY_S, interval / 4)

    # -- ending it -----------------------------------------------------------------------------

    async def _release(self) -> str | None:
        """Take whatever session the lease holds out of it, for its logout: its id, or None."""
        store = self._lease_store()
        if store is None:
            return None
        try:
            released = await self._in_store(store.release_session, self._key, self._clock())
        except StoreError as exc:
            self._store_failed(exc)
            return None
        if released is None:
            return None
        info = self._sealer.open(released.sealed)
        if info is None:
            self._tell_foreign_key()
            return None
        self.client.redactor.add_session(info.session_id)
        return info.session_id

    async def _leave(self, logout: bool, asked: bool | None) -> None:
        sid, generation = self._sid, self._generation
        ends: list[str] = []
        store = self._lease_store() if self._joined else None
        if store is not None:
            now = self._clock()
            try:
                self.left_to, released = await self._in_store(
                    store.leave_session,
                    self._key,
                    self.owner,
                    now,
                    stale_before=now - self._stale_s(),
                    alive=_alive,
                    end=generation if logout and generation is not None else None,
                )
            except StoreError as exc:
                self._store_failed(exc)  # it cannot be told whether others use it: it is left to them
            else:
                info = self._sealer.open(released.sealed) if released is not None else None
                if info is not None:
                    ends.append(info.session_id)
                elif generation is not None and logout and self.left_to:
                    log.info("Leaving the Ameyo session to %d other processes using it", len(self.left_to))
        if sid is not None and generation is None and asked is not False:
            ends.append(sid)  # this process's alone: nobody could take it up
        self._drop(sid)
        self.logout_failure = None
        for session in dict.fromkeys(ends):
            await self._end(session, within=_LOGOUT_TIMEOUT_S)
        if self.logout_failure is not None:
            log.warning("Could not log out of Ameyo on shutdown; the session will time out by itself")

    async def _end(self, sid: str, *, within: float | None = None) -> None:
        """Log session `sid` out of Ameyo; a failure is kept in `logout_failure`."""
        try:
            await asyncio.wait_for(self.client.logout(sid), within)
        except TimeoutError:
            self.logout_failure = AmeyoError("no answer")
        except AmeyoError as exc:
            self.logout_failure = exc

    # -- the store -------------------------------------------------------------------------------

    def _lease_store(self) -> Store | None:
        return None if self._store is None else self._store()

    async def _record_refusal(self, store: Store, exc: AuthenticationFailed) -> None:
        """Tell every process on the store that these credentials were refused: none tries them
        again before the back-off ends."""
        await self._in_store(
            store.session_refused,
            self._key,
            self.owner,
            until=self._clock() + AUTH_FAILURE_COOLDOWN_S,
            message=exc.message,
            credentials=self._credentials,
        )

    async def _in_store(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store method, in a worker thread (the store is synchronous)."""
        result = await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))
        if self._store_down:
            self._store_down = False
            log.warning("The store can be used again: the Ameyo session is shared again")
        return result

    def _store_failed(self, exc: StoreError) -> None:
        if isinstance(exc, StoreBusy) or self._store_down:
            return
        self._store_down = True
        log.warning(
            "The Ameyo session cannot be shared through the store (%s): this process goes on with the "
            "session it holds; a login it needs meanwhile is its own, and takes one more licensed seat "
            "until the store can be used again",
            exc.message,
        )

    def _tell_foreign_key(self) -> None:
        if not self._foreign_key_told:
            self._foreign_key_told = True
            log.warning(
                "The shared Ameyo session in the store was sealed with another key: the process that "
                "saved it has another AMEYO_SECRET_KEY or, when none is set, another AMEYO_PASSWORD (one "
                "changed since, or mistyped here: a refused login below says so). This process logs in "
                "anew; every process of this deployment needs the same key."
            )

    def _stale_s(self) -> float:
        interval = self.info.ping_interval_ms / 1000 if self.info is not None else 0.0
        return max(_USER_STALE_S, 3 * interval)

    # -- the session file of earlier versions ------------------------------------------------------

    async def _cached_session(self) -> LoginInfo | None:
        """The session an earlier version cached in AMEYO_SESSION_FILE, if Ameyo still knows it.
        Read once, when a login would otherwise be needed; the file is then removed."""
        if self._cache_checked:
            return None
        self._cache_checked = True
        path = self.settings.resolved_session_file()
        if path is None or not path.is_file():
            return None
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            if (
                stored.get("base_url") != self.settings.base_url
                or stored.get("user_id") != self.settings.user_id
            ):
                return None
            info = LoginInfo.model_validate(stored["login"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            log.warning("Ignoring an unreadable session cache file")
            return None
        self.client.redactor.add_session(info.session_id)
        try:
            await self.client.ping_session(info.session_id)
        except InvalidSession:
            _remove(path)
            return None
        except BaseException:
            self._cache_checked = False  # Ameyo did not answer: look again at the next login
            raise
        _remove(path)
        self.pings += 1
        log.info("Taking up the Ameyo session an earlier version cached")
        return info

    # -- keepalive ---------------------------------------------------------------------------

    def _start_keepalive(self) -> None:
        if self._keepalive is None or self._keepalive.done():
            self._keepalive = asyncio.get_running_loop().create_task(self._keepalive_loop())

    def _stop_keepalive(self) -> None:
        task, self._keepalive = self._keepalive, None
        if task is not None and task is not _current_task():
            task.cancel()

    async def _keepalive_loop(self) -> None:
        while self._sid is not None:
            wait = await self.keep_alive()
            if wait is None:
                continue
            await self._sleep(wait)

    async def keep_alive(self) -> float | None:
        """One keepalive look: ping the session if it is due, release it after the idle limit, and
        let go of it if another process ended or renewed it. Returns the seconds until the next look
        (None: look again at once, or stop if no session is held)."""
        sid, generation, info = self._sid, self._generation, self.info
        if sid is None or info is None:
            return None
        interval = max(info.ping_interval_ms / 1000, 0.01)
        store = self._lease_store()
        if store is not None and generation is None:
            async with self._lock:
                with contextlib.suppress(StoreError):  # still unusable: this process keeps its own
                    if self._sid == sid and self._generation is None and await self._rejoin(store, sid, info):
                        return None
        if store is None or generation is None:
            return await self._keep_alone(sid, interval)
        now = self._clock()
        try:
            lease = await self._in_store(store.look_at_session, self._key, self.owner, now)
        except StoreError as exc:
            self._store_failed(exc)
            return await self._keep_alone(sid, interval, release=False)
        if self._sid != sid:
            return None  # renewed meanwhile
        if lease is None or lease.generation != generation or lease.sealed is None:
            self._drop(sid)  # ended, released or renewed by another process: let go, never log out
            return None
        last_use = max(lease.last_used_at or 0.0, lease.logged_in_at or 0.0, self._last_use)
        idle_deadline = last_use + self.settings.idle_limit_s
        if now >= idle_deadline:
            return await self._release_idle(store, sid, generation, now, interval)
        ping_due = max(lease.last_alive, self._last_activity) + interval
        if now < ping_due:
            return max(min(ping_due, idle_deadline) - now, 0.01)
        if await self._in_store(
            store.claim_ping, self._key, generation, self.owner, now, hold_s=self.client.timeout_s
        ):
            answered = True
            try:
                await self.client.ping_session(sid)
                self.pings += 1
            except InvalidSession:
                if self._drop(sid):
                    with contextlib.suppress(StoreError):
                        await self._invalidate(store, generation)
                return None
            except AmeyoError as exc:
                log.warning("Keepalive ping failed: %s", exc)  # tried again one interval later
                answered = False
            self._last_activity = self._clock()
            await self._record_ping(store, generation, answered=answered)
        return interval

    async def _release_idle(
        self, store: Store, sid: str, generation: int, now: float, interval: float
    ) -> float | None:
        idle = self.settings.idle_limit_s
        try:
            released = await self._in_store(
                store.release_session, self._key, now, generation=generation, idle_before=now - idle
            )
        except StoreError as exc:
            self._store_failed(exc)
            return interval
        if released is None:
            return None  # used, renewed or released elsewhere meanwhile: look again
        log.info("No process used the Ameyo session for %.0f s: releasing it", idle)
        self.idle_releases += 1
        self._drop(sid)
        await self._end(sid)
        return None

    async def _keep_alone(self, sid: str, interval: float, *, release: bool = True) -> float | None:
        """Keepalive of a session this process holds alone (or while the store cannot be used:
        pings only, since its release would be for every process)."""
        now = self._clock()
        idle_deadline = self._last_use + self.settings.idle_limit_s
        if release and now >= idle_deadline:
            log.info("No use for %.0f s: releasing the Ameyo session", self.settings.idle_limit_s)
            self.idle_releases += 1
            if self._drop(sid):
                await self._end(sid)
            return None
        ping_due = self._last_activity + interval
        if now < ping_due:
            return max(min(ping_due, idle_deadline if release else ping_due) - now, 0.01)
        try:
            await self.client.ping_session(sid)
            self.pings += 1
        except InvalidSession:
            generation = self._generation
            if self._drop(sid) and generation is not None:
                self._gone.add(generation)  # the lease's, the store down: `_take` tells it
            return None
        except AmeyoError as exc:
            log.warning("Keepalive ping failed: %s", exc)  # tried again one interval later
        self._last_activity = self._clock()
        return interval

    async def _rejoin(self, store: Store, sid: str, info: LoginInfo) -> bool:
        """The store is back while this process holds a session of its own: publish this one in the
        lease, or use the lease's if it holds one Ameyo still knows (ending this one, which nobody
        else uses). The lease's is never one Ameyo told this process was gone (`_take` drops those),
        and is checked as `_from_lease` checks it: this live session is not traded for a dead one."""
        while True:
            now = self._clock()
            take = await self._take(store, now, unusable=None)
            if take.kind != SESSION:
                break
            shared = self._sealer.open(take.lease.sealed)
            if shared is None or self._sid != sid:
                return False
            try:
                if not await self._still_known(store, shared, take.lease, now):
                    continue  # Ameyo ended it, and it was dropped from the lease: ask again
            except AmeyoError as exc:
                log.warning("Could not check the shared Ameyo session (%s): keeping this one for now", exc)
                return False
            if self._sid != sid:
                return False
            self.reused_sessions += 1
            self._adopt(shared, take.lease.generation)
            await self._end(sid)
            return True
        if take.kind != LOGIN:
            return False
        published: Lease | None = None
        try:
            published = await self._in_store(
                store.publish_session,
                self._key,
                self.owner,
                self._sealer.seal(info),
                now,
                timeout_s=info.session_timeout_ms / 1000,
                ping_every_s=info.ping_interval_ms / 1000,
                credentials=self._credentials,
            )
        finally:
            if published is None:
                with anyio.CancelScope(shield=True), contextlib.suppress(StoreError):
                    await self._in_store(store.abandon_login, self._key, self.owner)
        if published is None:
            return False
        self._joined = True
        if self._sid == sid:
            self._generation = published.generation
        return True


def _refusal(lease: Lease, now: float) -> AuthenticationFailed:
    left = max((lease.refused_until or now) - now, 0.0)
    said = (lease.refusal or "Ameyo refused the login").rstrip(".")
    return AuthenticationFailed(f"{said}. No process on this store tries to log in again for {left:.0f} s")


def _remove(path: Any) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
