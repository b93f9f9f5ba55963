"""Whether an agent a callback is routed to is one the call history knows: Ameyo takes any user
id, and a callback reserved for a misspelt one ("Agent 1 (Ravi)" for agent1) is never dialled."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from mcp.server.mcpserver import Context

from ...errors import StoreError
from ...rules.sanitize import data_text, fence
from ...store.records import CallQuery
from .common import store_of

# How far back the history is asked who the agents are: long enough for every agent on shift.
SEEN_DAYS = 30
_NAMED = 5  # agents without calls named in a note
_LISTED = 10  # agents with calls listed beside them


async def unknown_agents_note(ctx: Context[Any, Any], agents: Iterable[str]) -> list[str]:
    """A note naming the `agents` (Ameyo user ids) with no call pushed to this server in the last
    `SEEN_DAYS` days, and the agents that have; nothing when all have, or the history holds no
    agent at all (pushes not set up: it cannot tell)."""
    asked = list(dict.fromkeys(a.strip() for a in agents if a and a.strip()))
    if not asked:
        return []
    since = datetime.now(UTC) - timedelta(days=SEEN_DAYS)
    store = store_of(ctx)

    def read() -> tuple[list[str], list[tuple[str, int]]]:
        unseen = [a for a in asked if not store.call_history(CallQuery(since=since, agent=a, limit=0)).total]
        return unseen, (store.agents(CallQuery(since=since), limit=_LISTED) if unseen else [])

    try:
        unseen, seen = await anyio.to_thread.run_sync(read)
    except (StoreError, OSError):
        return []
    if not unseen or not seen:
        return []
    names = ", ".join(repr(data_text(a, 40)) for a in unseen[:_NAMED])
    if len(unseen) > _NAMED:
        names += f" and {len(unseen) - _NAMED} more"
    known = ", ".join(f"{name} {calls:,}" for name, calls in seen)
    many = len(unseen) > 1
    which = f"the {len(seen)} with the most calls" if len(seen) == _LISTED else "with their calls"
    said = (
        f"Note: no call pushed to this server in the last {SEEN_DAYS} days was taken by "
        f"{'agents' if many else 'agent'} {names}. Ameyo routes a callback to any user id as given: "
        f"if {'these are' if many else 'this is'} not an Ameyo user id, the callback waits for nobody. "
        f"Agents here ({which}):"
    )
    return [said, *fence([known])]
