"""The name rule of the index: how a name is folded for case- and accent-free search."""

from __future__ import annotations

import re
import unicodedata

# Letters and digits only: the folded words never hold a LIKE wildcard (`%`, `_`) or a space.
_WORD = re.compile(r"[^\W_]+")
# A name is a few words; a field of free text must not bloat the index.
MAX_WORDS = 12
MAX_WORD = 40


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
            word = word[:MAX_WORD]
            if word not in words:
                words.append(word)
                if len(words) == MAX_WORDS:
                    return words
    return words
