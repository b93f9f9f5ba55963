"""A call-history query's filters as SQL on the calls table, and the outcome the counts group by."""

from __future__ import annotations

from typing import Any

from .records import CallQuery, to_epoch

# Outcomes by the disposition's name, as agents chose it and as getContacts shows it; its code
# where a push carried no name.
OUTCOME = "COALESCE(disposition_name, disposition, system_disposition, 'unknown')"
# A disposition given as its code or its name, in any case, "_" or " ": FOREIGN_LANGUAGE is
# Foreign Language.
FOLDED = "REPLACE(LOWER({}), '_', ' ')"
# Most customers one query names (a name's namesakes are read in one query).
MOST_CUSTOMER_IDS = 400


def folded(disposition: str) -> str:
    return disposition.lower().replace("_", " ")


def newest_first(query: CallQuery) -> str:
    """The ORDER BY of a list of calls, newest first. A list of customers' calls is read from
    calls_customer, each customer's range, and sorted: ordered by `+at`, which no index serves, so
    that no planner walks calls_at back from now through everyone's calls to find a few of theirs
    (what SQLite does with sampled statistics)."""
    several = query.customer_ids is not None and query.customer_id is None
    return "+at DESC, id DESC" if several else "at DESC, id DESC"


def call_filters(query: CallQuery) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause (or nothing) of `query`, and its parameters.

    A number or a list of customers finds few calls, a campaign a great many: the campaign is then
    written so that no index serves it (`+campaign_id`), and no planner, whatever its statistics,
    walks a campaign's calls to find one number's. A customer with a campaign is served by
    calls_customer_campaign, which holds both."""
    clauses: list[str] = []
    params: list[Any] = []
    narrow = query.customer_id is None and (bool(query.phones) or query.customer_ids is not None)
    if query.phones:
        clauses.append(f"phone IN ({', '.join('?' * len(query.phones))})")
        params += query.phones
    for column, value in (
        ("customer_id", query.customer_id),
        ("+campaign_id" if narrow else "campaign_id", query.campaign_id),
        ("lead_id", query.lead_id),
        # Pushed as Ameyo spells it (busy, BUSY): asked for in capitals, as the counts fold it.
        ("UPPER(system_disposition)", query.system_disposition),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.no_campaign:
        clauses.append("campaign_id IS NULL")
    if query.agent is not None:  # userIds as people type them: agent3 is Agent3
        clauses.append("LOWER(agent) = LOWER(?)")
        params.append(query.agent)
    if query.disposition is not None:
        code, name = FOLDED.format("disposition"), FOLDED.format("disposition_name")
        clauses.append(f"({code} = ? OR {name} = ?)")
        params += [folded(query.disposition)] * 2
    if query.customer_ids is not None:
        ids = query.customer_ids
        if len(ids) > MOST_CUSTOMER_IDS:
            raise ValueError(f"at most {MOST_CUSTOMER_IDS} customer ids in one call-history query")
        clauses.append(f"customer_id IN ({', '.join('?' * len(ids))})" if ids else "1 = 0")
        params += ids
    if query.since is not None:
        clauses.append("at >= ?")
        params.append(to_epoch(query.since))
    if query.until is not None:
        clauses.append("at < ?")
        params.append(to_epoch(query.until))
    if query.callback_after is not None:
        clauses.append("callback_at > ?")
        params.append(to_epoch(query.callback_after))
    if query.phone_tails:
        if not all(tail.isdigit() and tail.isascii() for tail in query.phone_tails):
            raise ValueError("phone_tails must be digits only")
        clauses.append("(" + " OR ".join(["phone LIKE ?"] * len(query.phone_tails)) + ")")
        params += ["%" + tail for tail in query.phone_tails]
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)
