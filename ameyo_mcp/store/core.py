"""Store: the one object that reads and writes the index, the call history, the write ledger and
the shared Ameyo session; each part's SQL is in its own module."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ..rules.owners import owner_alive
from . import lease, ledger, sign_outs
from .backends import Tx
from .calls import CallEvents
from .contact_writes import ContactWrites
from .contacts import ContactLookups


def _sender_alive(owner: str) -> bool:
    """Whether a write's sender may still settle it: on this host, whether its process runs (one of
    this very process is taken to)."""
    return owner_alive(owner, here=lambda _: True)


class Store(ContactWrites, ContactLookups, CallEvents):
    """The contacts index (`contact_writes`, `contacts`), the call history (`calls`), the write
    ledger (`ledger`) and the shared Ameyo session (`lease`), on SQLite or PostgreSQL.

    Nothing is opened until the first call (`connection`). Methods are synchronous and thread-safe (one
    connection, one lock); async code calls them through `anyio.to_thread.run_sync`. Every failure
    of the database is a `StoreError` that says what to do (a full disk, a damaged file, a database
    that cannot be reached). A connection the database closed (PostgreSQL restarted) is replaced
    by a new one: a read is run again on it, and so is a transaction that had not begun; one that
    had fails, and the next call opens the new connection.
    """

    # -- the write ledger (SQL in ledger.py) --------------------------------------------------

    def claim_write(self, keys: Sequence[str], who: ledger.Claimant, *, wait: bool = True) -> ledger.Claim:
        """Claim a write's keys before it is sent, durably: won, or what stands in the way (see
        `ledger.claim`). Not `wait`: StoreBusy at once while another thread has the store."""
        with self._tx(wait=wait) as tx:
            return ledger.claim(tx, keys, who)

    def settle_write(
        self, keys: Sequence[str], *, write_id: str, owner: str, now: float, how: ledger.Settlement
    ) -> None:
        """Record how a claimed write ended. Not flushed to disk on its own: lost to a power cut,
        the write stays in flight with its owner gone, which reads as an unknown outcome."""
        with self._tx(durable=False) as tx:
            ledger.settle(tx, keys, write_id=write_id, owner=owner, now=now, how=how)

    def sent_spellings(self, server: str, campaign_id: int, identities: Sequence[str]) -> dict[str, str]:
        return self._reading(lambda tx: ledger.spellings(tx, server, campaign_id, identities))

    def unanswered_rows(self, write_id: str) -> set[str]:
        return self._reading(lambda tx: ledger.unanswered(tx, write_id))

    def ledger_entries(self, keys: Sequence[str]) -> list[ledger.LedgerEntry]:
        return self._reading(lambda tx: ledger.entries(tx, keys))

    def rows_held(
        self,
        server: str,
        campaign_id: int,
        rows: dict[str, str],
        write_id: str,
        *,
        now: float,
        resend_unknown: bool,
        rows_s: float = 0.0,
    ) -> dict[str, ledger.LedgerEntry]:
        """The writes of other file batches that sent these rows (number → row digest), by number,
        as the claim of `write_id` would find them (`ledger.rows_held`); for a read (a dry run's),
        a batch in flight holds its rows as of unknown outcome."""

        def read(tx: Tx) -> dict[str, ledger.LedgerEntry]:
            found = ledger.rows_held(
                tx,
                server,
                campaign_id,
                rows,
                write_id,
                now=now,
                alive=lambda _: False,
                resend_unknown=resend_unknown,
                rows_s=rows_s,
            )
            assert not isinstance(found, ledger.LedgerEntry)  # none is alive, so none is waited for
            return found

        return self._reading(read)

    def callbacks_to(self, subjects: Sequence[str], *, now: float) -> list[ledger.LedgerEntry]:
        """The callback keys of `subjects` (`Write.subjects`) the ledger holds (`ledger.about`)."""
        return self._reading(lambda tx: ledger.about(tx, subjects, now))

    def unknown_writes(
        self, *, limit: int = 50, now: float | None = None, alive: Callable[[str], bool] | None = None
    ) -> list[ledger.LedgerEntry]:
        """Writes of unknown outcome, those whose sender is gone before it settled them included.
        `alive`: whether a sender may still settle its write (default: on this host, whether its
        process runs; one of this process is taken to)."""
        at = time.time() if now is None else now
        living = alive or _sender_alive
        return self._reading(lambda tx: ledger.unknown(tx, limit=limit, now=at, alive=living))

    def writes_since(self, since: float, *, limit: int = 10_000) -> list[ledger.LedgerEntry]:
        """Writes claimed since `since` (seconds since the epoch), newest first, one entry each; one
        whose sender is gone before it settled it is of unknown outcome."""
        at = time.time()
        return self._reading(
            lambda tx: ledger.claimed_since(tx, since, limit=limit, now=at, alive=_sender_alive)
        )

    def prune_ledger(self, *, before: float, tokens_before: float, now: float | None = None) -> int:
        with self._tx(durable=False) as tx:
            return ledger.prune(tx, before=before, tokens_before=tokens_before, now=now)

    def add_confirm_token(self, digest: str, write_id: str, now: float) -> None:
        with self._tx() as tx:
            ledger.add_token(tx, digest, write_id, now)

    def confirm_token_fits(self, digest: str, write_id: str, *, since: float) -> bool:
        return self._reading(lambda tx: ledger.token_fits(tx, digest, write_id, since))

    def spend_confirm_token(self, digest: str, write_id: str, *, since: float) -> bool:
        """Remove a token made since `since` for `write_id`: True once, for whoever removed it."""
        with self._tx() as tx:
            return ledger.spend_token(tx, digest, write_id, since)

    # -- the operator page's sign-outs (SQL in sign_outs.py) -----------------------------------

    def revoke_page_cookie(self, digest: str, *, expires: float, now: float) -> None:
        """Record a page cookie signed out (the digest of its id) until it `expires`; the records of
        cookies expired by `now` go."""
        with self._tx() as tx:
            sign_outs.revoke(tx, digest, expires, now)

    def page_cookie_revoked(self, digest: str) -> bool:
        return self._reading(lambda tx: sign_outs.revoked(tx, digest))

    # -- the shared Ameyo session (SQL in lease.py) --------------------------------------------

    def session_lease(self, key: lease.LeaseKey) -> lease.Lease | None:
        return self._reading(lambda tx: lease.read(tx, key))

    def take_session(
        self,
        key: lease.LeaseKey,
        who: str,
        now: float,
        *,
        login_s: float,
        grace: float,
        unusable: int | None,
        alive: Callable[[str], bool],
        credentials: str,
    ) -> lease.Take:
        """The shared session for `who`, or its turn to log in for all, or a wait, or the refusal
        in force (see `lease.take`): decided by one process at a time."""
        with self._tx() as tx:
            return lease.take(
                tx,
                key,
                who,
                now,
                login_s=login_s,
                grace=grace,
                unusable=unusable,
                alive=alive,
                credentials=credentials,
            )

    def publish_session(
        self,
        key: lease.LeaseKey,
        who: str,
        sealed: str,
        now: float,
        *,
        timeout_s: float,
        ping_every_s: float,
        credentials: str,
    ) -> lease.Lease | None:
        with self._tx() as tx:
            return lease.publish(
                tx,
                key,
                who,
                sealed,
                now,
                timeout_s=timeout_s,
                ping_every_s=ping_every_s,
                credentials=credentials,
            )

    def session_refused(
        self, key: lease.LeaseKey, who: str, *, until: float, message: str, credentials: str
    ) -> None:
        with self._tx() as tx:
            lease.refused(tx, key, who, until=until, message=message, credentials=credentials)

    def abandon_login(self, key: lease.LeaseKey, who: str) -> None:
        with self._tx() as tx:
            lease.abandon(tx, key, who)

    def invalidate_session(self, key: lease.LeaseKey, generation: int, now: float) -> bool:
        with self._tx() as tx:
            return lease.invalidate(tx, key, generation, now)

    def touch_session(self, key: lease.LeaseKey, generation: int, who: str, now: float) -> None:
        """Record a use of the session; not flushed to disk on its own (a use lost to a power cut
        only makes the session look idle a little sooner)."""
        with self._tx(durable=False) as tx:
            lease.touch(tx, key, generation, who, now)

    def look_at_session(self, key: lease.LeaseKey, who: str, now: float) -> lease.Lease | None:
        with self._tx(durable=False) as tx:
            return lease.look(tx, key, who, now)

    def claim_ping(
        self, key: lease.LeaseKey, generation: int, who: str, now: float, *, hold_s: float
    ) -> bool:
        with self._tx(durable=False) as tx:
            return lease.claim_ping(tx, key, generation, who, now, hold_s=hold_s)

    def session_pinged(
        self, key: lease.LeaseKey, generation: int, who: str, now: float, *, answered: bool = True
    ) -> None:
        with self._tx(durable=False) as tx:
            lease.pinged(tx, key, generation, who, now, answered=answered)

    def release_session(
        self,
        key: lease.LeaseKey,
        now: float,
        *,
        generation: int | None = None,
        idle_before: float | None = None,
    ) -> lease.Lease | None:
        with self._tx() as tx:
            return lease.release(tx, key, now, generation=generation, idle_before=idle_before)

    def session_users(
        self, key: lease.LeaseKey, *, stale_before: float, alive: Callable[[str], bool]
    ) -> list[str]:
        with self._tx(durable=False) as tx:
            return lease.users(tx, key, stale_before=stale_before, alive=alive)

    def leave_session(
        self,
        key: lease.LeaseKey,
        who: str,
        now: float,
        *,
        stale_before: float,
        alive: Callable[[str], bool],
        end: int | None,
    ) -> tuple[list[str], lease.Lease | None]:
        with self._tx() as tx:
            return lease.leave(tx, key, who, now, stale_before=stale_before, alive=alive, end=end)
