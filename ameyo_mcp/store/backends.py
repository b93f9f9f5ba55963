"""Opening a connection: a SQLite file (owner-only, WAL) or a PostgreSQL database.

The drivers are imported here, when the store is first used: not when the package is imported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import StoreError
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
    host = parts.hostname or "local socket"
    port = f":{parts.port}" if parts.port else ""
    return f"PostgreSQL {host}{port}{parts.path or '/'}"


def connect(url: str) -> tuple[Any, Dialect]:
    if is_postgres(url):
        return _connect_postgres(url), POSTGRES
    return _connect_sqlite(sqlite_path(url)), SQLITE


def _connect_sqlite(path: Path) -> Any:
    import sqlite3  # here, not at import: cold start does not pay for it

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The file is created owner-only before SQLite opens it; its -wal and -shm files copy its mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk when it returns, so an event answered 200 survives a crash.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=OFF")
        # A first pass's key build sorts millions of keys: a helper thread takes 16% off it.
        conn.execute("PRAGMA threads=2")
        # PostgreSQL's reverse(), which migration 2 uses (phone keys are kept reversed).
        conn.create_function("reverse", 1, _reversed, deterministic=True)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(
            f"The index database {path} cannot be opened ({exc}): check that its folder is writable, "
            "or set AMEYO_DATABASE_URL to another file"
        ) from None
    return conn


def _reversed(text: str | None) -> str | None:
    return None if text is None else text[::-1]


def _connect_postgres(url: str) -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "AMEYO_DATABASE_URL names a PostgreSQL database, but psycopg is not installed: "
            "pip install 'ameyo-mcp[postgres]'"
        ) from None
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(f"The index database {describe(url)} cannot be reached: {reason[:300]}") from None


class Tx:
    """A cursor that speaks the store's SQL (`?` placeholders) in the connection's dialect."""

    def __init__(self, cur: Any, dialect: Dialect) -> None:
        self.cur = cur
        self.dialect = dialect

    @property
    def rowcount(self) -> int:
        return int(self.cur.rowcount)

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.cur.execute(self.dialect.sql(sql), tuple(params))

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cur.executemany(self.dialect.sql(sql), rows)

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
