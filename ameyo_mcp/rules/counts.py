"""Counts in words, one way everywhere: "1 contact", "5,000 contacts", "at least 4 contacts".

Every answer, report and CLI line that counts something says it through here, so that a count is
never "1 rows" nor "5000" beside "5,000".
"""

from __future__ import annotations


def number(n: int) -> str:
    """A count standing alone in a list of counts ("would send 9,940"): the same digits as `counted`."""
    return f"{n:,}"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` things: "1 contact", "5,000 contacts" (`plural` where adding "s" is wrong)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def at_least(n: int, noun: str, plural: str | None = None) -> str:
    """A count that is only a floor: more may exist than were read ("at least 5,000 contacts")."""
    return f"at least {counted(n, noun, plural)}"


def agreeing(n: int, one: str, many: str) -> str:
    """The word that agrees with a count: agreeing(1, "was", "were") is "was"."""
    return one if n == 1 else many
