"""SessionManager: exactly one live Ameyo session per process.

Customer Manager users are licensed seats, so the session is precious: it is created lazily with a
single-flight login, kept alive by pings only while idle, released after a long idleness, and
renewed only when Ameyo says it is gone. As the vendor document's flow has it, a clean shutdown
leaves the session in the cache file for the next start (Ameyo ends it by itself after its
inactivity timeout); it logs out instead when there is no cache or AMEYO_LOGOUT_ON_EXIT is set.
Nothing here ever hands the session id to a caller outside the package.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from ..config import Settings
from ..errors import AmeyoError, AuthenticationFailed, InvalidSession
from .client import AmeyoClient
from .models import LoginInfo, PingResult

log = logging.getLogger(__name__)

T = TypeVar("T")

# After a refused login, calls fail fast for this long instead of hammering Ameyo (and risking a
# locked account) with the same wrong password on every tool call.
AUTH_FAILURE_COOLDOWN_S = 60.0
# A command that found no Ameyo to connect to makes the session unobtainable for this long (or
# until a command is answered): readiness reflects it without trying Ameyo itself.
UNREACHABLE_S = 30.0
_LOGOUT_TIMEOUT_S = 5.0


class SessionManager:
    def __init__(
        self,
        client: AmeyoClient,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`clock` and `sleep` measure and wait out the keepalive and idle limits (tests pass a
        clock they move by hand)."""
        self.client = client
        self._clock = clock
        self._sleep = sleep
        self.settings = settings
        self.info: LoginInfo | None = None
        self._sid: str | None = None
        self._lock = asyncio.Lock()
        self._cache_checked = False
        self._auth_failure: tuple[float, AuthenticationFailed] | None = None
        self._last_activity = self._clock()
        self._last_use = self._clock()
        self._keepalive: asyncio.Task[None] | None = None
        self._closed = False
        # Figures for tests, benchmarks and `ameyo_ping_session`.
        self.logins = 0
        self.reused_sessions = 0
        self.pings = 0
        self.idle_releases = 0
        # Why Ameyo did not confirm the last logout (the session is forgotten here all the same).
        self.logout_failure: AmeyoError | None = None

    @property
    def uses_sessions(self) -> bool:
        """Token authentication carries credentials on every request and needs no session."""
        return not self.settings.token_auth

    @property
    def active(self) -> bool:
        return self._sid is not None

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
        """Run one command with the live session (logging in if needed).

        A command answered "invalid session" was not run by Ameyo, so it is retried once, reads
        and writes alike, after a new login. Anything else propagates untouched: in particular a
        write whose answer never came is not resent.
        """
        self._last_use = self._clock()
        sid = await self.session_id()
        try:
            result = await command(sid)
        except InvalidSession:
            if not self.uses_sessions:
                raise
            log.info("Ameyo says the session is gone; logging in again")
            sid = await self._renew(stale=sid)
            result = await command(sid)
        self._touch()
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
        """The login info of the live session; `new=True` ends it and starts another. On a
        process's first call the live session may be the cached one: it is taken up to be ended."""
        if new:
            async with self._lock:
                if self._sid is None and not self._cache_checked:
                    self._cache_checked = True
                    await self._adopt_cached()
            if self._sid is not None:
                await self.logout()
        await self.session_id()
        if self.info is None:
            raise AuthenticationFailed(
                "Token authentication is configured (AMEYO_HASH_KEY): there is no login session to show"
            )
        return self.info

    async def ping(self) -> PingResult:
        """Ping the live session (logging in first if there is none)."""
        sid = await self.session_id()
        if sid is None:
            raise AuthenticationFailed("Token authentication needs no session ping")
        try:
            result = await self.client.ping_session(sid)
        except InvalidSession:
            sid = await self._renew(stale=sid)
            assert sid is not None
            result = await self.client.ping_session(sid)
        self.pings += 1
        self._touch()
        return result

    async def logout(self) -> bool:
        """End the live session now; returns whether there was one. It is forgotten here even when
        Ameyo does not confirm the logout (`logout_failure` then says why): Ameyo ends it when it
        times out, and the next call logs in afresh."""
        async with self._lock:
            sid, self._sid = self._sid, None
            self._forget_cache()
            self._stop_keepalive()
        self.logout_failure = None
        if sid is None:
            return False
        try:
            await self.client.logout(sid)
        except AmeyoError as exc:
            self.logout_failure = exc
        return True

    @property
    def logs_out_on_exit(self) -> bool:
        """A session nobody can take up again (no cache file) would hold the seat until it times out."""
        return self.settings.logout_on_exit or self.settings.resolved_session_file() is None

    async def aclose(self, *, logout: bool | None = None) -> None:
        """Stop keeping the session alive, and log out if `logout` (by default `logs_out_on_exit`);
        otherwise the cached session is left for the next start."""
        self._closed = True
        self._stop_keepalive()
        if logout is None:
            logout = self.logs_out_on_exit
        if logout and self._sid is not None:
            try:
                await asyncio.wait_for(self.logout(), _LOGOUT_TIMEOUT_S)
            except TimeoutError:
                self.logout_failure = AmeyoError("no answer")
            if self.logout_failure is not None:
                log.warning("Could not log out of Ameyo on shutdown; the session will time out by itself")

    # -- inside ------------------------------------------------------------------------------

    async def _renew(self, *, stale: str | None) -> str | None:
        """Replace a session Ameyo rejected. Concurrent callers holding the same stale id share one
        login: whoever takes the lock first logs in, the rest find a fresh id and use it."""
        async with self._lock:
            if self._sid == stale:
                self._sid = None
                self._forget_cache()
            if self._sid is None:
                await self._establish()
            return self._sid

    async def _establish(self) -> None:
        """Take the cached session if Ameyo still knows it, else log in. Caller holds the lock."""
        if self._closed:
            raise AuthenticationFailed("The server is shutting down; no new Ameyo session is started")
        if not self._cache_checked:
            self._cache_checked = True
            if await self._adopt_cached():
                return
        if self._auth_failure is not None:
            failed_at, error = self._auth_failure
            if self._clock() - failed_at < AUTH_FAILURE_COOLDOWN_S:
                raise error
        try:
            info = await self.client.login()
        except AuthenticationFailed as exc:
            self._auth_failure = (self._clock(), exc)
            raise
        self._auth_failure = None
        self.logins += 1
        self._adopt(info)
        self._save_cache(info)

    def _adopt(self, info: LoginInfo) -> None:
        self.info = info
        self._sid = info.session_id
        self.client.redactor.add(info.session_id)
        self.client.adopt_timings(info)
        self._touch()
        self._last_use = self._clock()
        self._start_keepalive()

    def _touch(self) -> None:
        self._last_activity = self._clock()

    # -- the cache file: the document's "take the session from local storage" ----------------

    async def _adopt_cached(self) -> bool:
        path = self.settings.resolved_session_file()
        if path is None or not path.is_file():
            return False
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            if (
                stored.get("base_url") != self.settings.base_url
                or stored.get("user_id") != self.settings.user_id
            ):
                return False
            info = LoginInfo.model_validate(stored["login"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("Ignoring an unreadable session cache file")
            return False
        self.client.redactor.add(info.session_id)
        try:
            await self.client.ping_session(info.session_id)
        except InvalidSession:
            self._forget_cache()
            return False
        self.pings += 1
        self.reused_sessions += 1
        log.info("Reusing the cached Ameyo session")
        self._adopt(info)
        return True

    def _save_cache(self, info: LoginInfo) -> None:
        path = self.settings.resolved_session_file()
        if path is None:
            return
        payload = {
            "base_url": self.settings.base_url,
            "user_id": self.settings.user_id,
            "login": info.model_dump(mode="json", by_alias=True),
        }
        try:
            _write_private(path, json.dumps(payload))
        except OSError as exc:
            log.warning("Could not write the session cache file (%s)", type(exc).__name__)

    def _forget_cache(self) -> None:
        path = self.settings.resolved_session_file()
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)

    # -- keepalive ---------------------------------------------------------------------------

    def _start_keepalive(self) -> None:
        if self._keepalive is None or self._keepalive.done():
            self._keepalive = asyncio.get_running_loop().create_task(self._keepalive_loop())

    def _stop_keepalive(self) -> None:
        task, self._keepalive = self._keepalive, None
        if task is not None and task is not _current_task():
            task.cancel()

    async def _keepalive_loop(self) -> None:
        """Ping only when no command has touched the session for a ping interval, and give the
        session up once nobody has used the server for the idle limit."""
        while self._sid is not None and self.info is not None:
            now = self._clock()
            interval = max(self.info.ping_interval_ms / 1000, 0.01)
            idle_deadline = self._last_use + self.settings.idle_limit_s
            if now >= idle_deadline:
                log.info("No use for %.0f s: releasing the Ameyo session", self.settings.idle_limit_s)
                self.idle_releases += 1
                await self.logout()
                return
            ping_due = self._last_activity + interval
            if now >= ping_due:
                sid = self._sid
                try:
                    await self.client.ping_session(sid)
                    self.pings += 1
                    self._touch()
                except InvalidSession:
                    async with self._lock:
                        if self._sid == sid:
                            self._sid = None
                            self._forget_cache()
                    return
                except AmeyoError as exc:
                    log.warning("Keepalive ping failed: %s", exc)
                    self._touch()  # try again one interval later rather than in a tight loop
                continue
            await self._sleep(min(ping_due, idle_deadline) - now)


def _current_task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, atomically, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
