"""Whether an agent a callback is routed to is one the call history knows: Ameyo takes any user
id, and a callback reserved for a misspelt one ("Agent 1 (Ravi)" for agent1) is never dialled."""

from __future__ import annotations

from collections.abc import Iterable

from ..rules.sanitize import data_text, fence
from ..store import Store

# How many of the newest calls are asked who the agents are: every agent on shift takes some of
# them, and reading them is one bounded walk back from now, whatever the history holds.
RECENT_CALLS = 20_000
_NAMED = 5  # agents without calls named in a note
_LISTED = 10  # agents with calls listed beside them


def unknown_agents_note(store: Store, agents: Iterable[str]) -> str | None:
    """A note naming the `agents` (Ameyo user ids) that took none of the newest `RECENT_CALLS`
    calls pushed to this server (or only under another spelling), and the agents that did; None
    when all did, or the history holds no agent at all (pushes not set up: it cannot tell). Reads
    the store: call it off the event loop."""
    asked = list(dict.fromkeys(a.strip() for a in agents if a and a.strip()))
    if not asked:
        return None
    spellings: dict[str, list[tuple[str, int]]] = {}  # agents in any case: their spellings, calls
    walked = 0
    for agent, calls in store.recent_agents(RECENT_CALLS):
        walked += calls
        if agent is not None:
            spellings.setdefault(agent.lower(), []).append((agent, calls))
    if not spellings:
        return None
    unseen = [a for a in asked if a.lower() not in spellings]
    notes = [
        _spelt_otherwise(a, [spelt for spelt, _ in spellings[a.lower()]])
        for a in asked
        if a.lower() in spellings and a not in {spelt for spelt, _ in spellings[a.lower()]}
    ]
    if not unseen:
        return "\n".join(notes) or None
    ranked = sorted(
        ((min(s for s, _ in each), sum(n for _, n in each)) for each in spellings.values()),
        key=lambda agent: (-agent[1], agent[0]),
    )
    seen = ranked[:_LISTED]
    names = ", ".join(repr(data_text(a, 40)) for a in unseen[:_NAMED])
    if len(unseen) > _NAMED:
        names += f" and {len(unseen) - _NAMED} more"
    known = ", ".join(f"{name} {calls:,}" for name, calls in seen)
    many = len(unseen) > 1
    which = f"the {len(seen)} with the most calls" if len(seen) == _LISTED else "with their calls"
    said = (
        f"Note: none of the {walked:,} newest calls pushed to this server was taken by "
        f"{'agents' if many else 'agent'} {names}. Ameyo routes a callback to any user id as given: "
        f"if {'these are' if many else 'this is'} not an Ameyo user id, the callback waits for nobody: "
        "schedule it again for a user id below (another agent is another callback) and remove this "
        f"one in Ameyo's console. Agents here ({which}):"
    )
    return "\n".join([*notes, said, *fence([known])])


def _spelt_otherwise(agent: str, spellings: list[str]) -> str:
    # The ledger takes agent ids in any case as one callback (`plans.callback_key`): advice to
    # schedule it for the other spelling, without allow_repeat, was refused as a repeat.
    said = (
        f"Note: the calls pushed to this server spell agent {data_text(agent, 40)!r} otherwise (below): "
        "Ameyo may tell user ids apart by case, and routes a callback to the id as given. If the "
        "callback is for that agent, schedule it again for the id as spelt there with "
        "ameyo_add_callback and allow_repeat=true (this server takes agent ids in any case as one "
        "callback, and sends nothing again without it), then remove this one in Ameyo's console: "
        "the Customer Manager API can neither move nor cancel a callback."
    )
    return "\n".join([said, *fence([", ".join(spellings)])])
