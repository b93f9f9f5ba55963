"""The shared Ameyo session's SQL: one lease per Ameyo server and user, for every process on the store.

Customer Manager users are licensed seats, so the processes of one deployment (server replicas, the
CLI) share one session. The lease row says which (`sealed`: the login answer, session id included,
encrypted by the ameyo layer; the store never sees it in clear), who logged in and when, when it was
last used and pinged, whether Ameyo called it invalid, who is logging in or pinging now (each for a
short, time-bound turn), and until when a refused login stops everyone from trying again.

The decisions that must be made once for all (who logs in, who pings, whether the session is still
the one a process saw before it invalidates or releases it) run in one transaction that only one
process can hold at a time: SQLite's `BEGIN IMMEDIATE` and, on PostgreSQL, one advisory lock taken
for the transaction, as the write ledger's claims do. `generation` counts the sessions published:
a process names the one it holds by it, so a stale process never ends a newer session.

`session_users` lists the processes using the lease (seen at each use or keepalive look), so that a
process shutting down can tell whether it is the last one.

Times are seconds since the epoch (wall clock: the processes may be on several hosts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backends import Tx

# PostgreSQL: the advisory lock every lease decision takes (the ledger's claims take 7110451212).
_LEASE_LOCK = 7110451221

# A `Take`'s kinds (ameyo/session.py spells them alike, not to import the store before it needs it).
SESSION, LOGIN, WAIT, REFUSED = "session", "login", "wait", "refused"


@dataclass(frozen=True)
class LeaseKey:
    """Whose session: one Ameyo server (its base URL) and user."""

    server: str
    user_id: str


@dataclass(frozen=True)
class Lease:
    """The lease row as it stands."""

    generation: int  # sessions published so far; names the current one
    sealed: str | None  # the login answer, encrypted; None: no session
    timeout_s: float | None  # Ameyo ends the session after this much inactivity
    ping_every_s: float | None  # Ameyo's ping interval
    holder: str | None  # who logged in
    logged_in_at: float | None
    last_used_at: float | None
    last_ping_at: float | None
    ping_by: str | None  # who is pinging now, until `ping_until`
    ping_until: float | None
    invalidated_at: float | None  # when Ameyo last called the session invalid
    login_by: str | None  # who is logging in now, until `login_until`
    login_until: float | None
    refused_until: float | None  # no login is tried before this: the last one was refused
    refusal: str | None  # Ameyo's refusal, as the process that met it worded it (no secret)
    refused_for: str | None  # which credentials were refused: a tag only their holders can make
    login_for: str | None  # which credentials logged the session in (the same kind of tag)
    ping_failed_at: float | None  # the last ping tried that Ameyo did not answer (None: none since)

    @property
    def last_alive(self) -> float:
        """When the session was last used or pinged, by a ping Ameyo answered or one it did not: a
        failed ping puts the next try an interval off, and leaves the session to be found gone by
        Ameyo's own word, not by its silence."""
        return max(
            (
                t
                for t in (self.logged_in_at, self.last_used_at, self.last_ping_at, self.ping_failed_at)
                if t is not None
            ),
            default=0.0,
        )

    @property
    def ping_failed(self) -> bool:
        """Whether the last ping tried of the session the lease holds failed. A failed try before its
        login was of an earlier session: a process of version 16 logs in without clearing it."""
        if self.sealed is None or self.ping_failed_at is None:
            return False
        return self.ping_failed_at >= max(self.last_ping_at or 0.0, self.logged_in_at or 0.0)

    @property
    def ping_due_at(self) -> float | None:
        """When the session needs a ping unless it is used before."""
        if self.sealed is None or self.ping_every_s is None:
            return None
        return self.last_alive + self.ping_every_s

    def live(self, now: float, grace: float) -> bool:
        """Whether the lease holds a session Ameyo should still know (`grace`: how late uses may be
        recorded)."""
        if self.sealed is None:
            return False
        return self.timeout_s is None or now <= self.last_alive + self.timeout_s + grace


_FIELDS = tuple(f.name for f in fields(Lease))
_COLUMNS = ", ".join(_FIELDS)
_WHERE = "server = ? AND user_id = ?"


@dataclass(frozen=True)
class Take:
    """What a process asking for the session is to do: use it (`SESSION`), log in for everyone
    (`LOGIN`: it holds the login turn), wait for the process logging in (`WAIT`), or give up for now
    (`REFUSED`: a login was refused and the back-off has not passed)."""

    kind: str
    lease: Lease


def _lock(tx: Tx) -> None:
    if tx.dialect.name == "postgresql":
        tx.run("SELECT pg_advisory_xact_lock(?)", (_LEASE_LOCK,))


