"""One campaign's contacts in customer-id order: a base (listed or generated) plus what changed since.

The base never changes. A contact written by an upload or a call is copied into the overlay first,
and contacts added later are appended (their ids only grow), so a position always names the same
customer and a client paging by customer id sees every contact once while uploads happen. Leads are
kept as one byte per position, so a page filtered by lead is found by counting bytes, not by building
contacts; nothing is cached per query, so memory does not grow with the pages served.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from .data import Contact

_CHUNK = 4096  # positions counted at once when looking for the n-th contact of some leads


class Base(Protocol):
    """The contacts a campaign starts with, by position in customer-id order."""

    def __len__(self) -> int: ...
    def id_at(self, position: int) -> int: ...
    def contact_at(self, position: int) -> Contact: ...
    def position_of(self, customer_id: int) -> int | None: ...
    def position_of_phone(self, phone: str) -> int | None: ...
    def lead_at(self, position: int) -> int: ...

    # True when contact_at builds a new object on each call (which a caller may then keep).
    builds_contacts: bool

    def lead_codes(self, code_of: Callable[[int], int]) -> bytearray:
        """One byte per position: ``code_of`` its lead id."""
        ...


class ListedBase:
    """A base held as Contact objects (the sample data)."""

    builds_contacts = False  # contact_at hands out the stored object

    def __init__(self, contacts: Iterable[Contact]) -> None:
        self._contacts = sorted(contacts, key=lambda c: c.customer_id)
        self._positions = {c.customer_id: p for p, c in enumerate(self._contacts)}
        self._phones = {c.phone1: p for p, c in enumerate(self._contacts)}

    def __len__(self) -> int:
        return len(self._contacts)

    def id_at(self, position: int) -> int:
        return self._contacts[position].customer_id

    def contact_at(self, position: int) -> Contact:
        return self._contacts[position]

    def position_of(self, customer_id: int) -> int | None:
        return self._positions.get(customer_id)

    def position_of_phone(self, phone: str) -> int | None:
        return self._phones.get(phone)

    def lead_at(self, position: int) -> int:
        return self._contacts[position].lead_id

    def lead_codes(self, code_of: Callable[[int], int]) -> bytearray:
        return bytearray(code_of(c.lead_id) for c in self._contacts)


class ContactTable:
    """A campaign's contacts by position (customer-id order): the base, the overlay, the added ones."""

    def __init__(self, campaign_id: int, base: Base) -> None:
        self.campaign_id = campaign_id
        self._base = base
        self._base_len = len(base)
        self._overlay: dict[int, Contact] = {}  # customer id -> its changed or added contact
        self._added: list[int] = []
        self._added_positions: dict[int, int] = {}
        self._added_phones: dict[str, int] = {}
        self._lead_ids: list[int] = []
        self._lead_codes: dict[int, int] = {}
        self._codes = base.lead_codes(self._code)

    def _code(self, lead_id: int) -> int:
        code = self._lead_codes.get(lead_id)
        if code is None:
            if len(self._lead_ids) >= 255:
                raise ValueError("a simulated campaign holds at most 255 leads")
            code = self._lead_codes[lead_id] = len(self._lead_ids)
            self._lead_ids.append(lead_id)
        return code

    # --- reads -----------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._base_len + len(self._added)

    def id_at(self, position: int) -> int:
        if position < self._base_len:
            return self._base.id_at(position)
        return self._added[position - self._base_len]

    def lead_at(self, position: int) -> int:
        """The lead id of the contact at ``position``, without building the contact."""
        return self._lead_ids[self._codes[position]]

    def at(self, position: int) -> Contact:
        """The contact at ``position``; callers must not change it (use :meth:`for_update`)."""
        customer_id = self.id_at(position)
        changed = self._overlay.get(customer_id)
        return changed if changed is not None else self._base.contact_at(position)

    def snapshot(self, position: int) -> Contact:
        """The contact at ``position`` as an object the caller may keep: later writes do not change it."""
        customer_id = self.id_at(position)
        changed = self._overlay.get(customer_id)
        if changed is not None:
            return changed.copy()
        contact = self._base.contact_at(position)
        return contact if self._base.builds_contacts else contact.copy()

    def position_of(self, customer_id: int) -> int | None:
        position = self._base.position_of(customer_id)
        if position is not None:
            return position
        added = self._added_positions.get(customer_id)
        return None if added is None else self._base_len + added

    def get(self, customer_id: int) -> Contact | None:
        position = self.position_of(customer_id)
        return None if position is None else self.at(position)

    def find_phone(self, phone: str) -> int | None:
        """The customer id whose phone1 is ``phone`` (phone1 never changes once stored)."""
        position = self._base.position_of_phone(phone)
        if position is not None:
            return self._base.id_at(position)
        return self._added_phones.get(phone)

    def __iter__(self) -> Iterator[Contact]:
        return (self.at(p) for p in range(len(self)))

    # --- writes ----------------------------------------------------------------------------------

    def for_update(self, customer_id: int) -> Contact:
        """The stored contact, copied into the overlay first if it was still the base's."""
        changed = self._overlay.get(customer_id)
        if changed is not None:
            return changed
        position = self._base.position_of(customer_id)
        if position is None:
            raise KeyError(customer_id)
        changed = self._overlay[customer_id] = self._base.contact_at(position).copy()
        return changed

    def add(self, contact: Contact) -> None:
        """Append a new contact; its id must be above every id the table holds (ids only grow)."""
        last = (
            self._added[-1]
            if self._added
            else self._base.id_at(self._base_len - 1)
            if self._base_len
            else None
        )
        if last is not None and contact.customer_id <= max(last, self._base.id_at(0)):
            raise ValueError(
                f"customer {contact.customer_id} is not above every id of campaign {self.campaign_id}"
            )
        self._added_positions[contact.customer_id] = len(self._added)
        self._added.append(contact.customer_id)
        self._added_phones[contact.phone1] = contact.customer_id
        self._overlay[contact.customer_id] = contact
        self._codes.append(self._code(contact.lead_id))

    def move(self, customer_id: int, lead_id: int) -> None:
        """Put a customer in another lead (a migrate)."""
        contact = self.for_update(customer_id)
        contact.lead_id = lead_id
        position = self.position_of(customer_id)
        assert position is not None
        self._codes[position] = self._code(lead_id)

    # --- pages -----------------------------------------------------------------------------------

    def page(
        self,
        *,
        customer_ids: tuple[int, ...] = (),
        leads: set[int] | None = None,
        descending: bool = False,
        start: int = 0,
        count: int | None = None,
    ) -> list[Contact]:
        """Snapshots of contacts in customer-id order (or its reverse) from ``start``, at most ``count``."""
        total = len(self)
        if count is None:
            count = total
        codes = None if leads is None else {self._lead_codes[i] for i in leads if i in self._lead_codes}
        if customer_ids:
            found = {p for i in customer_ids if (p := self.position_of(i)) is not None}
            positions = sorted(p for p in found if codes is None or self._codes[p] in codes)
            if descending:
                positions.reverse()
            return [self.snapshot(p) for p in positions[start : start + count]]
        if codes is None:
            first, last = start, min(total, start + count)
            ranks = range(total - 1 - first, total - 1 - last, -1) if descending else range(first, last)
            return [self.snapshot(p) for p in ranks]
        mask = self._codes.translate(bytes(1 if c in codes else 0 for c in range(256)))
        matched = mask.count(1)
        if descending:
            low, high = max(0, matched - start - count), max(0, matched - start)
        else:
            low, high = min(matched, start), min(matched, start + count)
        positions = list(_positions_of_ones(mask, low, high - low))
        if descending:
            positions.reverse()
        return [self.snapshot(p) for p in positions]


def _positions_of_ones(mask: bytearray, rank: int, count: int) -> Iterator[int]:
    """Positions of the ``count`` set bytes of ``mask`` from the ``rank``-th (0-based) on."""
    if count <= 0:
        return
    position = 0
    while True:
        ones = mask.count(1, position, position + _CHUNK)
        if rank < ones:
            break
        rank -= ones
        position += _CHUNK
    position = mask.find(1, position)
    for _ in range(rank):
        position = mask.find(1, position + 1)
    for _ in range(count):
        yield position
        position = mask.find(1, position + 1)
