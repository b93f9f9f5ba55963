"""phone1 → the line it was first seen on, for every row of a file, in flat arrays.

A dict of 100,000 phone strings costs about 15 MB; this open-addressing table of 64-bit
fingerprints and line numbers costs about 3 MB, which keeps the uploader's memory nearly flat.
Two different phones share a fingerprint with a probability near 1e-9 for a million rows; the
worst that does is refuse one row as a duplicate, never send one twice.
"""

from __future__ import annotations

from array import array

_MASK = (1 << 64) - 1
_START = 1 << 12


class SeenPhones:
    def __init__(self) -> None:
        self._size = 0
        self._keys = array("Q", bytes(8 * _START))
        self._lines = array("I", bytes(4 * _START))

    def __len__(self) -> int:
        return self._size

    def first_line(self, phone: str, line: int) -> int | None:
        """The line `phone` was first seen on, or None (and remember `line`) if it is new."""
        key = (hash(phone) & _MASK) or 1
        keys = self._keys
        mask = len(keys) - 1
        slot = key & mask
        while (found := keys[slot]) != 0:
            if found == key:
                return int(self._lines[slot])
            slot = (slot + 1) & mask
        keys[slot] = key
        self._lines[slot] = line
        self._size += 1
        if self._size * 2 > len(keys):
            self._grow()
        return None

    def _grow(self) -> None:
        old_keys, old_lines = self._keys, self._lines
        capacity = len(old_keys) * 2
        self._keys = keys = array("Q", bytes(8 * capacity))
        self._lines = lines = array("I", bytes(4 * capacity))
        mask = capacity - 1
        for key, line in zip(old_keys, old_lines, strict=True):
            if key:
                slot = key & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot] = key
                lines[slot] = line
