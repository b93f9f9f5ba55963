"""The campaign columns getContacts can add to a contact (section 4.6.2 of the vendor document), and the
values of its `status` column (section 4.6.3 item 9)."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InputError
from ..rules.outcomes import DIAL_STATUSES
from ..rules.sanitize import clean_text

CAMPAIGN_COLUMN_PREFIX = "__campaign_customer_table_alias__."

# In the document's order.
CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "attempts",
    "last_dialed",
    "status",
    "last_churn_1",
    "last_churn_2",
    "disposition",
    "last_churn_date",
    "churn_count",
    "last_user_id",
    "num_inbound_attempted",
    "num_outbound_attempted",
    "num_inbound_connected",
    "num_outbound_connected",
    "last_connected_time",
    "last_dialed_time",
    *(f"last_status_{k}" for k in range(1, 5)),
    *(f"last_disposition_{k}" for k in range(1, 5)),
    *(f"last_user_id_{k}" for k in range(1, 5)),
    *(f"last_dialed_number_{k}" for k in range(1, 5)),
    *(f"last_dialed_time_{k}" for k in range(1, 5)),
)

INDEX_COLUMNS: tuple[str, ...] = ("status", "disposition", "attempts", "last_dialed_time")
"""The campaign columns the contacts index keeps of a contact (`index.sync.contact_rows`): asked for
by every page of a sync and by every read of the customers added since it, whose contacts the index
keeps too (`index.catch_up`)."""


def index_columns() -> dict[str, str]:
    """`INDEX_COLUMNS` as getContacts' otherColumns asks for them (each under its own name)."""
    return {CAMPAIGN_COLUMN_PREFIX + c: c for c in INDEX_COLUMNS}


STATUSES: tuple[str, ...] = ("NOT_TRIED", *DIAL_STATUSES)
# Dispositions are set per deployment by agents; the document's examples (item 10) seed completions.
EXAMPLE_DISPOSITIONS: tuple[str, ...] = ("Sale", "Foreign Language", "DNC")


def statuses_of(given: Iterable[str]) -> list[str]:
    """Statuses as the document spells them ("no answer" is NO_ANSWER); blanks are left out. Any
    other word raises InputError naming the statuses: a misspelt status would match nothing in a
    filter ("no such customers") and be refused by Ameyo in an upload, after a dry run passed it."""
    wanted = [s.strip().upper().replace(" ", "_") for s in given if s.strip()]
    unknown = sorted(set(wanted) - set(STATUSES))
    if unknown:
        raise InputError(
            f"Unknown status {', '.join(clean_text(u, 30) for u in unknown[:5])}: "
            f"the statuses are {', '.join(STATUSES)}"
        )
    return list(dict.fromkeys(wanted))


MAX_ID = 2**63 - 1
"""Ameyo's customer and lead ids are Java longs: a larger number names nobody (2^70 would be sent
as is, and read by Ameyo as another number or refused)."""
MAX_ATTEMPTS = 1000
"""Most attempts an upload may say were already made: a 31-digit count is a mistake, not a history."""


def attempts_of(given: int) -> int:
    """The attempts an upload says were already made (`numAttempts`), within 0 to `MAX_ATTEMPTS`."""
    if not 0 <= given <= MAX_ATTEMPTS:
        raise InputError(f"attempts must be from 0 to {MAX_ATTEMPTS:,}, not {clean_text(given, 40)}")
    return given


def id_in(text: str) -> int | None:
    """The Ameyo id a text spells (ASCII digits, from 1 to `MAX_ID`), or None: `²` and a 20-digit
    number are no id, and `007` is 7."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def id_of(given: int) -> int:
    """A customer or lead id as Ameyo can hold it: a whole number from 1 to `MAX_ID`."""
    if not 0 < given <= MAX_ID:
        raise InputError(f"an Ameyo id is a whole number from 1 to {MAX_ID} (19 digits), not {given}")
    return given


def status_of(given: str) -> str:
    """The status an upload gives new contacts (`statuses_of`); blank is NOT_TRIED."""
    return next(iter(statuses_of([given])), "NOT_TRIED")
