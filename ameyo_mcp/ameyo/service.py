"""Ameyo: the client and its one session, with the lookups every tool needs.

Tools, the `check` command and the bulk uploader all go through this object; none of them builds a
request with a session id or resolves a campaign name on its own.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

import anyio

from ..config import Settings
from ..errors import AmeyoError, NotFound
from .client import AmeyoClient
from .columns import id_in
from .models import (
    CONTACTS_AS_SENT,
    CampaignInfo,
    Command,
    Contact,
    GetContactsRequest,
    GetLeadsRequest,
    Lead,
    Reply,
)
from .session import SessionManager

if TYPE_CHECKING:
    import httpx

    from ..store import Store

T = TypeVar("T")
U = TypeVar("U")

_LEADS_TTL_S = 60.0
SCAN_PAGE = 500


@dataclass(frozen=True)
class UploadTarget:
    """Where an upload goes, checked before a record is sent."""

    campaign: CampaignInfo
    lead_id: int
    max_phone_length: int
    lead_enabled: bool


@dataclass
class ScanResult:
    matches: list[Contact] = field(default_factory=list)
    scanned: int = 0
    capped: bool = False


class Ameyo:
    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        store: Callable[[], Store] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """`store`: the store the session lease is shared in (the server's); by default one of
        this object's own, opened on first use and closed with it. `wall`: the session's clock,
        seconds since the epoch as every process on the store counts them."""
        self.settings = settings
        self.client = AmeyoClient(settings, transport=transport)
        self._own_store: Store | None = None
        self.store: Callable[[], Store] = store or self._opened_store
        self.session = SessionManager(self.client, settings, clock=wall, store=self.store)
        self._clock = clock
        self._leads: dict[int, tuple[float, list[Lead]]] = {}

    def _opened_store(self) -> Store:
        if self._own_store is None:
            from ..store import open_store  # here: start-up does not pay for the store

            self._own_store = open_store(self.settings)
        return self._own_store

    async def aclose(self, *, logout: bool | None = None) -> None:
        try:
            await self.session.aclose(logout=logout)
        finally:
            try:
                await self.client.aclose()
            finally:
                if self._own_store is not None:
                    self._own_store.close()

    def ready(self) -> str | None:
        """Why no Ameyo session can be had now (a few words), or None: see `SessionManager.ready`."""
        return self.session.ready()

    async def run(self, command: Callable[[str | None], Awaitable[T]]) -> T:
        return await self.session.call(command)

    @overload
    async def send(self, request: Command[T]) -> T: ...
    @overload
    async def send(self, request: Command[Any], reply: Reply[U]) -> U: ...
    async def send(self, request: Command[Any], reply: Reply[Any] | None = None) -> Any:
        """Send a request in the session (logging in as needed), its answer read as `reply` says
        (the request's own by default). Only the write path (writes/path.py) sends a write, once it
        has claimed and audited it."""
        how = request.reply if reply is None else reply
        return await self.run(
            lambda sid: self.client.send(request.model_copy(update={"session_id": sid}), how)
        )

    # -- names and ids -----------------------------------------------------------------------

    async def campaigns(self) -> list[CampaignInfo]:
        if not self.session.uses_sessions:
            return []
        info = await self.session.login()
        return list(info.campaign_infos)

    async def campaign(self, ref: str | int) -> CampaignInfo:
        """A campaign by id (1, "1") or name ("MoviStarSurvey", any case)."""
        known = await self.campaigns()
        text = str(ref).strip()
        number = id_in(text)
        for item in known:
            if number == item.campaign_id or text.lower() == item.campaign_name.lower():
                return item
        if not known and number is not None:
            # Token authentication has no login answer to list campaigns: trust a numeric id.
            return CampaignInfo(campaign_name=f"campaign {number}", campaign_id=number)
        if not known:
            raise NotFound(
                f"Unknown campaign {text[:60]!r}: with token authentication Ameyo lists no campaigns, "
                "so give the campaign's numeric id"
            )
        listing = ", ".join(f"{c.campaign_name} ({c.campaign_id})" for c in known)
        by_name = {c.campaign_name.lower(): c.campaign_name for c in known}
        close = difflib.get_close_matches(text.lower(), list(by_name), n=1)
        guess = f" (did you mean {by_name[close[0]]}?)" if close else ""
        raise NotFound(f"Unknown campaign {text[:60]!r}{guess}: the campaigns of this user are {listing}")

    async def leads(self, campaign_id: int, *, fresh: bool = False) -> list[Lead]:
        cached = self._leads.get(campaign_id)
        if cached is not None and not fresh and self._clock() - cached[0] < _LEADS_TTL_S:
            return cached[1]
        leads = await self.send(GetLeadsRequest(campaign_id=campaign_id))
        self._leads[campaign_id] = (self._clock(), leads)
        return leads

    async def lead(self, campaign: CampaignInfo, lead_id: int, *, fresh: bool = False) -> Lead:
        leads = await self.leads(campaign.campaign_id, fresh=fresh)
        for lead in leads:
            if lead.lead_id == lead_id:
                return lead
        raise NotFound(lead_not_in_campaign(lead_id, campaign, leads))

    async def unknown_lead(self, lead_id: int, campaign: CampaignInfo | None = None) -> str | None:
        """Why `lead_id` is no lead of `campaign` (of any of this user's campaigns when None), in the
        words `lead` refuses it with, naming the leads there are; None when it is one, or when the
        campaigns cannot be listed (token authentication) to say so."""
        if campaign is not None:
            leads = await self.leads(campaign.campaign_id)
            found = any(lead.lead_id == lead_id for lead in leads)
            return None if found else lead_not_in_campaign(lead_id, campaign, leads)
        every = await self._leads_of_all(await self.campaigns())
        if not every or any(lead.lead_id == lead_id for _, leads in every for lead in leads):
            return None
        listing = "; ".join(
            f"{info.campaign_name} ({info.campaign_id}): {_lead_ids(leads)}" for info, leads in every
        )
        return f"Lead {lead_id} is in none of this user's campaigns; their leads are {listing}"

    async def _leads_of_all(self, campaigns: Sequence[CampaignInfo]) -> list[tuple[CampaignInfo, list[Lead]]]:
        """Each campaign's leads, asked for together: one wait for Ameyo, not one per campaign. The
        first refusal is raised as itself (not in a group), once every read has ended."""
        found: dict[int, list[Lead]] = {}
        failed: list[AmeyoError] = []

        async def read(info: CampaignInfo) -> None:
            try:
                found[info.campaign_id] = await self.leads(info.campaign_id)
            except AmeyoError as exc:
                failed.append(exc)

        async with anyio.create_task_group() as group:
            for info in campaigns:
                group.start_soon(read, info)
        if failed:
            raise failed[0]
        return [(info, found[info.campaign_id]) for info in campaigns]

    async def upload_target(self, campaign: str | int, lead_id: int) -> UploadTarget:
        """The campaign and lead of an upload, refusing a lead that is not in the campaign, and the
        phone length limit from the login answer. The lead's state is read from Ameyo, not a kept
        copy: whether a migrate puts a customer back in the dialler's queue (`moved_into`) turns on
        it, and a lead enabled a moment ago must not be taken as disabled."""
        info = await self.campaign(campaign)
        lead = await self.lead(info, lead_id, fresh=True)
        login = self.session.info
        return UploadTarget(info, lead_id, login.max_phone_length if login else 20, lead.enabled)

    # -- commands with the session filled in -------------------------------------------------

    async def get_contacts(self, request: GetContactsRequest) -> list[Contact]:
        return await self.send(request)

    async def get_contact_dicts(self, request: GetContactsRequest) -> list[dict[str, Any]]:
        """getContacts with each contact as Ameyo sent it (see `models.CONTACTS_AS_SENT`)."""
        return await self.send(request, CONTACTS_AS_SENT)

    async def scan_contacts(
        self,
        request: GetContactsRequest,
        keep: Callable[[Contact], bool],
        *,
        cap: int,
        page: int = SCAN_PAGE,
    ) -> ScanResult:
        """Page through a campaign with `limitOffset` and keep what `keep` accepts, reading at most
        `cap` contacts: getContacts itself can filter only by customer and lead ids."""
        result = ScanResult()
        offset = 0
        while result.scanned < cap:
            size = min(page, cap - result.scanned)
            batch = await self.get_contacts(
                request.model_copy(update={"limit_offset": f"LIMIT {size} OFFSET {offset}"})
            )
            result.scanned += len(batch)
            result.matches.extend(c for c in batch if keep(c))
            if len(batch) < size:
                return result
            offset += size
        result.capped = True
        return result

    async def explain(self, error: AmeyoError, campaign: CampaignInfo | None = None) -> str:
        """Ameyo's message key turned into a sentence that says what to do next."""
        if error.key and ".lead.not.in.camp" in error.key and campaign is not None:
            lead_id = _int(error.args_[0]) if error.args_ else None
            try:
                leads = await self.leads(campaign.campaign_id)
            except AmeyoError:
                leads = []
            return lead_not_in_campaign(lead_id, campaign, leads)
        return describe_failure(error.key, error.args_, fallback=str(error))


def lead_not_in_campaign(lead_id: int | None, campaign: CampaignInfo, leads: Sequence[Lead]) -> str:
    return (
        f"Lead {lead_id} is not in campaign {campaign.campaign_name} ({campaign.campaign_id}); "
        f"its leads are {_lead_ids(leads)}"
    )


def _lead_ids(leads: Sequence[Lead]) -> str:
    return ", ".join(str(i) for i in sorted(lead.lead_id for lead in leads)) or "unknown"


def duplicate_text(
    lead_id: int | None = None, *, lead_enabled: bool = True, their_lead: int | None = None
) -> str:
    """A customer an upload found already in the campaign and left as it was (DUPLICATE_NOT_ADDED),
    and what would change them: the one place for these words, the upload tools' and a file's.
    `lead_id`: the upload's lead; `their_lead`: the lead the customer is in, when known. Ameyo's
    answer does not say it, and a customer already in the upload's lead has no move to make: a
    move offered there would be a second write that changes nothing. Into a disabled lead
    (`lead_enabled` False) no move is offered either: Ameyo moves no customer there."""
    if their_lead is not None and their_lead == lead_id:
        return f"already in lead {lead_id}, left as it was (update_existing=true updates their fields)"
    where = f"already in lead {their_lead}" if their_lead is not None else "already in the campaign"
    if not lead_enabled:
        return (
            f"{where}, left as it was (update_existing=true updates their fields; this lead is disabled, "
            "and Ameyo moves no customer into it)"
        )
    if their_lead is not None:
        return (
            f"{where}, left as it was (update_existing=true updates their fields, migrate_existing=true "
            "moves them into this lead)"
        )
    return (
        f"{where}, left as it was (update_existing=true updates their fields; if they are in another "
        "lead, migrate_existing=true moves them into this lead)"
    )


_PLAIN: dict[str, str] = {
    "PREPROCESSING_INVALID_LENGTH": "the phone number's length ({0}) is not valid",
    "PREPROCESSOR_NOT_NULLABLE_COLUMN_GIVEN_NULL": "{0} is missing",
    "DUPLICATE_NOT_ADDED": duplicate_text(),
    "NOT_MIGRATED": "already in another lead and not moved (pass migrate_existing=true to move it)",
    "INVALID_RECORD_FAILED": "Ameyo found the record invalid",
    "ADD_FAILED": "Ameyo failed to add the customer",
    "UPDATE_FAILED": "Ameyo failed to update the customer",
    "MIGRATE_FAILED": "Ameyo failed to move the customer to the lead",
    "UPDATE_AND_MIGRATE_FAILED": "Ameyo failed to update and move the customer",
    "INVALID_CONFIGURATION": "the campaign's upload configuration is invalid (ask the Ameyo administrator)",
}
_KEYS: dict[str, str] = {
    "Phone.number.does.not.have.valid.length": "the phone number's length ({0}) is not valid",
    "Column.name.cannot.be.missing.empty": "{0} is missing",
    "lead.not.in.camp": "lead {0} is not in campaign {1}",
    "lead.not.enabled": (
        "lead {0} is disabled, and Ameyo moves no customer into a disabled lead: enable it in Ameyo, "
        "or choose an enabled lead (ameyo_get_leads)"
    ),
    "campaign.not.found": "campaign {0} does not exist",
    "customer.not.found": "customer {0} does not exist in this campaign",
}


def describe_failure(key: str | None, args: Sequence[object], *, fallback: str) -> str:
    """Plain words for a result type or message key; the raw key when we do not know it."""
    if key is None:
        return fallback
    template = _PLAIN.get(key)
    if template is None:
        template = next((text for fragment, text in _KEYS.items() if fragment in key), None)
    if template is None:
        shown = ", ".join(str(a) for a in args)
        return f"Ameyo said {key}" + (f" ({shown})" if shown else "")
    padded = [*(str(a) for a in args), "?", "?"]
    return template.format(*padded)


def _int(value: object) -> int | None:
    text = str(value)
    return int(text) if re.fullmatch(r"-?\d+", text) else None
