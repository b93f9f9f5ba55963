"""Opening a connection: a SQLite file (owner-only, WAL) or a PostgreSQL database; and the
drivers' errors in words (`store_error`).

The drivers are imported here, when the store is first used: not when the package is imported.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import StoreError, StoreUnreachable
from ..rules.redact import SECRETS
from . import explain
from .schema import POSTGRES, SQLITE, Dialect


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_path(url: str) -> Path:
    """`sqlite:///abs/path.db`, `sqlite:relative.db` or a plain path."""
    if url.startswith("sqlite:"):
        url = url.removeprefix("sqlite:")
        if url.startswith("///"):
            url = url[2:]
    return Path(url).expanduser()


def describe(url: str) -> str:
    """The database named without its password, for messages."""
    if not is_postgres(url):
        return str(sqlite_path(url))
    parts = urlsplit(url)
    path = parts.path or "/"
    try:
        host, port = parts.hostname, f":{parts.port}" if parts.port else ""
    except ValueError:  # its message quotes the text it took for a port: a password's, maybe
        return "PostgreSQL (a URL whose host or port cannot be read)"
    if not host:
        return f"PostgreSQL {path} (local socket)"
    return f"PostgreSQL {host}{port}{path}"


def connect(url: str, *, timeout_s: float | None = None, name: str = "ameyo-mcp") -> tuple[Any, Dialect]:
    """A new connection; `timeout_s` bounds the wait for PostgreSQL to accept it (default 10 s), and
    `name` is what PostgreSQL shows for it (`application_name`), unless the URL sets its own."""
    if is_postgres(url):
        return _connect_postgres(url, timeout_s, name), POSTGRES
    return _connect_sqlite(sqlite_path(url)), SQLITE


def _connect_sqlite(path: Path) -> Any:
    import sqlite3  # here, not at import: cold start does not pay for it

    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise StoreError(
            f"This Python's SQLite is {sqlite3.sqlite_version}; the index needs SQLite "
            f"{'.'.join(map(str, MIN_SQLITE))} or newer.",
            next_step="Run ameyo-mcp with a Python built with a newer SQLite (python.org's, or uv's "
            "`uv python install`), or keep the index in PostgreSQL (AMEYO_DATABASE_URL=postgresql://…).",
        )
    conn: Any = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The file is created owner-only before SQLite opens it; its -wal and -shm files copy its mode.
        # Only a file that is not there yet is opened here: closing a descriptor of the file drops
        # every POSIX lock this process holds on it, those of its open SQLite connections too, and
        # another process closing its own connection would then take itself for the last one and
        # delete the WAL that this one still writes to.
        if not path.exists():
            with contextlib.suppress(FileExistsError):  # another thread or process made it first
                os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        os.chmod(path, 0o600)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=_SQLITE_WAIT_S)
        _wal(conn)
        # FULL: a commit is on disk when it returns, so an event answered 200 survives a crash.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=OFF")
        # A first pass's key build sorts millions of keys: a helper thread shortens it.
        conn.execute("PRAGMA threads=2")
        # PostgreSQL's reverse(), which migration 2 uses (phone keys are kept reversed).
        conn.create_function("reverse", 1, _reversed, deterministic=True)
    except OSError as exc:
        # mkdir says "File exists" of a path through a file: say which file is in the way.
        blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        why = f"{blocking} is a file, not a folder" if blocking else exc.strerror or type(exc).__name__
        raise StoreError(
            f"The index database {path} cannot be opened ({why})",
            next_step="Check that its folder is writable, or set AMEYO_DATABASE_URL to another file.",
        ) from None
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise store_error(exc, str(path)) from None
    return conn


def _wal(conn: Any) -> None:
    """Turn WAL on. Turning a new file to WAL needs it to itself, and SQLite answers "database is
    locked" at once rather than waiting (its busy timeout does not apply): processes opening a new
    store at the same moment (replicas starting together) try again for a while."""
    import sqlite3

    deadline = time.monotonic() + _SQLITE_WAIT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = str(getattr(exc, "sqlite_errorname", "")).startswith(_SQLITE_BUSY)
            if not (busy or "locked" in str(exc)) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def _reversed(text: str | None) -> str | None:
    return None if text is None else text[::-1]


def _connect_postgres(url: str, timeout_s: float | None = None, name: str = "ameyo-mcp") -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "AMEYO_DATABASE_URL names a PostgreSQL database, but psycopg is not installed: "
            "pip install 'ameyo-mcp[postgres]'"
        ) from None
    try:
        # libpq counts whole seconds, and treats less than 2 as 2.
        wait = 10 if timeout_s is None else max(2, math.ceil(timeout_s))
        named: dict[str, Any] = {} if "application_name" in url else {"application_name": name}
        return psycopg.connect(url, autocommit=True, connect_timeout=wait, **named)
    except psycopg.Error as exc:
        raise StoreUnreachable(
            f"The index database {describe(url)} cannot be reached ({_reason(exc)})",
            next_step=_START_POSTGRES,
        ) from None


# How long SQLite waits for another connection's lock before answering "database is locked".
_SQLITE_WAIT_S = 30.0
# The oldest SQLite the store's tests have passed on (Debian 11's, RHEL 9's 3.34.1); RETURNING (3.35)
# is not needed (see _inserted_without_returning in calls.py).
MIN_SQLITE = (3, 34, 0)
_START_POSTGRES = "Check that PostgreSQL is running and that AMEYO_DATABASE_URL names it, then try again."
# SQLite's result codes (`sqlite_errorname`, without the extended part) by what a person does about them.
_SQLITE_FULL = ("SQLITE_FULL",)
_SQLITE_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")
_SQLITE_UNUSABLE = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_PERM", "SQLITE_AUTH")
# PostgreSQL's SQLSTATEs: the connection is gone (08: connection exception; 57P01-3: shut down).
_PG_GONE = ("08", "57P01", "57P02", "57P03")


def _sqlite_version() -> tuple[int, ...]:
    import sqlite3

    return tuple(sqlite3.sqlite_version_info)


def is_driver_error(exc: BaseException) -> bool:
    """Whether `exc` comes from the database driver (sqlite3 or psycopg), whichever is loaded."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(exc, sqlite3.Error):
        return True
    return type(exc).__module__.partition(".")[0] == "psycopg"


