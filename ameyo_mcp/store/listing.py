"""The SQL of a listing of indexed contacts (`ContactQuery`): a page of them in a stable order, and
how many match by status. Without name words the campaign's contacts are walked in customer id
order; with them, the index range of the rarest word (chosen by the store), in its own order, so
that a page deep into a common name costs a walk of that depth and never a sort of every namesake.
"""

from __future__ import annotations

from typing import Any

from .records import ContactQuery


def matching(
    query: ContactQuery, lead: tuple[str, str] | None, contact_of_word: str
) -> tuple[str, list[Any]]:
    """`FROM … WHERE …` of the contacts `query` wants (`c` the contact); `lead`: the range of name
    words walked, the words of `query` other than its start checked on the names."""
    params: list[Any] = [query.campaign_id]
    if lead is None:
        sql = "FROM contacts c WHERE c.campaign_id = ?"
    else:
        sql = f"FROM contact_words w {contact_of_word} WHERE w.campaign_id = ? AND w.word >= ? AND w.word < ?"
        params += lead
        for word in query.words:
            if word != lead[0]:
                sql += " AND c.names LIKE ?"
                params.append(f"% {word}%")
    for column, values in (
        ("c.status", query.statuses),
        ("c.disposition", query.dispositions),
        ("c.lead_id", query.lead_ids),
    ):
        if values:
            sql += f" AND {column} IN ({', '.join('?' * len(values))})"
            params += values
    return sql, params


def order(lead: tuple[str, str] | None) -> str:
    """The walk's own order: the primary key of the table walked, never a sort."""
    return "ORDER BY c.customer_id" if lead is None else "ORDER BY w.word, w.customer_id"
