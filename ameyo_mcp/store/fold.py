"""The name rule of the index: how a name is folded for case- and accent-free search."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from ..rules.sanitize import Folding

# Letters and digits only (and, beyond ASCII, the marks of a word: `Folding`): the folded words never
# hold a LIKE wildcard (`%`, `_`) or a space.
_WORD = re.compile(r"[^\W_]+")
NAME_RULE = 2
"""The name rule's version, kept by each complete pass (`CampaignIndex.name_rule`). 2: the marks of
a word kept (`Folding`); before it, every mark with a combining class was deleted and the others
split words."""
# A name is a few words; a field of free text must not bloat the index.
MAX_WORDS = 12
MAX_WORD = 40


# Letters, digits and the marks of a word kept, anything else a space between words (punctuation,
# `_` and `%` among them): the live filter's rule of characters, which the index's must be.
_FOLDING = Folding(apart=ord(" "))
# An apostrophe inside a word (O'Brien, D’Souza): people type such names without it too.
_APOSTROPHE = re.compile(r"(?<=\w)['\u2019\u02bc\u2018`\u00b4](?=\w)")


def fold_words(*texts: str | None) -> list[str]:
    """The folded words of some name fields, in order, without repeats: "Ñuño  O'Brien" → ñ is n,
    case dropped, punctuation splits words: ["nuno", "o", "brien"]."""
    if len(texts) == 1:
        return list(_folded(texts[0])) if texts[0] else []
    words: list[str] = []
    for text in texts:
        for word in _folded(text) if text else ():
            if word not in words:
                words.append(word)
                if len(words) == MAX_WORDS:
                    return words
    return words


def keyed_otherwise(text: str) -> bool:
    """Whether the rule before NAME_RULE 2 folded `text`'s words otherwise: they hold a mark (a vowel
    sign, a virama), which it deleted or split the word at. An index keyed by it holds none of them."""
    return any(unicodedata.category(ch)[0] == "M" for word in fold_words(text) for ch in word)


def without_apostrophes(text: str) -> str | None:
    """The text with the apostrophes inside its words dropped ("O'Brien" → "OBrien"), as people
    type such names; None when it has none."""
    return _APOSTROPHE.sub("", text) if _APOSTROPHE.search(text) else None


def name_words(*texts: str | None) -> list[str]:
    """The words a name is found by in the index: its folded words, then each word an apostrophe
    splits also joined ("O'Brien": "o", "brien" and "obrien"), so that "obrien" and "dsouza" find
    them, as "o'brien" does. Searches fold their text with `fold_words` alone."""
    if len(texts) == 1:
        # A contact's one name field, the usual case: cached as its folded words are.
        return list(_name_words(texts[0])) if texts[0] else []
    return _joined_words(texts)


@lru_cache(maxsize=8192)
def _name_words(text: str) -> tuple[str, ...]:
    return tuple(_joined_words((text,)))


def _joined_words(texts: tuple[str | None, ...]) -> list[str]:
    words = fold_words(*texts)
    joined = [plain for text in texts if text and (plain := without_apostrophes(text)) is not None]
    for word in fold_words(*joined):
        if len(words) >= MAX_WORDS:
            break
        if word not in words:
            words.append(word)
    return words


@lru_cache(maxsize=8192)
def _folded(text: str) -> tuple[str, ...]:
    """One text's folded words, without repeats, at most MAX_WORDS. Cached: a campaign's names
    repeat (a sync folds every contact's name), and a miss costs a dictionary lookup."""
    plain = text.casefold()
    if plain.isascii():
        words = _WORD.findall(plain)
    else:
        # A mark is kept with its letter, never as a word alone: "ि" would be searched for, and
        # found in no name.
        folded = unicodedata.normalize("NFKD", plain).translate(_FOLDING).split()
        words = [word for word in folded if word.isalnum() or any(ch.isalnum() for ch in word)]
    return tuple(dict.fromkeys(word[:MAX_WORD] for word in words))[:MAX_WORDS]
