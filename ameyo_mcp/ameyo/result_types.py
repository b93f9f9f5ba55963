"""Ameyo's result types for an uploaded record, classified once: what each means for the customer.

The upload tools, a file upload's report, the audit trail and the index all read an answer row
through `kind` and `effect`, so that one answer is counted the same way by each of them.
"""

from __future__ import annotations

from typing import Final, Literal

ADDED: Final = "ADDED"
UNKNOWN: Final = "UNKNOWN"
# The customer was saved as sent: added, updated, or moved into the lead.
SAVED: Final = frozenset({"ADDED", "UPDATED", "MIGRATED", "UPDATED_AND_MIGRATED"})
# The customer existed and was left unchanged: not an error when the record's callback was scheduled.
KEPT_AS_IS: Final = frozenset({"DUPLICATE_NOT_ADDED", "NOT_MIGRATED"})
# Already in the campaign, left as it was.
DUPLICATE: Final = "DUPLICATE_NOT_ADDED"
# The move into the lead that was asked for did not happen (counted with the duplicates).
NOT_MOVED: Final = "NOT_MIGRATED"
# Updated and moved into the lead, as both were asked for (counted with the updated).
UPDATED_AND_MOVED: Final = "UPDATED_AND_MIGRATED"
# Updated where it is: an existing customer's fields, in whichever lead holds it.
UPDATED_IN_PLACE: Final = "UPDATED"
# No customer has the record's phone1 as it was sent: Ameyo matched none, and could not add one.
ADD_FAILED: Final = "ADD_FAILED"
# The customer is now in the lead the records were sent to: what a disabled lead keeps from the dialer.
IN_THE_LEAD: Final = frozenset({"ADDED", "MIGRATED", "UPDATED_AND_MIGRATED"})

Effect = Literal["added", "updated", "moved", "duplicate", "failed"]
_EFFECTS: Final[dict[str, Effect]] = {
    "ADDED": "added",
    "UPDATED": "updated",
    "UPDATED_AND_MIGRATED": "updated",
    "MIGRATED": "moved",
    "DUPLICATE_NOT_ADDED": "duplicate",
    "NOT_MIGRATED": "duplicate",
}


def kind(result_type: str | None, inserted: bool) -> str:
    """A row's result type. A row without one (an answer spelt otherwise than the document's)
    added its customer when it says `inserted`; otherwise what happened is unknown."""
    return result_type or (ADDED if inserted else UNKNOWN)


def effect(result: str) -> Effect:
    """What a result type did to the customer: added, updated, moved, duplicate (already there,
    left as it was) or failed (Ameyo's *_FAILED, an unknown type, or no answer)."""
    return _EFFECTS.get(result, "failed")
