"""Campaign contacts computed from their position, for campaigns too large to build at start.

A contact at position ``p`` is a pure function of ``(seed, p)``: nothing is stored until a contact
changes (the table keeps changed contacts in an overlay). Customer ids are ``12000 + p``, so a
position and an id convert by arithmetic, and each phone1 is an affine permutation of ``p``, so a
phone converts back to its position too (uploads find duplicates without an index of a million
numbers). Position 0 holds the vendor document's addCallback customer, 112.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from .data import (
    _INDIAN_CITIES,
    _INDIAN_FIRST,
    _INDIAN_LAST,
    _SPANISH_CITIES,
    _SPANISH_FIRST,
    _SPANISH_LAST,
    _STATUS_WEIGHTS,
    AGENTS,
    DISPOSITIONS,
    DOC_CUSTOMER_ID,
    ColumnValue,
    Contact,
    _ascii,
    document_sample_customer,
    fresh_columns,
)

FIRST_ID = 12000  # customer id of position p is FIRST_ID + p (position 0 is customer 112)
MAX_CONTACTS = 10_000_000  # every range below holds more numbers than this

# Phone bodies: Indian mobiles (10 digits) and Spanish mobiles (9 digits). phone1 and phone2 draw from
# disjoint ranges, so no phone2 is ever another contact's phone1.
_IN_PHONE1 = (7_000_000_000, 3_000_000_000)  # start, size: 7xxxxxxxxx-9xxxxxxxxx
_IN_PHONE2 = (6_000_000_000, 1_000_000_000)
_ES_PHONE1 = (600_000_000, 100_000_000)
_ES_PHONE2 = (700_000_000, 100_000_000)
_IN_PREFIXES = ("", "91", "0")
_ES_PREFIXES = ("34", "0034")
# Coprime with every range size above (whose only prime factors are 2, 3 and 5).
_MULTIPLIER = 2_654_435_761

_STATUS_TABLE: tuple[str, ...] = tuple(s for s, w in _STATUS_WEIGHTS.items() for _ in range(w))
_LEAD_PATTERN_LENGTH = 97
_AGENT_STATUSES = frozenset({"CONNECTED", "CALL_NOT_PICKED"})
_GAPS = tuple(timedelta(hours=2, minutes=16 * x) for x in range(256))  # between two dials
_FRESH = fresh_columns()
_SPANISH_REGIONS = tuple(f"REGIÓN {n}" for n in range(1, 7))
# The first names of the "few-first" distribution: six, each a sixth of the campaign.
_FEW_FIRST = ("Sofia", "Priya", "Maria", "Rahul", "Carmen", "Amit")
_EMAIL_NAMES = {
    name: _ascii(name).lower()
    for name in (*_INDIAN_FIRST, *_INDIAN_LAST, *_SPANISH_FIRST, *_SPANISH_LAST, *_FEW_FIRST, "Sharma")
}
# Column names of the k-th last call, k = 1..4.
_KTH = tuple(
    (f"last_status_{k}", f"last_dialed_time_{k}", f"last_dialed_number_{k}", f"last_user_id_{k}",
     f"last_disposition_{k}")
    for k in range(1, 5)
)  # fmt: skip


class GeneratedContacts:
    """The ``count`` contacts of one campaign, position 0 first, all derived from ``seed``."""

    builds_contacts = True

    def __init__(
        self,
        count: int,
        seed: int,
        campaign_id: int,
        leads: dict[int, int],
        now: datetime,
        *,
        names: str = "varied",
    ) -> None:
        if not 2 <= count <= MAX_CONTACTS + 1:  # + customer 112
            raise ValueError(f"a generated campaign holds 2 to {MAX_CONTACTS:,} contacts, not {count:,}")
        self.count = count
        self.campaign_id = campaign_id
        self.few_first = names == "few-first"
        self.now = now.replace(microsecond=0)
        self._key = hashlib.blake2b(f"ameyo-simulator-{seed}".encode(), digest_size=16).digest()
        rng = random.Random(f"generated-{seed}")
        self._offsets = {name: rng.randrange(1 << 40) for name in ("in1", "in2", "es1", "es2")}
        # The lead of a position repeats with a short period, so a whole campaign's leads are one
        # bytes multiplication instead of a million hashes.
        self.lead_pattern: tuple[int, ...] = tuple(
            rng.choices(tuple(leads), weights=tuple(leads.values()), k=_LEAD_PATTERN_LENGTH)
        )
        self.doc_position = DOC_CUSTOMER_ID - FIRST_ID if count > DOC_CUSTOMER_ID - FIRST_ID else None

    # --- ids and positions -----------------------------------------------------------------------

    def id_at(self, position: int) -> int:
        return 112 if position == 0 else FIRST_ID + position

    def position_of(self, customer_id: int) -> int | None:
        if customer_id == 112:
            return 0
        position = customer_id - FIRST_ID
        return position if 1 <= position < self.count else None

    def lead_at(self, position: int) -> int:
        if position == 0 or position == self.doc_position:
            return 1
        if position == 1:
            return 21
        return self.lead_pattern[position % _LEAD_PATTERN_LENGTH]

    def lead_codes(self, code_of: Callable[[int], int]) -> bytearray:
        pattern = bytes(code_of(lead) for lead in self.lead_pattern)
        codes = bytearray((pattern * (self.count // len(pattern) + 1))[: self.count])
        for position in (0, 1, self.doc_position):
            if position is not None:
                codes[position] = code_of(self.lead_at(position))
        return codes

    def __len__(self) -> int:
        return self.count

    # --- phones ----------------------------------------------------------------------------------

    def _number(self, kind: str, span: tuple[int, int], position: int) -> int:
        start, size = span
        return start + (_MULTIPLIER * position + self._offsets[kind]) % size

    def _position_from(self, kind: str, span: tuple[int, int], number: int) -> int | None:
        start, size = span
        if not start <= number < start + size:
            return None
        return (number - start - self._offsets[kind]) * pow(_MULTIPLIER, -1, size) % size

    def position_of_phone(self, phone: str) -> int | None:
        """The position whose phone1 is exactly ``phone``, if any."""
        candidates: list[int] = []
        for prefix in _IN_PREFIXES:
            body = phone[len(prefix) :]
            if phone.startswith(prefix) and len(body) == 10 and body.isdigit():
                found = self._position_from("in1", _IN_PHONE1, int(body))
                if found is not None:
                    candidates.append(found)
        for prefix in _ES_PREFIXES:
            body = phone[len(prefix) :]
            if phone.startswith(prefix) and len(body) == 9 and body.isdigit():
                found = self._position_from("es1", _ES_PHONE1, int(body))
                if found is not None:
                    candidates.append(found)
        for position in (0, self.doc_position):
            if position is not None:
                candidates.append(position)
        return next((p for p in candidates if 0 <= p < self.count and self.phone1_at(p) == phone), None)

    def phone1_at(self, position: int) -> str:
        if position == 0 or position == self.doc_position:
            return self.contact_at(position).phone1
        return self._phones(position, self._digest(position))[0]

    def _phones(self, position: int, d: bytes) -> tuple[str, str]:
        if d[0] % 10 < 6:
            prefix = _ES_PREFIXES[d[1] % 2]
            return (
                prefix + str(self._number("es1", _ES_PHONE1, position)),
                prefix + str(self._number("es2", _ES_PHONE2, position)),
            )
        prefix = _IN_PREFIXES[d[1] % 3]
        return (
            prefix + str(self._number("in1", _IN_PHONE1, position)),
            prefix + str(self._number("in2", _IN_PHONE2, position)),
        )

    # --- contacts --------------------------------------------------------------------------------

    def _digest(self, position: int) -> bytes:
        """32 random bytes for ``position``; each field reads its own bytes (a page is built in ms)."""
        return hashlib.blake2b(position.to_bytes(8, "little"), digest_size=32, key=self._key).digest()

    def contact_at(self, position: int) -> Contact:
        """A new Contact object for ``position`` (the caller may keep and change it)."""
        if position == 0:
            return document_sample_customer(self.campaign_id)
        d = self._digest(position)
        customer_id = self.id_at(position)
        if position == self.doc_position:
            return _document_customer(self.campaign_id, self.now, d)
        spanish = d[0] % 10 < 6
        phone1, phone2 = self._phones(position, d)
        if position == 1:
            first, last = "Priya", "Sharma"
        elif self.few_first:
            first, last = _FEW_FIRST[d[2] % len(_FEW_FIRST)], str(position)
        elif spanish:
            first, last = _SPANISH_FIRST[d[2] % 15], _SPANISH_LAST[d[3] % 15]
        else:
            first, last = _INDIAN_FIRST[d[2] % 20], _INDIAN_LAST[d[3] % 15]
        data: dict[str, str] = {"name": f"{first} {last}", "phone1": phone1}
        if d[4] < 77:  # 30%
            data["phone2"] = phone2
        if d[5] < 179:  # 70%
            data["email"] = f"{_EMAIL_NAMES[first]}.{_EMAIL_NAMES.get(last, last)}{d[6] % 99 + 1}@example.com"
        if spanish:
            data["city"] = _SPANISH_CITIES[d[7] % len(_SPANISH_CITIES)]
            data["region"] = _SPANISH_REGIONS[d[7] % 6]
        else:
            data["city"], data["region"] = _INDIAN_CITIES[d[7] % len(_INDIAN_CITIES)]
        if d[8] % 2:
            data["login"] = str(100000 + (d[9] << 16 | d[10] << 8 | d[11]) % 900000)
        columns = _history(d, data, self.now)
        return Contact(customer_id, self.campaign_id, self.lead_at(position), data, columns)


def _document_customer(campaign_id: int, now: datetime, d: bytes) -> Contact:
    # Sample 4.6.5, as in the listed seed: five attempts, the last one BUSY.
    data = {"region": "REGIÓN 4", "login": "504089", "phone1": "0458681166572"}
    columns = _history(d, data, now, attempts=5, last_status="BUSY")
    columns.update(num_inbound_attempted=0, num_inbound_connected=0)
    return Contact(DOC_CUSTOMER_ID, campaign_id, 1, data, columns)


def _history(
    d: bytes, data: dict[str, str], now: datetime, attempts: int | None = None, last_status: str | None = None
) -> dict[str, ColumnValue]:
    """Dial history columns shaped like the listed seed's, read from bytes 12-31 of ``d``."""
    if attempts is None:
        r = d[12] % 100
        attempts = 0 if r < 30 else 1 + r % 10
    columns = _FRESH.copy()  # fresh_columns(attempts=attempts), at a tenth of the cost
    if attempts == 0:
        return columns
    columns["attempts"] = columns["num_outbound_attempted"] = attempts
    when = now - timedelta(seconds=3600 + (d[13] << 16 | d[14] << 8 | d[15]) % (20 * 86400))
    columns["last_dialed"] = columns["last_dialed_time"] = when
    numbers = (data["phone1"], data.get("phone2", data["phone1"]))
    connected: datetime | None = None
    disposition: str | None = None
    last_user: str | None = None
    outbound_connected = 0
    for k, (status_key, time_key, number_key, user_key, disposition_key) in enumerate(_KTH[:attempts]):
        at = 16 + 4 * k
        status = last_status if k == 0 and last_status else _STATUS_TABLE[d[at] % len(_STATUS_TABLE)]
        columns[status_key] = status
        columns[time_key] = when
        columns[number_key] = numbers[0] if d[at + 1] < 205 else numbers[1]  # 80% phone1
        if status in _AGENT_STATUSES:
            agent = AGENTS[d[at + 2] % len(AGENTS)]
            columns[user_key] = agent
            last_user = last_user or agent
        if status == "CONNECTED":
            chosen = DISPOSITIONS[d[at + 2] // len(AGENTS) % len(DISPOSITIONS)]
            columns[disposition_key] = chosen
            disposition = disposition or chosen
            connected = connected or when
            outbound_connected += 1
        when -= _GAPS[d[at + 3]]
    columns.update(
        status=columns["last_status_1"],
        disposition=disposition,
        last_user_id=last_user,
        last_connected_time=connected,
        num_outbound_connected=outbound_connected,
    )
    return columns
