"""The name rule of the index: how a name is folded for case- and accent-free search."""

from __future__ import annotations

import re
import unicodedata

# Letters and digits only: the folded words never hold a LIKE wildcard (`%`, `_`) or a space.
_WORD = re.compile(r"[^\W_]+")


def fold_words(*texts: str | None) -> list[str]:
    """The folded words of some name fields, in order, without repeats: "Ñuño  O'Brien" → ñ is n,
    case dropped, punctuation splits words: ["nuno", "o", "brien"]."""
    words: list[str] = []
    for text in texts:
        if not text:
            continue
        plain = unicodedata.normalize("NFKD", text.casefold())
        plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
        for word in _WORD.findall(plain):
            if word not in words:
                words.append(word)
    return words