def _read(tx: Tx, key: LeaseKey) -> Lease | None:
    row = tx.first(f"SELECT {_COLUMNS} FROM session_lease WHERE {_WHERE}", (key.server, key.user_id))
    return None if row is None else Lease(*row)


def _ensure(tx: Tx, key: LeaseKey) -> Lease:
    tx.run(
        "INSERT INTO session_lease (server, user_id, generation) VALUES (?, ?, 0) ON CONFLICT DO NOTHING",
        (key.server, key.user_id),
    )
    lease = _read(tx, key)
    assert lease is not None
    return lease


def _seen(tx: Tx, key: LeaseKey, who: str, now: float) -> None:
    tx.run(
        "INSERT INTO session_users (server, user_id, member, seen_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (server, user_id, member) DO UPDATE SET seen_at = excluded.seen_at",
        (key.server, key.user_id, who, now),
    )


def read(tx: Tx, key: LeaseKey) -> Lease | None:
    return _read(tx, key)


def take(
    tx: Tx,
    key: LeaseKey,
    who: str,
    now: float,
    *,
    login_s: float,
    grace: float,
    unusable: int | None,
    alive: Callable[[str], bool],
    credentials: str,
) -> Take:
    """The session for `who`: the live one, or the turn to log in for everyone (for `login_s`),
    or a wait while another process logs in, or the refusal still in force for `credentials` (the
    tag of `who`'s: a process given other credentials tries its own). `unusable`: a generation `who`
    cannot open (sealed with another key), taken as no session."""
    _lock(tx)
    lease = _ensure(tx, key)
    if lease.live(now, grace) and lease.generation != unusable:
        _seen(tx, key, who, now)
        return Take(SESSION, lease)
    if lease.refused_until is not None and lease.refused_until > now and lease.refused_for == credentials:
        return Take(REFUSED, lease)
    if (
        lease.login_by is not None
        and lease.login_by != who
        and lease.login_until is not None
        and lease.login_until > now
        and alive(lease.login_by)
    ):
        return Take(WAIT, lease)
    tx.run(
        f"UPDATE session_lease SET login_by = ?, login_until = ? WHERE {_WHERE}",
        (who, now + login_s, key.server, key.user_id),
    )
    return Take(LOGIN, _ensure(tx, key))


def publish(
    tx: Tx,
    key: LeaseKey,
    who: str,
    sealed: str,
    now: float,
    *,
    timeout_s: float,
    ping_every_s: float,
    credentials: str,
) -> Lease | None:
    """Put the session `who` logged in with `credentials` (their tag) in the lease, if `who` still
    holds the login turn (None otherwise: another process took the turn over, and this session is
    for no one)."""
    _lock(tx)
    lease = _read(tx, key)
    if lease is None or lease.login_by != who:
        return None
    tx.run(
        "UPDATE session_lease SET generation = generation + 1, sealed = ?, timeout_s = ?, ping_every_s = ?, "
        "holder = ?, logged_in_at = ?, last_used_at = ?, last_ping_at = NULL, ping_failed_at = NULL, "
        "ping_by = NULL, ping_until = NULL, login_by = NULL, login_until = NULL, refused_until = NULL, "
        "refusal = NULL, refused_for = NULL, login_for = ? "
        f"WHERE {_WHERE}",
        (sealed, timeout_s, ping_every_s, who, now, now, credentials, key.server, key.user_id),
    )
    _seen(tx, key, who, now)
    return _read(tx, key)


def refused(tx: Tx, key: LeaseKey, who: str, *, until: float, message: str, credentials: str) -> None:
    """Ameyo refused `who`'s login with `credentials` (their tag): no process given the same logs in
    again before `until`."""
    _lock(tx)
    _ensure(tx, key)
    tx.run(
        "UPDATE session_lease SET refused_until = ?, refusal = ?, refused_for = ?, "
        "login_by = CASE WHEN login_by = ? THEN NULL ELSE login_by END, "
        "login_until = CASE WHEN login_by = ? THEN NULL ELSE login_until END "
        f"WHERE {_WHERE}",
        (until, message, credentials, who, who, key.server, key.user_id),
    )


def abandon(tx: Tx, key: LeaseKey, who: str) -> None:
    """`who` gives its login turn back without a session (Ameyo unreachable, cancelled): the next
    process to ask takes it."""
    tx.run(
        f"UPDATE session_lease SET login_by = NULL, login_until = NULL WHERE {_WHERE} AND login_by = ?",
        (key.server, key.user_id, who),
    )


