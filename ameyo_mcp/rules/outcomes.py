"""Call outcomes as people count them: one outcome, however the pushes spelt it.

A push names its outcome by the disposition's name ("Not Interested"), or by its code where the
name is missing ("NOT_INTERESTED"), or by the system disposition ("NO_ANSWER"): counted apart they
read as two outcomes. The one place outcome names are folded; the store's disposition filter
compares them the same way (case, and "_" for a space).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from .sanitize import data_text, fold

OUTCOME_CAP = 60

# Section 4.6.3 item 9: a contact's last status is one of these, or NOT_TRIED when never dialed.
DIAL_STATUSES: tuple[str, ...] = (
    "BUSY",
    "NO_ANSWER",
    "CONNECTED",
    "CALL_DROP",
    "CALL_HANGUP",
    "AMD",
    "ATTEMPT_FAILED",
    "TRANSFERRED_TO_CAMPAIGN",
    "CALL_NOT_PICKED",
    "NUMBER_FAILURE",
    "NUMBER_TEMP_FAILURE",
    "PROVIDER_FAILURE",
    "PROVIDER_TEMP_FAILURE",
    "SYSTEM_ERROR",
    "FAILED",
    "SIT_INTERCEPT",
    "SIT_VACANT",
    "SIT_NOCIRCUIT",
    "SIT_REORDER",
)
# A contact without a status, in the counts by status (the sync's, the index's and a live read's).
UNKNOWN_STATUS = "UNKNOWN"


def outcome_key(name: str) -> str:
    """What makes two spellings one outcome: "Sale" and "SALE", "Not Interested" and
    "NOT_INTERESTED" (case, accents, and "_" or "-" for a space)."""
    return " ".join(fold(name).replace("_", " ").replace("-", " ").split())


def outcome_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Counts by outcome with each outcome once, most first, each under one spelling: the name
    agents chose ("Sale") before a code ("SALE"), then the spelling most pushed. Names are customer
    text, made safe to show (`data_text`), in the text and the JSON alike."""
    spellings: dict[str, Counter[str]] = {}
    for name, n in counts.items():
        shown = data_text(name, OUTCOME_CAP) or "unknown"
        spellings.setdefault(outcome_key(shown), Counter())[shown] += n
    merged: dict[str, int] = {}
    for seen in spellings.values():
        best = min(seen, key=lambda s: (not any(c.islower() for c in s), -seen[s], s))
        merged[best] = sum(seen.values())
    return dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])))
