"""The write ledger's SQL: one row per key a write claims (its identity, and each callback it
schedules), shared by every tool, process and replica on the store.

A claim runs in one transaction that only one claimant can win: SQLite's `BEGIN IMMEDIATE` and, on
PostgreSQL, one advisory lock taken for the transaction, serialise claimants, so looking at the
keys and inserting them cannot interleave. Rows say who sent the write (`owner`) and until when
that owner vouches for it (`lease_until`); a row in flight whose owner is gone becomes an unknown
outcome, never a free key. The rows hold what a person needs to reconcile (the label, the call id,
where a file batch came from, the answer of a small write), nothing secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import orjson

from ..rules.redact import SECRETS

if TYPE_CHECKING:
    from .backends import Tx

FLIGHT, ANSWERED, UNKNOWN = "flight", "answered", "unknown"
# A kept row's digest once its write's answer left it out: no row's digest (they are hex).
UNANSWERED = "unanswered"
# PostgreSQL: the advisory lock every claim takes (the migrations use 7110451211).
_CLAIM_LOCK = 7110451212
ORPHANED = (
    "the process that sent it stopped, or did not settle it within its lease, before Ameyo's answer was "
    "recorded"
)


@dataclass(frozen=True)
class LedgerEntry:
    """One claimed key: what holds it, and since when."""

    key: str
    write_id: str  # the identity of the write that claimed it
    state: str  # flight | answered | unknown
    owner: str
    claimed_at: float
    lease_until: float
    settled_at: float | None
    hold_until: float | None  # a settled key stops standing in the way after this
    call_id: str
    label: str
    note: str
    answer: list[Any] | None
    context: dict[str, Any]
    subject: str | None  # who the callback of this key dials (`Write.subjects`), for callback keys
    subject_at: str | None  # and when, as sent to Ameyo
    subject_agent: str | None  # and the agent it goes to, as asked (None: any agent)


# The columns of `write_ledger` a LedgerEntry is read from, each named as its field.
_FIELDS = tuple(f.name for f in fields(LedgerEntry))
_COLUMNS = ", ".join(_FIELDS)


@dataclass(frozen=True)
class Claim:
    """A claim's outcome: won, or the entry that stands in the way (in flight, or settled)."""

    won: bool
    blocking: LedgerEntry | None = None
    # A file's batch claimed `spellings`: phone1 as earlier uploads sent its numbers, by number.
    held: dict[str, str] = field(default_factory=dict)
    # A tool's write whose numbers an earlier upload (committed first) sent in another spelling:
    # phones.identity → that spelling. Nothing was claimed; the write is planned again with them.
    respell: dict[str, str] | None = None
    # A file's batch some rows of which other writes sent (`rows_held`), by number: nothing was
    # claimed; the batch goes without them.
    rows: dict[str, LedgerEntry] | None = None


@dataclass(frozen=True)
class Settlement:
    """How a claimed write ended: `state` None when it was never sent (its keys are released)."""

    state: str | None
    note: str = ""
    answer: list[Any] | None = None
    # Each key's hold: until when it keeps standing in the way of the same write.
    holds: dict[str, float] | None = None
    # The numbers of an answered upload's records that Ameyo's answer left out: of unknown outcome.
    unanswered: Sequence[str] = ()
    # (server, campaign, number) of records sent again on purpose and answered: other writes that
    # left them of unknown outcome stop holding them back.
    known: Sequence[tuple[str, int, str]] = ()
    # (server, campaign, number) of records Ameyo answered ADD_FAILED: no customer holds phone1 as
    # sent, so that spelling is none for later uploads to send (`spellings`).
    unheld: Sequence[tuple[str, int, str]] = ()


