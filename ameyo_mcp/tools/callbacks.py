"""ameyo_add_callback: "call Priya back tomorrow at 3 pm"."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from ..customers import digits, display_name, phones
from ..models import AddCallbackRequest, Callback, CampaignInfo, Contact, GetContactsRequest
from ..results import CallbackOut, campaign_out
from ..sanitize import clean_text
from ..service import Ameyo
from ..summaries import callback_text
from ..times import parse_callback_time, show
from .common import AllowRepeatArg, ameyo_of, answer, explained, state_of
from .contacts import SCAN_CAP
from .session_tools import CampaignArg


async def ameyo_add_callback(
    ctx: Context[Any, Any],
    campaign: CampaignArg,
    callback_time: Annotated[
        str,
        Field(
            max_length=64,
            description="When to call, ISO 8601, e.g. 2026-11-28T15:00:00 (read in the Ameyo server's zone) "
            "or with an offset; must be in the future",
        ),
    ],
    customer_id: Annotated[
        int | None, Field(description="Ameyo customer id (from ameyo_get_contacts)")
    ] = None,
    phone: Annotated[
        str | None, Field(max_length=40, description="Number to call; finds the customer by it if no id")
    ] = None,
    agent: Annotated[
        str | None, Field(max_length=64, description="Ameyo user id of the agent to route it to")
    ] = None,
    self_callback: Annotated[bool, Field(description="Reserve it for that agent only")] = False,
    allow_repeat: AllowRepeatArg = False,
) -> Annotated[CallToolResult, CallbackOut]:
    """Schedule a callback for an existing customer of a campaign, by customer id or phone number.
    For a customer not yet in Ameyo use ameyo_upload_contacts_with_callbacks."""
    ameyo = ameyo_of(ctx)
    if customer_id is None and not phone:
        raise ToolError("Give customer_id or phone: whom should Ameyo call back?")
    async with explained(ameyo):
        info = await ameyo.campaign(campaign)
    async with explained(ameyo, info):
        when = parse_callback_time(callback_time, ameyo.settings.zone)
        contact = await _find(ameyo, info, customer_id, phone)
    number = phone or str(contact.customer_data.get("phone1") or "")
    request = AddCallbackRequest(
        campaign_id=info.campaign_id,
        call_back_time=when.wire,
        is_self_call_back="true" if self_callback else "false",
        user_id=agent,
        properties={"customerId": str(contact.customer_id), "phone": number},
    )

    async def write() -> CallToolResult:
        async with explained(ameyo, info):
            created = await ameyo.add_callback(request)
        return _answer(ameyo, info, contact, created, number, when.at, agent)

    return await state_of(ctx).guard.run(
        ctx,
        "ameyo_add_callback",
        request.wire(),
        records=1,
        allow_repeat=allow_repeat,
        confirm=True,
        write=write,
    )


def _answer(
    ameyo: Ameyo,
    info: CampaignInfo,
    contact: Contact,
    created: list[Callback],
    number: str,
    at: datetime,
    agent: str | None,
) -> CallToolResult:
    if not created:
        raise ToolError("Ameyo accepted the callback but returned no record of it: check with the supervisor")
    callback = created[0]
    name = display_name(contact.customer_data)
    moment = callback.callback_time or at
    out = CallbackOut(
        campaign=campaign_out(info),
        callback_id=callback.callback_id,
        customer_id=callback.customer_id or callback.properties.customer_id or contact.customer_id,
        name=clean_text(name, 60) if name else None,
        phone=clean_text(callback.phone or callback.properties.phone or number, 24),
        time=show(moment, ameyo.settings.zone),
        timezone=str(ameyo.settings.zone),
        assigned_to=callback.user_id or agent,
        self_callback=callback.is_self_callback,
    )
    return answer(callback_text(out), out)


async def _find(ameyo: Ameyo, info: CampaignInfo, customer_id: int | None, phone: str | None) -> Contact:
    base = GetContactsRequest(campaign_id=info.campaign_id)
    label = f"{info.campaign_name} ({info.campaign_id})"
    if customer_id is not None:
        found = await ameyo.get_contacts(base.model_copy(update={"customer_ids": [str(customer_id)]}))
        if not found:
            raise ToolError(
                f"Customer {customer_id} is not in campaign {label}: look it up with ameyo_get_contacts"
            )
        return found[0]
    wanted = digits(phone or "")
    if len(wanted) < 4:
        raise ToolError("phone must have at least 4 digits")

    def same_phone(contact: Contact) -> bool:
        # A number given with or without its country or trunk prefix is the same number.
        return any(p and (p.endswith(wanted) or wanted.endswith(p)) for p in phones(contact))

    scan = await ameyo.scan_contacts(base, same_phone, cap=SCAN_CAP)
    if not scan.matches:
        raise ToolError(
            f"No customer with phone {clean_text(phone or '', 24)} in campaign {label}"
            + (" (among the first contacts scanned)" if scan.capped else "")
            + ": add them and the callback together with ameyo_upload_contacts_with_callbacks"
        )
    if len(scan.matches) > 1:
        ids = ", ".join(str(c.customer_id) for c in scan.matches[:10])
        raise ToolError(f"Several customers have that phone ({ids}): pass customer_id to choose one")
    return scan.matches[0]
