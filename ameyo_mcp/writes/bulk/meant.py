"""A file's columns that a person likely meant as one of its callback columns: `agent` for the
callback's agent, `Callback Time` for its time. The reader takes a column by its exact name (any
case), so such a column went to Ameyo as customer data under its own name, and the callbacks to
any agent, or none at all, without a word (the campaign's fields are told only when indexed)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Collection, Iterable

from ...rules.sanitize import data_text
from ..callback_rules import CALLBACK_PHONE
from .validate import CALLBACK_TIME, CALLBACK_USER

# Names as `_plain` leaves them. Those naming a callback are meant as its column in any file; those
# naming only an agent or a user, in a file with callbacks (a callback_time column).
_CALLBACK_NAMES = {
    **dict.fromkeys(("callbacktime", "callbackdatetime", "callbackdate", "callbackat"), CALLBACK_TIME),
    **dict.fromkeys(("callbackuser", "callbackuserid", "callbackagent", "callbackagentid"), CALLBACK_USER),
    **dict.fromkeys(("callbackphone", "callbacknumber", "callbackmobile"), CALLBACK_PHONE),
}
_AGENT_NAMES = frozenset(
    {"agent", "agentid", "agentname", "user", "userid", "username", "assignedto", "assignee"}
)
# What each callback column does, and what a file without it gets.
_DOES = {
    CALLBACK_TIME: "the time of a row's callback: without it no row schedules one",
    CALLBACK_USER: "the agent a row's callback goes to: without it callbacks go to any agent",
    CALLBACK_PHONE: "the number a row's callback dials: without it callbacks dial phone1",
}


def _plain(name: str) -> str:
    """A column's name without case, spaces or punctuation: "Agent ID" and "agent_id" are one."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def meant_columns(
    columns: Iterable[str], callback_columns: Collection[str], fields: Collection[str]
) -> list[tuple[str, str]]:
    """The file's customer columns (as mapped) that likely mean one of the callback columns, each
    with the one it likely means: not when the file has that one too (`callback_columns`), nor a
    column that is one of the campaign's customer fields (`fields`, as its index knows them, in
    any case: a campaign may keep its agent's name with each customer)."""
    theirs = {field.casefold() for field in fields}
    names = {name: _plain(name) for name in columns}
    # A file with callbacks: its callback_time column, or one meant as it ("Callback Time").
    timed = CALLBACK_TIME in callback_columns or any(
        _CALLBACK_NAMES.get(plain) == CALLBACK_TIME for plain in names.values()
    )
    found: list[tuple[str, str]] = []
    for name, plain in names.items():
        meant = _CALLBACK_NAMES.get(plain)
        if meant is None and plain in _AGENT_NAMES and timed:
            meant = CALLBACK_USER
        if meant is not None and meant not in callback_columns and name.casefold() not in theirs:
            found.append((name, meant))
    return found


def _quoted(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def meant_columns_note(found: list[tuple[str, str]], *, dry_run: bool) -> str | None:
    """What a run, or its dry run, says of the columns `meant_columns` found, and the map that
    makes each the callback column it means (the tool's column_map, the CLI's --map)."""
    if not found:
        return None
    shown = [(data_text(name, 40), meant) for name, meant in found]
    one = len(shown) == 1
    verb = ("goes" if one else "go") if dry_run else "went"
    if one:
        [(name, meant)] = shown
        said = (
            f"the column {_quoted(name)} {verb} to Ameyo as customer data under its own name, not as "
            f"{meant} ({_DOES[meant]})"
        )
    else:
        each = "; ".join(f"{_quoted(name)} as {meant} ({_DOES[meant]})" for name, meant in shown)
        said = (
            f"these columns {verb} to Ameyo as customer data under their own names, not as the "
            f"callback columns they look like: {each}"
        )
    it = "it" if one else "them"
    if dry_run:
        step = f"If {'it means that' if one else 'they mean those'}, map {it} before sending"
    else:
        step = (
            "The rows went as they were, and a callback scheduled stays as it is (Ameyo cannot move or "
            f"cancel one). A file maps {it}"
        )
    mapped = json.dumps(dict(shown), ensure_ascii=False)
    flags = " ".join(f"--map {shlex.quote(f'{name}={meant}')}" for name, meant in shown)
    return f"Note: {said}. {step} with column_map {mapped} (ameyo-mcp upload: {flags})."
