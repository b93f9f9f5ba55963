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
_EMAIL_NAMES = {
    name: _ascii(name).lower()
    for name in (*_INDIAN_FIRST, *_INDIAN_LAST, *_SPANISH_FIRST, *_SPANISH_LAST, "Priya", "Sharma")
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

    def __init__(self, count: int, seed: int, campaign_id: int, leads: dict[int, int], now: datetime) -> None:
        if not 2 <= count <= MAX_CONTACTS:
            raise ValueError(f"a generated campaign holds 2 to {MAX_CONTACTS:,} contacts, not {count:,}")
        self.count = count
        self.campaign_id = campaign_id
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
        return self._phones(position, self._hash(position))[0]

    def _phones(self, position: int, h: int) -> tuple[str, str]:
        if h % 10 < 6:
            prefix = _ES_PREFIXES[(h >> 4) % 2]
            return (
                prefix + str(self._number("es1", _ES_PHONE1, position)),
                prefix + str(self._number("es2", _ES_PHONE2, position)),
            )
        prefix = _IN_PREFIXES[(h >> 4) % 3]
        return (
            prefix + str(self._number("in1", _IN_PHONE1, position)),
            prefix + str(self._number("in2", _IN_PHONE2, position)),
        )

    # --- contacts --------------------------------------------------------------------------------

    def _hash(self, position: int) -> int:
        digest = hashlib.blake2b(position.to_bytes(8, "little"), digest_size=32, key=self._key).digest()
        return int.from_bytes(digest, "little")

    def contact_at(self, position: int) -> Contact:
        """A new Contact object for ``position`` (the caller may keep and change it)."""
        if position == 0:
            return document_sample_customer(self.campaign_id)
        h = self._hash(position)
        customer_id = self.id_at(position)
        if position == self.doc_position:
            return _document_customer(self.campaign_id, self.now, h)
        spanish = h % 10 < 6
        phone1, phone2 = self._phones(position, h)
        h >>= 8
        if position == 1:
            first, last = "Priya", "Sharma"
        else:
            h, a = divmod(h, 15)
            h, b = divmod(h, 20)
            first = _SPANISH_FIRST[a] if spanish else _INDIAN_FIRST[b]
            h, c = divmod(h, 15)
            last = _SPANISH_LAST[c] if spanish else _INDIAN_LAST[c]
        data: dict[str, str] = {"name": f"{first} {last}", "phone1": phone1}
        h, r = divmod(h, 100)
        if r < 30:
            data["phone2"] = phone2
        h, r = divmod(h, 100)
        if r < 70:
            data["email"] = f"{_EMAIL_NAMES[first]}.{_EMAIL_NAMES[last]}{r + 1}@example.com"
        h, r = divmod(h, 80)
        if spanish:
            data["city"] = _SPANISH_CITIES[r % len(_SPANISH_CITIES)]
            data["region"] = f"REGIÓN {r % 6 + 1}"
        else:
            data["city"], data["region"] = _INDIAN_CITIES[r % len(_INDIAN_CITIES)]
        h, r = divmod(h, 1_000_000)
        if r % 2:
            data["login"] = str(100000 + r % 900000)
        columns = _history(h, data, self.now)
        return Contact(customer_id, self.campaign_id, self.lead_at(position), data, columns)


def _document_customer(campaign_id: int, now: datetime, h: int) -> Contact:
    # Sample 4.6.5, as in the listed seed: five attempts, the last one BUSY.
    data = {"region": "REGIÓN 4", "login": "504089", "phone1": "0458681166572"}
    columns = _history(h, data, now, attempts=5, last_status="BUSY")
    columns.update(num_inbound_attempted=0, num_inbound_connected=0)
    return Contact(DOC_CUSTOMER_ID, campaign_id, 1, data, columns)


def _history(
    h: int, data: dict[str, str], now: datetime, attempts: int | None = None, last_status: str | None = None
) -> dict[str, ColumnValue]:
    """Dial history columns shaped like the listed seed's, drawn from the bits of ``h``."""
    if attempts is None:
        h, r = divmod(h, 100)
        attempts = 0 if r < 30 else 1 + r % 10
    columns = fresh_columns(attempts=attempts)
    if attempts == 0:
        return columns
    h, r = divmod(h, 21 * 86400 - 3600)
    when = now - timedelta(seconds=3600 + r)
    columns["last_dialed"] = columns["last_dialed_time"] = when
    numbers = (data["phone1"], data.get("phone2", data["phone1"]))
    connected: list[datetime] = []
    disposition: str | None = None
    last_user: str | None = None
    for k, (status_key, time_key, number_key, user_key, disposition_key) in enumerate(_KTH[:attempts]):
        h, r = divmod(h, len(_STATUS_TABLE))
        status = last_status if k == 0 and last_status else _STATUS_TABLE[r]
        columns[status_key] = status
        columns[time_key] = when
        h, r = divmod(h, 10)
        columns[number_key] = numbers[0] if r < 8 else numbers[1]
        if status in ("CONNECTED", "CALL_NOT_PICKED"):
            h, r = divmod(h, len(AGENTS))
            columns[user_key] = AGENTS[r]
            last_user = last_user or AGENTS[r]
        if status == "CONNECTED":
            h, r = divmod(h, len(DISPOSITIONS))
            columns[disposition_key] = DISPOSITIONS[r]
            disposition = disposition or DISPOSITIONS[r]
            connected.append(when)
        h, r = divmod(h, 70 * 60)
        when -= timedelta(hours=2, minutes=r)
    columns.update(
        status=columns["last_status_1"],
        disposition=disposition,
        last_user_id=last_user,
        last_connected_time=connected[0] if connected else None,
        num_outbound_connected=len(connected),
    )
    return columns