@dataclass(frozen=True)
class Claimant:
    """A claim's facts besides its keys: which write, whose, when, and on what terms.

    `numbers` (server, campaign, number, phone1 as sent) are kept as the numbers' spellings where
    none is kept yet. With `spellings` (a file's batch), a won claim also says which they already
    had, read in this same transaction before this write's are added; without it (a tool's write),
    a write that would send one in another spelling than kept is not claimed but told to respell."""

    write_id: str
    owner: str
    now: float
    lease_s: float
    call_id: str
    label: str
    context: dict[str, Any]
    allow_repeat: bool
    alive: Callable[[str], bool]  # whether an owner may still settle its write in flight
    orphan_hold_s: float
    numbers: Sequence[tuple[str, int, str, str]] = ()
    # An upload's plain records, as (server, campaign, number, digest of the record): kept in
    # `file_rows`, where another upload's claim finds them (`rows_held`).
    rows: Sequence[tuple[str, int, str, str]] = ()
    # Whether other writes' rows of the same numbers hold this one back: not for a repeat the
    # person asked for (a tool's allow_repeat), whose rows are still kept for the writes after it.
    check_rows: bool = True
    # A file's batch resending rows of unknown outcome on purpose (retry_unknown): not held for them.
    resend_unknown: bool = False
    # How long another write's rows hold this one's back once it was settled (`rows_held`): the
    # ledger's days, however soon that write's own entry stops answering a repeat of it.
    rows_s: float = 0.0
    spellings: bool = False
    # key: (subject, when, agent or None)
    subjects: Mapping[str, tuple[str, str, str | None]] = field(default_factory=dict)


def claim(tx: Tx, keys: Sequence[str], who: Claimant) -> Claim:
    """Claim `keys` for one write, or say what holds one of them. The write's own identity comes
    first in `keys`, so a settled copy of the same write is what a repeat is answered from."""
    now, numbers, spellings = who.now, who.numbers, who.spellings
    if tx.dialect.name == "postgresql":
        tx.run("SELECT pg_advisory_xact_lock(?)", (_CLAIM_LOCK,))
    found = {e.key: e for e in _entries(tx, keys)}
    for key in keys:
        entry = found.get(key)
        if entry is None:
            continue
        if entry.state == FLIGHT:
            if entry.lease_until > now and who.alive(entry.owner):
                return Claim(False, entry)
            entry = _orphaned(tx, entry, now, who.orphan_hold_s)
        if entry.hold_until is not None and entry.hold_until <= now:
            continue  # settled long enough ago to be forgotten: the key is free
        # A batch resent because its outcome is unknown (`resend_unknown`) is no repeat of one
        # answered: a journal that lost the answer line (a power cut after the ledger's commit)
        # reads it unknown, and the ledger's answer is the one to go by.
        if not who.allow_repeat or (who.resend_unknown and entry.state == ANSWERED):
            return Claim(False, entry)
    # The numbers' spellings are read in the claim's own transaction: two uploads of one new person
    # in two spellings at the same moment are serialised here, and the second learns the first's.
    sent = _by_campaign(numbers)
    held: dict[str, str] = {}
    for (server, campaign_id), first in sent.items():
        held |= _spellings(tx, server, campaign_id, list(first))
    digests = _by_campaign(who.rows)
    taken: dict[str, LedgerEntry] = {}
    for (server, campaign_id), rows in digests.items() if who.check_rows else ():
        sent_by = rows_held(
            tx,
            server,
            campaign_id,
            rows,
            who.write_id,
            now=now,
            alive=who.alive,
            resend_unknown=who.resend_unknown,
            rows_s=who.rows_s,
        )
        if isinstance(sent_by, LedgerEntry):
            return Claim(False, sent_by)  # sent by a batch in flight: waited for, then judged again
        taken |= sent_by
    if taken:
        return Claim(False, rows=taken)
    # Entries this claim takes over (sent again on purpose), as they stand: put back if it sends
    # nothing (`settle`).
    priors = {
        e.key: json.dumps(asdict(e))
        for e in (_entries(tx, [k for k in keys if k in found]) if found else ())
        if e.hold_until is None or e.hold_until > now
    }
    if not spellings:  # a tool's write: planned again with the spellings, then claimed again
        respell = {n: held[n] for first in sent.values() for n, sp in first.items() if held.get(n, sp) != sp}
        if respell:
            return Claim(False, respell=respell)
    row = (
        FLIGHT,
        who.owner,
        now,
        now + who.lease_s,
        who.call_id,
        who.label,
        json.dumps(who.context, default=str) if who.context else None,
    )
    tx.many(
        "INSERT INTO write_ledger (key, write_id, state, owner, claimed_at, lease_until, call_id, label, "
        "context, subject, subject_at, subject_agent, prior) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET write_id = excluded.write_id, state = excluded.state, "
        "owner = excluded.owner, claimed_at = excluded.claimed_at, lease_until = excluded.lease_until, "
        "settled_at = NULL, hold_until = NULL, call_id = excluded.call_id, label = excluded.label, "
        "note = NULL, answer = NULL, context = excluded.context, subject = excluded.subject, "
        "subject_at = excluded.subject_at, subject_agent = excluded.subject_agent, prior = excluded.prior",
        [
            (key, who.write_id, *row, *who.subjects.get(key, (None, None, None)), priors.get(key))
            for key in dict.fromkeys(keys)
        ],
    )
    # The first spelling sent of a number stays the one to send: Ameyo holds that one.
    for (server, campaign_id), first in sent.items():
        _keep_spellings(tx, server, campaign_id, first, now, who.write_id)
    for (server, campaign_id), rows in digests.items():
        _keep_rows(tx, server, campaign_id, rows, now, who.write_id)
    return Claim(True, held=held if spellings else {})