def is_dead(conn: Any) -> bool:
    """Whether the database closed this connection (PostgreSQL restarted or ended it): a new one
    may work where it cannot. A SQLite connection never dies so."""
    return bool(getattr(conn, "closed", False) or getattr(conn, "broken", False))


def store_error(exc: BaseException, url: str) -> StoreError:
    """A driver's error as a `StoreError` that says what happened to the database and what to do:
    a full disk, a damaged file, a database that is gone or busy."""
    where = describe(url)
    reason = _reason(exc)
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    if not is_postgres(url):
        text = str(exc).lower()
        if name.startswith(_SQLITE_FULL) or "disk is full" in text:
            return StoreError(
                f"The index database {where} cannot be written: its disk is full",
                next_step="Free space on that disk (or set AMEYO_DATABASE_URL to a file on another one), "
                "then try again.",
            )
        if name.startswith(_SQLITE_DAMAGED) or "malformed" in text or "not a database" in text:
            return StoreError(
                f"The index database {where} is damaged ({reason})",
                next_step="Move the file aside (it holds the call history and the write ledger) and run "
                "ameyo-mcp sync to build a new index, or set AMEYO_DATABASE_URL to another file.",
            )
        if name.startswith(_SQLITE_BUSY):
            return StoreError(
                f"The index database {where} is locked by another process ({reason})",
                next_step="Try again in a moment.",
            )
        if name.startswith(_SQLITE_UNUSABLE):
            return StoreError(
                f"The index database {where} cannot be read or written ({reason})",
                next_step="Check that its folder is writable and its disk healthy, or set "
                "AMEYO_DATABASE_URL to another file.",
            )
        return StoreError(
            f"The index database {where} failed ({reason})",
            next_step="Try again; if it keeps failing, check the file AMEYO_DATABASE_URL names.",
        )
    state = str(getattr(exc, "sqlstate", "") or "")
    # Without a SQLSTATE the driver itself failed: "the connection is closed", "server closed the
    # connection unexpectedly".
    client_side = not state and type(exc).__name__ in ("OperationalError", "InterfaceError")
    if state.startswith(_PG_GONE) or client_side:
        return StoreUnreachable(
            f"The index database {where} cannot be reached ({reason})", next_step=_START_POSTGRES
        )
    if state == "53100":
        return StoreError(
            f"The index database {where} cannot be written: the PostgreSQL server's disk is full",
            next_step="Ask whoever runs PostgreSQL to free space on it, then try again.",
        )
    if state.startswith("XX"):
        return StoreError(
            f"The index database {where} is damaged ({reason})",
            next_step="Ask whoever runs PostgreSQL to check the database; its log names the damage.",
        )
    return StoreError(
        f"The index database {where} refused a query ({reason})",
        next_step="Try again; if it keeps failing, check PostgreSQL's log.",
    )


