"""Completions (MCP `completion/complete`) for the arguments of our prompts and resource templates:
campaign names, lead ids, statuses and dispositions.

A completion is a convenience: when Ameyo cannot be asked, the answer is the static part or empty,
never an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from ..ameyo.columns import CAMPAIGN_COLUMN_PREFIX, EXAMPLE_DISPOSITIONS, STATUSES
from ..ameyo.models import GetContactsRequest
from ..ameyo.service import Ameyo
from ..errors import AmeyoError
from ..rules.sanitize import clean_text, fold

MAX_VALUES = 100  # the protocol's limit per answer
# Dispositions are free text per deployment: read them from one page of the campaign's contacts.
DISPOSITION_SAMPLE = 500
TEMPLATES = frozenset({"ameyo://campaigns/{campaign}/leads"})


def _matching(values: Iterable[str], typed: str) -> Completion:
    wanted = fold(typed)
    found = list(dict.fromkeys(v for v in values if fold(v).startswith(wanted)))
    if len(found) < MAX_VALUES:
        found += [v for v in dict.fromkeys(values) if wanted in fold(v) and v not in found]
    return Completion(values=found[:MAX_VALUES], total=len(found), has_more=len(found) > MAX_VALUES)


async def complete(
    ameyo: Ameyo | None,
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None,
    prompts: Mapping[str, frozenset[str]],
) -> Completion | None:
    """Values for one argument of one of our prompts (`prompts`: each one's arguments) or
    templates, starting with what was typed; none for an argument the prompt does not take."""
    if isinstance(ref, PromptReference):
        ours = argument.name in prompts.get(ref.name, frozenset())
    else:
        ours = ref.uri in TEMPLATES and argument.name == "campaign"
    if not ours:
        return None
    given = dict(context.arguments or {}) if context else {}
    name, typed = argument.name, argument.value
    if name == "status":
        return _matching(STATUSES, typed)
    if ameyo is None:
        return _matching(EXAMPLE_DISPOSITIONS, typed) if name == "disposition" else None
    try:
        if name == "campaign":
            return _matching([c.campaign_name for c in await ameyo.campaigns()], typed)
        if name in ("lead", "lead_id") and given.get("campaign"):
            info = await ameyo.campaign(given["campaign"])
            ids = sorted(lead.lead_id for lead in await ameyo.leads(info.campaign_id))
            return _matching([str(i) for i in ids], typed)
        if name == "disposition":
            seen: list[str] = []
            if given.get("campaign"):
                info = await ameyo.campaign(given["campaign"])
                seen = await _dispositions(ameyo, info.campaign_id)
            return _matching([*seen, *EXAMPLE_DISPOSITIONS], typed)
    except AmeyoError:
        return _matching(EXAMPLE_DISPOSITIONS, typed) if name == "disposition" else None
    return None


async def _dispositions(ameyo: Ameyo, campaign_id: int) -> list[str]:
    request = GetContactsRequest(
        campaign_id=campaign_id,
        other_columns={CAMPAIGN_COLUMN_PREFIX + "disposition": "disposition"},
        limit_offset=f"LIMIT {DISPOSITION_SAMPLE} OFFSET 0",
    )
    contacts = await ameyo.get_contacts(request)
    values = (str(c.extra_data.get("disposition") or "").strip() for c in contacts)
    return sorted({clean_text(v, 60) for v in values if v})