def about(tx: Tx, subjects: Sequence[str], now: float) -> list[LedgerEntry]:
    """The callback keys of `subjects` that the ledger still holds, newest first: answered, and
    those that may have been scheduled (in flight, or of unknown outcome)."""
    if not subjects:
        return []
    marks = ", ".join("?" * len(subjects))
    return [
        _entry(row)
        for row in tx.all(
            f"SELECT {_COLUMNS} FROM write_ledger WHERE subject IN ({marks}) "
            "AND (hold_until IS NULL OR hold_until > ?) ORDER BY claimed_at DESC",
            (*subjects, now),
        )
    ]


def spellings(tx: Tx, server: str, campaign_id: int, identities: Sequence[str]) -> dict[str, str]:
    """phone1 as earlier uploads to the campaign sent it, by number."""
    return _spellings(tx, server, campaign_id, list(dict.fromkeys(identities)))


# A batch of 500 numbers is one statement, its numbers one JSON text parameter that the database
# takes apart (json_each): a statement per number cost a round trip each on PostgreSQL, and on
# SQLite a release and retaking of the interpreter lock each, which a busy event loop made slow to
# get back; and psycopg turns a Python list of strings into an array parameter string by string,
# where one text is passed as it is.


def _by_campaign(numbers: Sequence[tuple[str, int, str, str]]) -> dict[tuple[str, int], dict[str, str]]:
    """The first spelling given of each number, by server and campaign."""
    found: dict[tuple[str, int], dict[str, str]] = {}
    for server, campaign_id, number, spelling in reversed(numbers):  # the first given is set last
        found.setdefault((server, campaign_id), {})[number] = spelling
    return found


def _spellings(tx: Tx, server: str, campaign_id: int, identities: list[str]) -> dict[str, str]:
    if not identities:
        return {}
    head = "SELECT identity, spelling FROM customer_numbers WHERE server = ? AND campaign_id = ? "
    return dict(tx.all(head + _any_identity(tx), (server, campaign_id, _json_text(identities))))


def _any_identity(tx: Tx) -> str:
    """`AND identity` is one of a JSON array's texts (the one parameter)."""
    if tx.dialect.name == "postgresql":
        # As an array, so that each number is an index lookup (an IN over the JSON's rows was
        # planned as a scan of the campaign's numbers).
        return "AND identity = ANY(ARRAY(SELECT json_array_elements_text(?::json)))"
    return "AND identity IN (SELECT value FROM json_each(?))"


def rows_held(
    tx: Tx,
    server: str,
    campaign_id: int,
    rows: dict[str, str],
    write_id: str,
    *,
    now: float,
    alive: Callable[[str], bool],
    resend_unknown: bool,
    rows_s: float = 0.0,
) -> dict[str, LedgerEntry] | LedgerEntry:
    """By number, the writes of other uploads (a file's batches, a tool's records) that sent `rows`
    (number → row digest) while they stand: the same row answered; unless resent on purpose
    (`resend_unknown`), any row of the number whose outcome is unknown. A write that has one in
    flight, its sender `alive`, is returned alone, to be waited for. The one rule for a record sent
    by more than one upload.

    A write's rows stand while its entry does, and at least `rows_s` after it was settled (the
    ledger's days): a tool's write is answered as a repeat only within the repeat window, but the
    records it sent are held inside other uploads for as long as the ledger keeps them."""
    sent = tx.all(
        "SELECT identity, write_id, digest FROM file_rows WHERE server = ? AND campaign_id = ? "
        + _any_identity(tx),
        (server, campaign_id, _json_text(list(rows))),
    )
    writes = sorted({str(w) for _, w, _ in sent if w != write_id})
    if not writes:
        return {}
    entries = {e.key: e for e in _entries(tx, writes)}
    taken: dict[str, LedgerEntry] = {}
    for number, write, digest in sent:
        entry = entries.get(write)  # (none for this batch's own rows: `writes` leaves it out)
        if entry is None:
            continue
        if digest == UNANSWERED and entry.state == ANSWERED:
            entry = replace(entry, state=UNKNOWN)  # a record the write's answer left out
        if entry.state == FLIGHT and entry.lease_until > now and alive(entry.owner):
            return entry
        if not _row_stands(entry, now, rows_s):
            continue
        if (entry.state == ANSWERED and digest == rows.get(number)) or (
            entry.state != ANSWERED and not resend_unknown
        ):
            taken.setdefault(number, entry)
    return taken


