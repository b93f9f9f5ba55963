"""`ameyo-mcp check`: try the settings against Ameyo and say, in one line per step, what to fix."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..ameyo.models import GetLeadsRequest
from ..ameyo.service import Ameyo
from ..ameyo.session import PROVED_LOGIN, PROVED_OWN, PROVED_SHARED
from ..config import Settings, timezone_warning
from ..errors import (
    AmeyoError,
    AuthenticationFailed,
    SettingsError,
    StoreError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ..rules import phones
from ..rules.times import ago_text, show

_UNKNOWN_SHOWN = 10


_PROVED = {
    PROVED_SHARED: ": the session the store's processes share was logged in with these credentials "
    "(taken up, no second login)",
    PROVED_LOGIN: "",
    PROVED_OWN: " (a session of its own, logged out at the end of the check)",
}


def _advice(exc: AmeyoError, settings: Settings) -> str:
    """The failure for the person running the check: its own words, without the next step written
    for a model ("tell the person that Ameyo seems unavailable")."""
    text = exc.message if isinstance(exc, UpstreamUnavailable) else str(exc)
    if isinstance(exc, AuthenticationFailed):
        if settings.token_auth:
            return f"token rejected: {text}"
        return f"wrong user or password: {text}"
    if isinstance(exc, UpstreamTimeout):
        return f"no answer in time: {text} (AMEYO_TIMEOUT_S); is AMEYO_BASE_URL the Ameyo server?"
    if isinstance(exc, UpstreamUnavailable):
        if "404" in text:
            return text  # it says what in AMEYO_BASE_URL to look at
        if "unreachable" in text:
            return f"unreachable URL: {text}"
        return f"not an Ameyo answer: {text}; is AMEYO_BASE_URL the Ameyo server?"
    return text


async def run_check(
    settings: Settings,
    tell: Callable[[str], None],
    *,
    campaign_id: int | None = None,
    warned: bool = False,
    again: str = "ameyo-mcp check",
) -> bool:
    """Log in (or take up the session the store's other processes share), ping, list campaigns,
    log out (unless others use the session); returns whether every step passed. `warned`: the
    settings were read with warnings (a name in the file that is no setting), said before; `again`:
    the command that runs this check again, with the settings file it was given."""

    def say(line: str) -> None:  # noting a warning, to tell a pass with warnings from a clean one
        nonlocal warned
        warned = warned or line.startswith("  warn")
        tell(line)

    ameyo = Ameyo(settings)
    who = "token authentication" if settings.token_auth else f"user {settings.user_id}"
    say(f"Ameyo at {settings.base_url} ({who})")
    if not settings.timezone_given:
        say(f"  warn {timezone_warning(settings)}")
    ok = True
    try:
        phones.check_region(settings.phone_region)
        say(f"  ok  phone numbers: region {settings.phone_region}, sent as {settings.phone_format}")
    except SettingsError as exc:
        ok = False
        say(f"  FAIL {exc}")
    try:
        if ameyo.session.uses_sessions:
            # The credentials themselves, never only a session someone else logged in.
            proved = await ameyo.session.verify_login()
            info = ameyo.session.info
            assert info is not None
            say(f"  ok  login as {info.user_id} (user type {info.user_type}){_PROVED[proved]}")
            if proved == PROVED_OWN:
                say(
                    "  warn the session this store's processes share was logged in with other credentials "
                    "(another AMEYO_PASSWORD or AMEYO_SECRET_KEY): give every process on the store the same"
                )
            ping = await ameyo.session.ping()
            when = show(ping.server_time, settings.zone) if ping.server_time else "not given"
            # Ameyo's ping gives an instant: shown in the zone set here, for the person to compare.
            say(
                f"  ok  ping: session alive, Ameyo server time {when} (if the server's own clock shows "
                "another time, the zone set here is not the server's)"
            )
            names = ", ".join(f"{c.campaign_name} ({c.campaign_id})" for c in info.campaign_infos)
            say(f"  ok  campaigns: {names or 'none'}")
        else:
            target = campaign_id or 1
            leads = await ameyo.send(GetLeadsRequest(campaign_id=target))
            say(f"  ok  token accepted: campaign {target} has {len(leads)} leads")
    except AmeyoError as exc:
        ok = False
        say(f"  FAIL {_advice(exc, settings)}")
    finally:
        # Log out unless other processes on the store use the same session: a server running
        # beside this check keeps it.
        held = ameyo.session.active
        await ameyo.aclose(logout=True)
        others = len(ameyo.session.left_to)
        if held and others:
            processes = "process" if others == 1 else "processes"
            say(f"  ok  the session stays with the {others} other {processes} using it")
        elif held and ameyo.session.logout_failure is None:
            say("  ok  logout")
    ok = _check_index(settings, say) and ok
    _check_unknown_writes(settings, say)
    say(
        ("All checks passed, with the warnings above." if warned else "All checks passed.")
        if ok
        else f"Check failed: fix what is named above and run `{again}` again."
    )
    return ok


def _check_index(settings: Settings, say: Callable[[str], None]) -> bool:
    """Report the index: where it is, and per campaign its contacts, the age of its last sync, and
    a sync running now (how far) or one that stopped midway."""
    from ..index.lookup import sync_advice
    from ..index.sync import age_text, running_sync
    from ..store import open_store

    store = open_store(settings)
    try:
        campaigns = store.campaigns()
        running = {c.campaign_id: running_sync(store, c, settings) for c in campaigns}
    except StoreError as exc:
        say(f"  FAIL index: {exc}")
        return False
    finally:
        store.close()
    if not campaigns:
        say(f"  --  index at {store.where}: no campaign synced yet ({sync_advice(settings)})")
        return True
    say(f"  ok  index at {store.where}:")
    for c in campaigns:
        name = c.name or f"campaign {c.campaign_id}"
        synced = f"last synced {age_text(c.synced_at)}" if c.synced_at else "never synced completely"
        if c.synced_at is not None:
            synced += f" ({show(c.synced_at, settings.zone)})"
        doing = ""
        if running[c.campaign_id] is not None:
            doing = f", a sync is running ({running[c.campaign_id]})"
        elif c.pass_in_progress:
            doing = ", a sync was interrupted (run `ameyo-mcp sync` to resume)"
        say(f"      {name} ({c.campaign_id}): {c.contacts:,} contacts, {synced}{doing}")
    return True


def _check_unknown_writes(settings: Settings, say: Callable[[str], None]) -> None:
    """Writes whose outcome is unknown, from every process on the store: each needs a person to
    look in Ameyo before it is sent again (the write path refuses it until then)."""
    from ..store import open_store

    store = open_store(settings)
    try:
        unknown = store.unknown_writes(limit=_UNKNOWN_SHOWN + 1)
    except StoreError:
        return  # the index line above has said what is wrong with the store
    finally:
        store.close()
    if not unknown:
        return
    count = f"{_UNKNOWN_SHOWN}+" if len(unknown) > _UNKNOWN_SHOWN else str(len(unknown))
    say(
        f"  warn {count} {'write has' if count == '1' else 'writes have'} an unknown outcome: Ameyo may "
        "or may not have done them. Each is refused until someone checks it, as said under it"
    )
    from ..writes.plans import what_to_check

    now = time.time()
    for entry in unknown[:_UNKNOWN_SHOWN]:
        when = ago_text(now - entry.claimed_at)
        say(f"      {entry.label}, sent {when}: {entry.note} (call id {entry.call_id}).")
        say(f"        {what_to_check(entry.label, entry.context or {})}")
