"""Tools for the session itself, the campaigns and the leads: everything that reads no customer."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import AfterValidator, Field

from ...ameyo.columns import id_of
from ...ameyo.models import campaign_label
from ...answers.results import CampaignsOut, LeadOut, LeadsOut, LoginOut, LogoutOut, PingOut, campaign_out
from ...answers.summaries import leads_text, login_text, ping_text
from ...errors import AmeyoError, AuthenticationFailed, as_clause
from ...rules.times import show
from .common import ameyo_of, answer, explained, failure_text

CampaignArg = Annotated[str, Field(max_length=80, description="Campaign name or id")]
PhoneSearchArg = Annotated[str | None, Field(max_length=40, description="Whole number or last 4+ digits")]
# A customer or lead id; checked as the arguments are (no bound in the schema: it would cost every
# conversation its characters for a mistake a refusal explains).
AmeyoId = Annotated[int, AfterValidator(id_of)]


async def ameyo_login(
    ctx: Context[Any, Any],
    new_session: Annotated[bool, Field(description="Replace the live session")] = False,
) -> Annotated[CallToolResult, LoginOut]:
    """Who the server is logged in to Ameyo as, its campaigns and limits. Tools log in by themselves:
    call this only to inspect or renew the session."""
    ameyo = ameyo_of(ctx)
    unanswered = None
    async with explained(ameyo):
        before = ameyo.session.logins
        info = await ameyo.session.login(new=new_session)
        if ameyo.session.logins == before:
            # A session taken up from memory or the lease is one Ameyo knew at some time: asked "are
            # we logged in?", the answer must come from Ameyo now, not from what was kept (Ameyo
            # down, or restarted and the session gone, read as "the live session"). A session Ameyo
            # ended is renewed by the ping, and said as new; Ameyo not answering is said, with what
            # is known.
            try:
                await ameyo.session.ping()
            except AuthenticationFailed:
                # Ameyo answered: the session is gone and its renewal refused. Said as a refused
                # login is, not as a session of unknown state that the server still holds.
                raise
            except AmeyoError as exc:
                unanswered = as_clause(failure_text(exc, where="ameyo_login"))
            info = ameyo.session.info or info
    out = LoginOut(
        user=info.user_id,
        user_type=info.user_type,
        campaigns=[campaign_out(c) for c in info.campaign_infos],
        ping_interval_s=info.ping_interval_ms / 1000,
        session_timeout_s=info.session_timeout_ms / 1000,
        command_timeout_s=info.command_timeout_ms / 1000,
        max_phone_length=info.max_phone_length,
        new_session=ameyo.session.logins > before,
    )
    return answer(login_text(out, unanswered), out)


async def ameyo_ping_session(ctx: Context[Any, Any]) -> Annotated[CallToolResult, PingOut]:
    """Check the Ameyo session is alive; read the server's time and weekday (for 'Monday at 10' as a
    callback time)."""
    ameyo = ameyo_of(ctx)
    logins = ameyo.session.logins
    async with explained(ameyo):
        result = await ameyo.session.ping()
    zone = ameyo.settings.zone
    shown = weekday = None
    if result.server_time is not None:
        moment = result.server_time
        moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)
        # "Monday at 10" needs today's weekday, in the server's zone.
        shown, weekday = show(moment, zone), f"{moment:%A}"
    out = PingOut(
        alive=result.alive,
        server_time=shown,
        weekday=weekday,
        timezone=str(zone),
        new_session=ameyo.session.logins > logins,
    )
    return answer(ping_text(out, ameyo.settings.idle_limit_s), out)


async def ameyo_logout(ctx: Context[Any, Any]) -> Annotated[CallToolResult, LogoutOut]:
    """End the Ameyo session, freeing its licensed seat; a later call logs in again."""
    ameyo = ameyo_of(ctx)
    async with explained(ameyo):
        ended = await ameyo.session.logout()
    failure = ameyo.session.logout_failure
    if failure is not None:
        raise ToolError(
            f"Ameyo did not confirm the logout: {as_clause(failure.message)}. The session is forgotten "
            "here all the same (the next call logs in afresh); check in Ameyo that its seat is free if "
            "that matters now, otherwise it frees itself when the session times out."
        )
    out = LogoutOut(ended=ended)
    text = "Logged out of Ameyo; the seat is free." if ended else "There was no live Ameyo session."
    return answer(text, out)


async def ameyo_list_campaigns(ctx: Context[Any, Any]) -> Annotated[CallToolResult, CampaignsOut]:
    """The campaigns this Ameyo user works in, with ids and types."""
    ameyo = ameyo_of(ctx)
    async with explained(ameyo):
        campaigns = await ameyo.campaigns()
    out = CampaignsOut(campaigns=[campaign_out(c) for c in campaigns])
    if not campaigns:
        return answer("No campaigns are visible to this user (token authentication lists none).", out)
    lines = [f"{len(campaigns)} campaigns:"] + [f"- {campaign_label(c)}: {c.type}" for c in out.campaigns]
    return answer("\n".join(lines), out)


async def ameyo_get_leads(
    ctx: Context[Any, Any], campaign: CampaignArg
) -> Annotated[CallToolResult, LeadsOut]:
    """A campaign's leads (contact lists): enabled or not, priority, attempts."""
    ameyo = ameyo_of(ctx)
    async with explained(ameyo):
        info = await ameyo.campaign(campaign)
    async with explained(ameyo, info):
        leads = await ameyo.leads(info.campaign_id, fresh=True)
    out = LeadsOut(
        campaign=campaign_out(info),
        leads=[
            LeadOut(
                lead_id=lead.lead_id,
                enabled=lead.enabled,
                priority=lead.priority,
                max_attempt=lead.max_attempt,
                churn_count=lead.churn_count,
            )
            for lead in leads
        ],
    )
    return answer(leads_text(out), out)