def _row_stands(entry: LedgerEntry, now: float, rows_s: float) -> bool:
    """Whether a settled write's rows still hold the same records back: while its entry stands, and
    for `rows_s` after it was settled (a write left in flight by a sender gone was settled now)."""
    if entry.hold_until is None or entry.hold_until > now:
        return True
    return entry.settled_at is not None and entry.settled_at + rows_s > now


def unanswered(tx: Tx, write_id: str) -> set[str]:
    """The numbers of the records the answer to write `write_id` left out (`Settlement.unanswered`)."""
    rows = tx.all("SELECT identity FROM file_rows WHERE write_id = ? AND digest = ?", (write_id, UNANSWERED))
    return {str(r[0]) for r in rows}


def _json_text(value: list[str] | dict[str, str]) -> str:
    """A batch's numbers as one JSON parameter, by orjson (500 of them at C speed); what orjson
    does not take (a lone surrogate) goes the standard way."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def _keep_spellings(
    tx: Tx, server: str, campaign_id: int, first: dict[str, str], now: float, write_id: str
) -> None:
    _keep(tx, "customer_numbers", "spelling", server, campaign_id, first, now, write_id)


def _keep_rows(
    tx: Tx, server: str, campaign_id: int, rows: dict[str, str], now: float, write_id: str
) -> None:
    """The rows a file's batch sends, by number (`file_rows`)."""
    _keep(tx, "file_rows", "digest", server, campaign_id, rows, now, write_id)


def _keep(
    tx: Tx,
    table: str,
    column: str,
    server: str,
    campaign_id: int,
    values: dict[str, str],
    now: float,
    write_id: str,
) -> None:
    """`column` by number in `table`, where none is kept yet: one statement for a batch's numbers."""
    pairs = "json_each_text(?::json)" if tx.dialect.name == "postgresql" else "json_each(?)"
    # WHERE true: SQLite's grammar needs it between an INSERT's SELECT and its ON CONFLICT.
    tx.run(
        f"INSERT INTO {table} (server, campaign_id, identity, {column}, at, write_id) "
        f"SELECT ?, ?, key, value, ?, ? FROM {pairs} WHERE true ON CONFLICT DO NOTHING",
        (server, campaign_id, now, write_id, _json_text(values)),
    )


def settle(tx: Tx, keys: Sequence[str], *, write_id: str, owner: str, now: float, how: Settlement) -> None:
    """Record how the write that claimed `keys` ended (only rows it still holds are touched)."""
    if how.state is None:
        _release(tx, keys, write_id=write_id, owner=owner)
        return
    # Ameyo's answer as kept for repeats: a secret it echoed (a session id) is kept masked.
    answer = SECRETS.json_text(how.answer, default=str) if how.answer is not None else None
    holds = how.holds or {}
    # Only rows this sender still holds: a key taken over meanwhile (allow_repeat, after this write
    # was found orphaned) is its new sender's to settle.
    tx.many(
        "UPDATE write_ledger SET state = ?, settled_at = ?, hold_until = ?, note = ?, answer = ?, "
        "prior = NULL WHERE key = ? AND write_id = ? AND owner = ?",
        [(how.state, now, holds.get(key), how.note or None, answer, key, write_id, owner) for key in keys],
    )
    if how.unanswered:
        tx.run(
            "UPDATE file_rows SET digest = ? WHERE write_id = ? " + _any_identity(tx),
            (UNANSWERED, write_id, _json_text(list(how.unanswered))),
        )
    for (server, campaign_id), numbers in _by_campaign([(*k, "") for k in how.known]).items():
        tx.run(
            "DELETE FROM file_rows WHERE server = ? AND campaign_id = ? AND write_id <> ? "
            + _any_identity(tx)
            + " AND (digest = ? OR write_id IN (SELECT key FROM write_ledger WHERE key = file_rows.write_id "
            "AND state = ?))",
            (server, campaign_id, write_id, _json_text(list(numbers)), UNANSWERED, UNKNOWN),
        )
    for (server, campaign_id), numbers in _by_campaign([(*k, "") for k in how.unheld]).items():
        tx.run(
            "DELETE FROM customer_numbers WHERE server = ? AND campaign_id = ? " + _any_identity(tx),
            (server, campaign_id, _json_text(list(numbers))),
        )