def invalidate(tx: Tx, key: LeaseKey, generation: int, now: float) -> bool:
    """Ameyo called session `generation` invalid: the lease drops it, unless it already holds
    another (compare-and-set, so that every process meeting the same dead session renews once)."""
    tx.run(
        "UPDATE session_lease SET sealed = NULL, invalidated_at = ?, ping_by = NULL, ping_until = NULL "
        f"WHERE {_WHERE} AND generation = ? AND sealed IS NOT NULL",
        (now, key.server, key.user_id, generation),
    )
    return tx.rowcount > 0


def touch(tx: Tx, key: LeaseKey, generation: int, who: str, now: float) -> None:
    """`who` used session `generation` at `now`."""
    tx.run(
        f"UPDATE session_lease SET last_used_at = ? WHERE {_WHERE} AND generation = ? "
        "AND sealed IS NOT NULL AND (last_used_at IS NULL OR last_used_at < ?)",
        (now, key.server, key.user_id, generation, now),
    )
    _seen(tx, key, who, now)


def look(tx: Tx, key: LeaseKey, who: str, now: float) -> Lease | None:
    """The lease, for a keepalive look by `who` (which counts as still using it)."""
    _seen(tx, key, who, now)
    return _read(tx, key)


def claim_ping(tx: Tx, key: LeaseKey, generation: int, who: str, now: float, *, hold_s: float) -> bool:
    """The turn to ping session `generation`, if a ping is due and no other process is pinging it."""
    _lock(tx)
    lease = _read(tx, key)
    if lease is None or lease.generation != generation or lease.sealed is None:
        return False
    due = lease.ping_due_at
    if due is None or due > now:
        return False
    if lease.ping_by not in (None, who) and lease.ping_until is not None and lease.ping_until > now:
        return False
    tx.run(
        f"UPDATE session_lease SET ping_by = ?, ping_until = ? WHERE {_WHERE}",
        (who, now + hold_s, key.server, key.user_id),
    )
    return True


def pinged(tx: Tx, key: LeaseKey, generation: int, who: str, now: float, *, answered: bool = True) -> None:
    """`who` pinged session `generation`, and Ameyo answered, or (not `answered`) tried to: either
    way the next try is an interval away."""
    column = "last_ping_at" if answered else "ping_failed_at"
    tx.run(
        f"UPDATE session_lease SET {column} = ?, ping_by = NULL, ping_until = NULL "
        f"WHERE {_WHERE} AND generation = ? AND (ping_by IS NULL OR ping_by = ?)",
        (now, key.server, key.user_id, generation, who),
    )


def release(
    tx: Tx, key: LeaseKey, now: float, *, generation: int | None = None, idle_before: float | None = None
) -> Lease | None:
    """Take the session out of the lease, for its logout: whatever session it holds, or only
    session `generation`, and (with `idle_before`) only if nobody has used it since. Returns the
    lease as it was, sealed session included, or None when nothing was released."""
    _lock(tx)
    lease = _read(tx, key)
    if lease is None or lease.sealed is None:
        return None
    if generation is not None and lease.generation != generation:
        return None
    if idle_before is not None and max(lease.last_used_at or 0.0, lease.logged_in_at or 0.0) > idle_before:
        return None
    tx.run(
        "UPDATE session_lease SET sealed = NULL, ping_by = NULL, ping_until = NULL "
        f"WHERE {_WHERE} AND generation = ?",
        (key.server, key.user_id, lease.generation),
    )
    return lease


def users(tx: Tx, key: LeaseKey, *, stale_before: float, alive: Callable[[str], bool]) -> list[str]:
    """The processes using the lease: seen since `stale_before` and not known to be gone."""
    tx.run(
        f"DELETE FROM session_users WHERE {_WHERE} AND seen_at < ?", (key.server, key.user_id, stale_before)
    )
    members = [
        r[0] for r in tx.all(f"SELECT member FROM session_users WHERE {_WHERE}", (key.server, key.user_id))
    ]
    gone = [m for m in members if not alive(m)]
    tx.many(
        f"DELETE FROM session_users WHERE {_WHERE} AND member = ?",
        [(key.server, key.user_id, m) for m in gone],
    )
    return [m for m in members if m not in gone]


def leave(
    tx: Tx,
    key: LeaseKey,
    who: str,
    now: float,
    *,
    stale_before: float,
    alive: Callable[[str], bool],
    end: int | None,
) -> tuple[list[str], Lease | None]:
    """`who` stops using the lease. With `end`, session `end` is also released when no other
    process uses it (in the same transaction, so no process joins in between). Returns the
    processes still using it, and the lease as it was when released (None: nothing released)."""
    _lock(tx)
    tx.run(f"DELETE FROM session_users WHERE {_WHERE} AND member = ?", (key.server, key.user_id, who))
    others = users(tx, key, stale_before=stale_before, alive=alive)
    if end is None or others:
        return others, None
    return others, release(tx, key, now, generation=end)