def _reason(exc: BaseException) -> str:
    """The first line of a driver's message, short, with any secret masked."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return SECRETS.scrub(first)[:200]  # masked before it is cut: a cut secret would not be found


class Tx:
    """A cursor that speaks the store's SQL (`?` placeholders) in the connection's dialect."""

    def __init__(self, cur: Any, dialect: Dialect) -> None:
        self.cur = cur
        self.dialect = dialect

    @property
    def returning(self) -> bool:
        """Whether `INSERT … RETURNING` works here: PostgreSQL, and SQLite from 3.35."""
        return self.dialect.name != "sqlite" or _sqlite_version() >= (3, 35, 0)

    @property
    def rowcount(self) -> int:
        return int(self.cur.rowcount)

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        text = self.dialect.sql(sql)
        if explain.recording():
            explain.record(self.cur, self.dialect.name, text, params)
        self.cur.execute(text, tuple(params))

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cur.executemany(self.dialect.sql(sql), rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], tail: str = ""
    ) -> None:
        """Insert `rows` (values of `columns`) into `table`, `tail` (its `ON CONFLICT …`) deciding
        what a conflict does. The rows must not repeat a key an `ON CONFLICT DO UPDATE` acts on
        (PostgreSQL refuses to update a row twice in one statement).

        PostgreSQL gets them by COPY into a staging table, then one statement: a statement per
        row costs a message and a server round of its own for each, and sending them as arrays
        makes the driver quote every value in Python. SQLite runs the statement per row in C
        (executemany), which is as cheap as its own bulk paths."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.dialect.name == "sqlite":
            self.cur.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))}) {tail}", rows
            )
            return
        staging = self._staged(table, columns, rows)
        self.cur.execute(
            f"WITH staged AS (DELETE FROM {staging} RETURNING {names}) "
            f"INSERT INTO {table} ({names}) SELECT {names} FROM staged {tail}"
        )

    def delete_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Delete the rows of `table` whose `columns` equal one of `rows`; on PostgreSQL in one
        statement (see `insert_rows`)."""
        if not rows:
            return
        if self.dialect.name == "sqlite":
            self.cur.executemany(
                f"DELETE FROM {table} WHERE {' AND '.join(f'{c} = ?' for c in columns)}", rows
            )
            return
        staging = self._staged(table, columns, rows)
        match = " AND ".join(f"t.{c} = s.{c}" for c in columns)
        self.cur.execute(
            f"WITH staged AS (DELETE FROM {staging} RETURNING {', '.join(columns)}) "
            f"DELETE FROM {table} t USING staged s WHERE {match}"
        )

    def _staged(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
        """PostgreSQL: `rows` copied into a temporary table of `columns` (typed as `table`'s), empty
        before (each use empties it, and a commit or rollback too); its name."""
        names = ", ".join(columns)
        staging = f"staging_{table}_{zlib.crc32(names.encode()):08x}"
        self.cur.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS "
            f"AS SELECT {names} FROM {table} WITH NO DATA"
        )
        with self.cur.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return staging

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """The condition "`column` is one of `values`" and its parameters. PostgreSQL takes the
        values as one array: the driver parses a statement of many placeholders anew every time
        (longer ones than it caches), which costs more than the query."""
        if self.dialect.name == "postgresql":
            return f"{column} = ANY(?)", [list(values)]
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.run(sql, params)
        return list(self.cur.fetchall())

    def first(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self.run(sql, params)
        row = self.cur.fetchone()
        return None if row is None else tuple(row)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        row = self.first(sql, params)
        if row is None:
            raise StoreError("The index database lost a row it had just written; run the command again")
        return row