def _release(tx: Tx, keys: Sequence[str], *, write_id: str, owner: str) -> None:
    """A claimed write that was never sent: its keys are free again, or, where it took over an
    earlier entry (sent again on purpose), that entry is put back as it stood: a retry that sent
    nothing leaves an unknown outcome unknown. A sender that holds none of its keys any more (its
    lease ran out and another took the write over) touches nothing."""
    marks = ",".join("?" * len(keys))
    held = tx.all(
        f"SELECT key, prior FROM write_ledger WHERE key IN ({marks}) AND write_id = ? AND owner = ? "
        "AND state = ?",
        (*keys, write_id, owner, FLIGHT),
    )
    if not held:
        return
    back = [(key, json.loads(prior)) for key, prior in held if prior]
    free = [key for key, prior in held if not prior]
    if free:
        tx.many("DELETE FROM write_ledger WHERE key = ? AND write_id = ?", [(key, write_id) for key in free])
    if back:
        names = [f for f in _FIELDS if f != "key"]
        tx.many(
            f"UPDATE write_ledger SET {', '.join(f'{n} = ?' for n in names)}, prior = NULL WHERE key = ?",
            # (an entry kept before a column was added has none of it)
            [(*(_column(n, e.get(n)) for n in names), key) for key, e in back],
        )
    # Never sent: the spellings it was first to claim are not what Ameyo holds, nor its rows; unless
    # an entry of the same write stands (an earlier sending of it, put back): they are its too.
    if tx.first("SELECT 1 FROM write_ledger WHERE write_id = ?", (write_id,)) is None:
        tx.run("DELETE FROM customer_numbers WHERE write_id = ?", (write_id,))
        tx.run("DELETE FROM file_rows WHERE write_id = ?", (write_id,))


def _column(name: str, value: Any) -> Any:
    """A field of an entry as its column holds it (`_entry` read backwards)."""
    if name in ("answer", "context"):
        return json.dumps(value) if value else None
    return value


def entries(tx: Tx, keys: Sequence[str]) -> list[LedgerEntry]:
    return _entries(tx, keys)


def unknown(tx: Tx, *, limit: int, now: float, alive: Callable[[str], bool]) -> list[LedgerEntry]:
    """Writes whose outcome is unknown, newest first: one row per write (its identity's). A write
    in flight whose sender is gone is one of them (`_as_seen`)."""
    rows = tx.all(
        f"SELECT {_COLUMNS} FROM write_ledger WHERE key = write_id AND (state = ? OR (state = ? AND "
        "lease_until <= ?)) ORDER BY claimed_at DESC LIMIT ?",
        (UNKNOWN, FLIGHT, now, limit),
    )
    flying = tx.all(
        f"SELECT {_COLUMNS} FROM write_ledger WHERE key = write_id AND state = ? AND lease_until > ?",
        (FLIGHT, now),
    )
    found = _as_seen([_entry(r) for r in [*rows, *flying]], now, alive)
    return sorted((e for e in found if e.state == UNKNOWN), key=lambda e: e.claimed_at, reverse=True)[:limit]


def claimed_since(
    tx: Tx, since: float, *, limit: int, now: float, alive: Callable[[str], bool]
) -> list[LedgerEntry]:
    """Writes claimed since `since`, in flight or settled (a failed one, released, is gone), newest
    first: one row per write (its identity's), seen as `_as_seen` tells."""
    rows = tx.all(
        f"SELECT {_COLUMNS} FROM write_ledger WHERE state IN (?, ?, ?) AND claimed_at >= ? "
        "AND key = write_id ORDER BY claimed_at DESC LIMIT ?",
        (FLIGHT, ANSWERED, UNKNOWN, since, limit),
    )
    return _as_seen([_entry(r) for r in rows], now, alive)


