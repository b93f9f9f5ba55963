"""The store's connection: opened on first use and migrated, one lock, transactions and reads that
survive a database that closed the connection (PostgreSQL restarted)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, NoReturn, Self, TypeVar

from ..errors import StoreBusy, StoreTooNew
from .backends import Tx, connect, describe, is_dead, is_driver_error, store_error
from .schema import MIGRATIONS, Dialect

T = TypeVar("T")


class Connection:
    """The store's one connection, opened on first use and migrated forward then, and its lock.

    Every part of the store (`Store`) reads and writes through `_tx` and `_reading`: thread-safe,
    one at a time. Every failure of the database leaves as a `StoreError` that says what to do (a
    full disk, a damaged file, a database that cannot be reached). A connection the database
    closed (PostgreSQL restarted) is replaced by a new one: a read is run again on it, and so is a
    transaction that had not begun; one that had fails, and the next call opens the new connection.
    """

    def __init__(self, url: str, *, name: str = "ameyo-mcp") -> None:
        self.url = url
        self._name = name  # what PostgreSQL shows for the connection (pg_stat_activity)
        self._conn: Any = None
        self._dialect: Dialect | None = None
        self._lock = threading.RLock()
        # `calls_changed`: the connection it last looked on, and SQLite's data version there.
        self._watched: Any = None
        self._data_version: Any = None
        # `ping`'s own connection: a probe never waits behind the store's lock (a sync's page).
        self._probe: tuple[Any, Dialect] | None = None
        self._probe_lock = threading.Lock()

    @property
    def where(self) -> str:
        """The database named for people (never with a password)."""
        return describe(self.url)

    @property
    def backend(self) -> str:
        return self._open()[1].name

    def close(self) -> None:
        with self._lock:
            self._drop()
        # A probe stuck on a database that does not answer keeps its connection; it drops it itself.
        if self._probe_lock.acquire(timeout=1.0):
            try:
                self._drop_probe()
            finally:
                self._probe_lock.release()

    def ping(self, *, timeout_s: float = 2.0) -> None:
        """Whether the database answers now (for a readiness probe): one cheap query on a connection
        of the probe's own, opened within `timeout_s` and opened again after any failure. Returns, or
        raises the `StoreError` that says why not. It never migrates, and never waits for the store.

        A kept connection the database closed (PostgreSQL restarted between two probes, a failover,
        a connection it ended) says nothing of the database now: it is asked again on a new one."""
        with self._probe_lock:
            while True:  # twice at most: a new connection is never a kept one
                kept = self._probe is not None
                try:
                    self._ask_probe(timeout_s)
                    return
                except Exception as exc:
                    dead = kept and self._probe is not None and is_dead(self._probe[0])
                    self._drop_probe()
                    if not dead:
                        self._probe_failed(exc)

    def _ask_probe(self, timeout_s: float) -> None:
        if self._probe is None:
            self._probe = connect(self.url, timeout_s=timeout_s)
        conn, dialect = self._probe
        # A round trip to the server (PostgreSQL); the file's schema page (SQLite). Then the schema's
        # version: a store a newer version migrated is refused on this process's next connection
        # (a PostgreSQL restart), and one never migrated has no version yet.
        if dialect.name == "postgresql":
            query = "SELECT to_regclass('schema_version') IS NOT NULL"
        else:
            query = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        if conn.execute(query).fetchone()[0]:
            _known(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)

    def _probe_failed(self, exc: Exception) -> NoReturn:
        if is_driver_error(exc):
            raise store_error(exc, self.url) from None
        raise exc

    def _drop_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            with suppress(Exception):
                probe[0].close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------

    def _open(self) -> tuple[Any, Dialect]:
        if self._conn is None or self._dialect is None:
            conn, dialect = connect(self.url, name=self._name)
            try:
                _migrate(conn, dialect)
            except BaseException as exc:
                with suppress(Exception):
                    conn.close()
                if is_driver_error(exc):
                    raise store_error(exc, self.url) from None
                raise
            self._conn, self._dialect = conn, dialect
        return self._conn, self._dialect

    def _drop(self) -> None:
        """Forget the connection, closing it quietly (it may be dead): the next use opens another."""
        conn, self._conn, self._dialect = self._conn, None, None
        if conn is not None:
            with suppress(Exception):
                conn.close()

    @contextmanager
    def _held(self, wait: bool) -> Iterator[tuple[Any, Dialect]]:
        """The connection, holding the store's lock; not `wait`: StoreBusy at once, rather than
        waiting, while another thread has the store (a sync writing a page). A driver's error
        leaves as a `StoreError`; a connection the database closed is forgotten on the way."""
        if not self._lock.acquire(blocking=wait):
            raise StoreBusy("another thread is using the store")
        try:
            yield self._open()
        except Exception as exc:
            if not is_driver_error(exc):
                raise
            if self._conn is not None and is_dead(self._conn):
                self._drop()
            raise store_error(exc, self.url) from None
        finally:
            self._lock.release()

    @contextmanager
    def _tx(self, *, durable: bool = True, wait: bool = True) -> Iterator[Tx]:
        """One transaction, all or nothing, holding the store's lock (`_held`). Not `durable`: its
        commit may be lost to a power cut (or a PostgreSQL crash), never half-applied; a killed
        process loses nothing. Begun on a connection the database closed, it begins again on a new
        one (nothing of it ran); one that fails later is never run again here: its caller decides."""
        with self._held(wait) as (conn, dialect):
            try:
                cur = _begin(conn, dialect, durable)
            except Exception as exc:
                if not (is_driver_error(exc) and is_dead(conn)):
                    raise
                self._drop()
                conn, dialect = self._open()
                cur = _begin(conn, dialect, durable)
            try:
                try:
                    yield Tx(cur, dialect)
                except BaseException:
                    # SQLite may have rolled it back itself (a full disk), and a dead connection
                    # cannot: the error on its way out says more than this one.
                    with suppress(Exception):
                        cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            finally:
                if not durable and dialect.name == "sqlite":
                    try:
                        cur.execute("PRAGMA synchronous=FULL")
                    except Exception:
                        self._drop()  # a new connection starts with every commit flushed

    def _reading(self, body: Callable[[Tx], T], *, wait: bool = True) -> T:
        """`body`'s reads, holding the store's lock (`_held`); on a connection the database closed
        (it restarted), once more on a new one: a read changes nothing."""
        with self._held(wait) as (conn, dialect):
            try:
                return body(Tx(conn.cursor(), dialect))
            except Exception as exc:
                if not (is_driver_error(exc) and is_dead(conn)):
                    raise
            self._drop()
            conn, dialect = self._open()
            return body(Tx(conn.cursor(), dialect))


def _begin(conn: Any, dialect: Dialect, durable: bool) -> Any:
    """A cursor in a new transaction (see `Connection._tx`)."""
    cur = conn.cursor()
    if dialect.name == "sqlite":
        if not durable:
            cur.execute("PRAGMA synchronous=NORMAL")
        try:
            cur.execute("BEGIN IMMEDIATE")
        except BaseException:
            if not durable:
                with suppress(Exception):
                    cur.execute("PRAGMA synchronous=FULL")
            raise
        return cur
    cur.execute("BEGIN")
    if not durable:
        try:
            cur.execute("SET LOCAL synchronous_commit TO OFF")
        except BaseException:
            with suppress(Exception):
                cur.execute("ROLLBACK")
            raise
    return cur


def _migrate(conn: Any, dialect: Dialect) -> None:
    """Bring the schema forward to the latest version, once, even with several processes opening
    the same database at the same time."""
    cur = conn.cursor()
    tx = Tx(cur, dialect)
    # SQLite waits (its busy timeout) while another opener holds the write lock and migrates.
    cur.execute("BEGIN IMMEDIATE" if dialect.name == "sqlite" else "BEGIN")
    try:
        if dialect.name == "postgresql":
            tx.run("SELECT pg_advisory_xact_lock(7110451211)")
        tx.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = tx.first("SELECT MAX(version) FROM schema_version")
        current = row[0] if row and row[0] is not None else 0
        _known(current)
        for version in range(current + 1, len(MIGRATIONS) + 1):
            for statement in MIGRATIONS[version - 1]:
                cur.execute(dialect.ddl(statement))
            tx.run("INSERT INTO schema_version (version) VALUES (?)", (version,))
    except BaseException:
        with suppress(Exception):  # the error on its way out says more than this one
            cur.execute("ROLLBACK")
        raise
    cur.execute("COMMIT")


def _known(version: int) -> None:
    """Raises `StoreTooNew` for a schema `version` newer than this ameyo-mcp's migrations."""
    if version > len(MIGRATIONS):
        raise StoreTooNew(
            f"The index database is at schema version {version}, newer than this ameyo-mcp knows "
            f"({len(MIGRATIONS)}): upgrade ameyo-mcp, or point AMEYO_DATABASE_URL elsewhere"
        )
