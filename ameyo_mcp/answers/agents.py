"""Whether an agent a callback is routed to is one the call history knows: Ameyo takes any user
id, and a callback reserved for a misspelt one ("Agent 1 (Ravi)" for agent1) is never dialled."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ..rules.sanitize import data_text, fence
from ..store import Store
from ..store.records import CallQuery

# How far back the history is asked who the agents are: long enough for every agent on shift.
SEEN_DAYS = 30
_NAMED = 5  # agents without calls named in a note
_LISTED = 10  # agents with calls listed beside them


def unknown_agents_note(store: Store, agents: Iterable[str], now: datetime | None = None) -> str | None:
    """A note naming the `agents` (Ameyo user ids) with no call pushed to this server in the last
    `SEEN_DAYS` days, and the agents that have; None when all have, or the history holds no agent
    at all (pushes not set up: it cannot tell). Reads the store: call it off the event loop."""
    asked = list(dict.fromkeys(a.strip() for a in agents if a and a.strip()))
    if not asked:
        return None
    since = (now or datetime.now(UTC)) - timedelta(days=SEEN_DAYS)
    unseen: list[str] = []
    spelt: dict[str, list[str]] = {}  # agents with calls, but only under other spellings
    for agent in asked:
        spellings = store.agent_spellings(CallQuery(since=since, agent=agent))
        if not spellings:
            unseen.append(agent)
        elif agent not in spellings:
            spelt[agent] = spellings
    notes = [_spelt_otherwise(agent, spellings) for agent, spellings in spelt.items()]
    seen = store.agents(CallQuery(since=since), limit=_LISTED) if unseen else []
    if not unseen or not seen:
        return "\n".join(notes) or None
    names = ", ".join(repr(data_text(a, 40)) for a in unseen[:_NAMED])
    if len(unseen) > _NAMED:
        names += f" and {len(unseen) - _NAMED} more"
    known = ", ".join(f"{name} {calls:,}" for name, calls in seen)
    many = len(unseen) > 1
    which = f"the {len(seen)} with the most calls" if len(seen) == _LISTED else "with their calls"
    said = (
        f"Note: no call pushed to this server in the last {SEEN_DAYS} days was taken by "
        f"{'agents' if many else 'agent'} {names}. Ameyo routes a callback to any user id as given: "
        f"if {'these are' if many else 'this is'} not an Ameyo user id, the callback waits for nobody: "
        "schedule it again for a user id below (another agent is another callback) and remove this "
        f"one in Ameyo's console. Agents here ({which}):"
    )
    return "\n".join([*notes, said, *fence([known])])


def _spelt_otherwise(agent: str, spellings: list[str]) -> str:
    said = (
        f"Note: the calls pushed to this server spell agent {data_text(agent, 40)!r} otherwise (below): "
        "Ameyo may tell user ids apart by case, and routes a callback to the id as given. If the "
        "callback is for that agent, schedule it for the id as spelt there and remove this one in "
        "Ameyo's console."
    )
    return "\n".join([said, *fence([", ".join(spellings)])])