def _as_seen(entries: list[LedgerEntry], now: float, alive: Callable[[str], bool]) -> list[LedgerEntry]:
    """The entries as the next claim of each would find them: a write in flight whose sender is gone
    (its lease passed, or `alive` says its process stopped) is of unknown outcome (`_orphaned`).
    Said to whoever looks (the check, the operator's page) before anyone asks for it again."""
    return [
        replace(e, state=UNKNOWN, note=ORPHANED)
        if e.state == FLIGHT and (e.lease_until <= now or not alive(e.owner))
        else e
        for e in entries
    ]


def prune(tx: Tx, *, before: float, tokens_before: float, now: float | None = None) -> int:
    """Forget writes settled before `before` (a file batch's rows with them), and tokens made
    before `tokens_before`; rows in flight stay until they are settled, and, given `now`, rows
    held beyond it (a callback still to come, months ahead) until their hold ends."""
    if now is None:
        tx.run("DELETE FROM write_ledger WHERE state <> ? AND settled_at < ?", (FLIGHT, before))
    else:
        tx.run(
            "DELETE FROM write_ledger WHERE state <> ? AND settled_at < ? "
            "AND (hold_until IS NULL OR hold_until < ?)",
            (FLIGHT, before, now),
        )
    pruned = tx.rowcount
    tx.run("DELETE FROM confirm_tokens WHERE made_at < ?", (tokens_before,))
    # A write's rows and spellings go with its entry: one still held (in flight when its sender
    # died, found unknown only later) keeps them, however long ago they were claimed.
    for table in ("customer_numbers", "file_rows"):
        tx.run(
            f"DELETE FROM {table} WHERE at < ? AND NOT EXISTS "
            f"(SELECT 1 FROM write_ledger WHERE write_ledger.key = {table}.write_id)",
            (before,),
        )
    return pruned


def add_token(tx: Tx, digest: str, write_id: str, now: float) -> None:
    """A dry run's token, kept as its digest only: any process on the store accepts it."""
    tx.run(
        "INSERT INTO confirm_tokens (digest, write_id, made_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (digest, write_id, now),
    )


def token_fits(tx: Tx, digest: str, write_id: str, since: float) -> bool:
    row = tx.first("SELECT write_id, made_at FROM confirm_tokens WHERE digest = ?", (digest,))
    return row is not None and row[0] == write_id and float(row[1]) >= since


def spend_token(tx: Tx, digest: str, write_id: str, since: float) -> bool:
    """Take a token that counts once (a question asked by round trip): True for the one caller, in
    whichever process, whose transaction removes it."""
    tx.run(
        "DELETE FROM confirm_tokens WHERE digest = ? AND write_id = ? AND made_at >= ?",
        (digest, write_id, since),
    )
    return tx.rowcount == 1


def _orphaned(tx: Tx, entry: LedgerEntry, now: float, hold_s: float) -> LedgerEntry:
    """A write in flight whose owner is gone: its outcome is unknown, for every key it holds."""
    tx.run(
        "UPDATE write_ledger SET state = ?, settled_at = ?, hold_until = ?, note = ? "
        "WHERE write_id = ? AND state = ?",
        (UNKNOWN, now, now + hold_s, ORPHANED, entry.write_id, FLIGHT),
    )
    return replace(entry, state=UNKNOWN, settled_at=now, hold_until=now + hold_s, note=ORPHANED)


def _entries(tx: Tx, keys: Sequence[str]) -> list[LedgerEntry]:
    if not keys:
        return []
    marks = ",".join("?" * len(keys))
    rows = tx.all(f"SELECT {_COLUMNS} FROM write_ledger WHERE key IN ({marks})", tuple(keys))
    return [_entry(r) for r in rows]


def _entry(row: Sequence[Any]) -> LedgerEntry:
    """A row of `_COLUMNS` read back: the columns by name into the entry's fields."""
    entry = dict(zip(_FIELDS, row, strict=True))
    for name in ("claimed_at", "lease_until", "settled_at", "hold_until"):
        entry[name] = None if entry[name] is None else float(entry[name])
    for name in ("call_id", "label", "note"):
        entry[name] = entry[name] or ""
    entry["answer"] = json.loads(entry["answer"]) if entry["answer"] else None
    entry["context"] = json.loads(entry["context"]) if entry["context"] else {}
    return LedgerEntry(**entry)
