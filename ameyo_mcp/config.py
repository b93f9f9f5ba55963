"""Settings, read once at start from the environment and an optional `.env` file.

Nothing else in the package reads the environment: every layer gets a `Settings` object.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr

from .errors import SettingsError
from .rules import phones

DEFAULT_POLICY_NAME = "token-based-authorization-policy"
DEFAULT_HISTORY_DAYS = 90
# The SDK's request-state keys need 32 bytes of secret; a shorter secret is refused at start.
MIN_SECRET_KEY = 32

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def machine_timezone() -> str:
    """The machine's IANA zone name, best effort; UTC when it cannot be told."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and _is_zone(tz):
        return tz
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:  # pragma: no cover - platform without /etc/localtime
        return "UTC"
    marker = "zoneinfo/"
    if marker in target:
        name = target.split(marker, 1)[1]
        if _is_zone(name):
            return name
    return "UTC"


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class CallingHours:
    """When customers may be called, in the Ameyo server's zone: start inclusive, end exclusive."""

    start: time
    end: time


def _calling_hours(raw: str | None) -> CallingHours:
    if raw is None:
        return CallingHours(time(9), time(21))
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise SettingsError(f"AMEYO_CALLING_HOURS must look like 09:00-21:00, not {raw!r}") from None
    if not start < end:
        raise SettingsError(f"AMEYO_CALLING_HOURS must start before it ends, not {raw!r}")
    return CallingHours(start, end)


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to reach Ameyo. Secrets are `SecretStr`: they never print.

    A plain dataclass: `load_settings` checks every value itself, and a pydantic model here made
    every start-up slower (bench/bench_coldstart.py).
    """

    base_url: str
    user_id: str | None = None
    password: SecretStr | None = None
    terminal: str = "127.0.0.1"
    client_type: str | None = None
    timezone: str = "UTC"
    # False when AMEYO_TIMEZONE was not set and the machine's zone stands in for the server's.
    timezone_given: bool = True
    timeout_s: float | None = None
    session_file: Path | None = None
    hash_key: SecretStr | None = None
    policy_name: str = DEFAULT_POLICY_NAME
    requesting_host: str | None = None
    idle_limit_s: float = 1800.0
    # Log out on shutdown when no other process on the store uses the shared session.
    logout_on_exit: bool = False
    read_only: bool = False
    log_level: str = "WARNING"
    # Trust: writes, audit, HTTP transport.
    repeat_window_s: float = 600.0
    # How long the write ledger keeps settled writes (callbacks, file batches, unknown outcomes).
    ledger_days: float = 30.0
    confirm_over: int = 100
    audit_file: Path | None = None
    http_token: SecretStr | None = None
    allowed_hosts: tuple[str, ...] = ()
    max_request_bytes: int = 1_000_000
    http_max_connections: int = 1000
    http_read_timeout_s: float = 10.0
    http_max_sessions: int = 1000
    http_session_idle_s: float = 600.0
    # Event streams held open (GET streams, subscriptions/listen); lowered to half the connections
    # and half the sessions, so that requests always find both.
    http_max_streams: int = 500
    # The SDK's stateless streamable HTTP: no MCP session, any replica answers any request.
    http_stateless: bool = False
    # On SIGTERM, how long calls in flight may take to finish before the process ends them.
    drain_s: float = 20.0
    # What must verify on another replica (the SDK's sealed request state, the shared Ameyo session
    # sealed in the store); None: a key per process, and the session's key from the credentials.
    secret_key: SecretStr | None = None
    # Bulk uploads: the only folders the upload-file tool may read.
    upload_dirs: tuple[Path, ...] = ()
    # The index and call history (ameyo_mcp/store); None: a SQLite file per Ameyo server.
    database_url: str | None = None
    # Keeping the index in step with Ameyo: gentle by default, a production Ameyo serves agents first.
    sync_interval_s: float = 3600.0
    sync_page_size: int = 500
    sync_pages_in_flight: int = 2
    sync_rate: float = 5.0
    # Ameyo's call-outcome pushes: the secret in the push URL, and how long call history is kept.
    push_token: SecretStr | None = None
    history_days: int = DEFAULT_HISTORY_DAYS
    # The phone rule (phones.py): the country of numbers written without one, and the spelling
    # sent to Ameyo's dialer for numbers given in another form.
    phone_region: str = phones.DEFAULT_REGION
    phone_format: str = phones.DEFAULT_STYLE
    # Callbacks outside these hours (server time) need the person's explicit yes.
    calling_hours: CallingHours = field(default_factory=lambda: CallingHours(time(9), time(21)))
    # --demo: the embedded simulator, with a throwaway index and audit trail and no settings file.
    demo: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def phone_rule(self) -> phones.PhoneRule:
        return phones.PhoneRule(self.phone_region, self.phone_format)

    @property
    def token_auth(self) -> bool:
        return self.hash_key is not None

    @property
    def command_url(self) -> str:
        return self.base_url.rstrip("/") + "/ameyowebaccess/command"

    def resolved_session_file(self) -> Path | None:
        """Where earlier versions cached the live session (one file per server and user): read once,
        to take that session up, and no longer written."""
        if self.session_file is not None:
            return self.session_file if str(self.session_file) not in ("", "-", "none") else None
        if self.user_id is None:
            return None
        digest = hashlib.sha256(f"{self.base_url}|{self.user_id}".encode()).hexdigest()[:16]
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cache / "ameyo-mcp" / f"session-{digest}.json"

    def derived_key(self, purpose: str) -> bytes | None:
        """A 32-byte key for one `purpose`, derived from AMEYO_SECRET_KEY (so replicas with the same
        secret derive the same key, and no purpose's key tells anything of another's); None without it."""
        if self.secret_key is None:
            return None
        secret = self.secret_key.get_secret_value().encode()
        return hmac.new(secret, f"ameyo-mcp/{purpose}".encode(), hashlib.sha256).digest()

    def resolved_database_url(self) -> str:
        """Where the index is: AMEYO_DATABASE_URL, or a SQLite file in the state folder, one per
        Ameyo server (campaign and customer ids of two servers would mix in one)."""
        if self.database_url is not None:
            return self.database_url
        digest = hashlib.sha256(self.base_url.encode()).hexdigest()[:16]
        return str(state_folder() / f"index-{digest}.db")

    def resolved_audit_file(self) -> Path:
        """Where the audit trail is: AMEYO_AUDIT_FILE, or `audit.jsonl` in the state folder."""
        return self.audit_file or state_folder() / "audit.jsonl"


def state_folder() -> Path:
    """The folder of what the server keeps between runs, unless a setting names another place:
    `$XDG_STATE_HOME/ameyo-mcp`, by default `~/.local/state/ameyo-mcp`."""
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "ameyo-mcp"


def timezone_warning(settings: Settings) -> str:
    return (
        f"AMEYO_TIMEZONE is not set, so this machine's zone ({settings.timezone}) stands in for the "
        "Ameyo server's: callback times without an offset are read in it. Set AMEYO_TIMEZONE to the "
        "server's zone (e.g. Asia/Kolkata)."
    )


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _float(env: Mapping[str, str], name: str, *, minimum: float) -> float | None:
    raw = _get(env, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum:g}, not {raw!r}")
    return value


def _int(env: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    raw = _get(env, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {raw!r}")
    return value


def _put(values: dict[str, Any], field: str, value: object) -> None:
    """Set a field only when its variable was given, so the dataclass default stands otherwise."""
    if value is not None:
        values[field] = value


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _base_url(raw: str | None) -> str:
    if raw is None:
        raise SettingsError(
            "AMEYO_BASE_URL is not set: give the Ameyo server's address, e.g. http://10.10.2.176:8888 "
            "(or run with --demo to use the embedded simulator)"
        )
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"AMEYO_BASE_URL must look like http://host:port, not {raw!r}")
    if parts.username or parts.password:
        raise SettingsError(
            "AMEYO_BASE_URL must not carry a user or password: use AMEYO_USER_ID/AMEYO_PASSWORD"
        )
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise SettingsError(f"AMEYO_BASE_URL has a malformed port: {raw!r}") from None
    path = parts.path.rstrip("/")
    # People paste the command URL from the vendor document; accept it and keep the base.
    for suffix in ("/ameyowebaccess/command", "/ameyowebaccess"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    # Host names ignore case: the base URL keys journals and the write ledger, so one spelling.
    netloc = parts.netloc.lower()
    return f"{parts.scheme.lower()}://{netloc}{path}"


def environment() -> dict[str, str]:
    """The process's environment, for a caller that builds settings from it with changes (the demo)."""
    return dict(os.environ)


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | Path | None = ".env",
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from a `.env` file (if present) under the real environment, which wins.

    Raises `SettingsError` with one line that names the variable to fix.
    """
    env: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values  # only when there is a file to read: it costs start-up time

        env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    env.update(os.environ if environ is None else environ)

    values: dict[str, Any] = {"base_url": _base_url(_get(env, "AMEYO_BASE_URL"))}
    user = _get(env, "AMEYO_USER_ID")
    password = env.get("AMEYO_PASSWORD")
    hash_key = _get(env, "AMEYO_HASH_KEY")
    if hash_key is None:
        if user is None:
            raise SettingsError(
                "AMEYO_USER_ID is not set: give the Customer Manager user (or AMEYO_HASH_KEY for token auth)"
            )
        if not password:
            raise SettingsError(f"AMEYO_PASSWORD is not set: give the password of Ameyo user {user!r}")
    else:
        values["hash_key"] = SecretStr(hash_key)
        host = _get(env, "AMEYO_REQUESTING_HOST")
        if host is None:
            raise SettingsError(
                "AMEYO_REQUESTING_HOST is not set: token authentication (AMEYO_HASH_KEY) needs the host "
                "name Ameyo knows this client by"
            )
        values["requesting_host"] = host
        values["policy_name"] = _get(env, "AMEYO_POLICY_NAME") or DEFAULT_POLICY_NAME
    if user is not None:
        values["user_id"] = user
    if password:
        values["password"] = SecretStr(password)

    zone = _get(env, "AMEYO_TIMEZONE")
    values["timezone_given"] = zone is not None
    zone = zone or machine_timezone()
    if not _is_zone(zone):
        raise SettingsError(f"AMEYO_TIMEZONE must be an IANA zone name such as Asia/Kolkata, not {zone!r}")
    values["timezone"] = zone
    values["terminal"] = _get(env, "AMEYO_TERMINAL") or "127.0.0.1"
    values["client_type"] = _get(env, "AMEYO_CLIENT_TYPE")
    values["timeout_s"] = _float(env, "AMEYO_TIMEOUT_S", minimum=0.1)
    idle = _float(env, "AMEYO_IDLE_LIMIT_S", minimum=0)
    if idle is not None:
        values["idle_limit_s"] = idle
    values["logout_on_exit"] = _bool(env, "AMEYO_LOGOUT_ON_EXIT")
    session_file = _get(env, "AMEYO_SESSION_FILE")
    if session_file is not None:
        values["session_file"] = Path(session_file).expanduser()
    values["read_only"] = _bool(env, "AMEYO_READ_ONLY")
    level = (_get(env, "AMEYO_LOG_LEVEL") or "WARNING").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"AMEYO_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    values["log_level"] = level
    window = _float(env, "AMEYO_REPEAT_WINDOW_S", minimum=0)
    if window is not None:
        values["repeat_window_s"] = window
    kept = _get(env, "AMEYO_LEDGER_DAYS")
    if kept is not None:
        try:
            values["ledger_days"] = float(kept)
        except ValueError:
            raise SettingsError(f"AMEYO_LEDGER_DAYS must be a number of days, not {kept!r}") from None
        if values["ledger_days"] < 1:
            raise SettingsError(f"AMEYO_LEDGER_DAYS must be at least 1 (day), not {kept!r}")
    _put(values, "confirm_over", _int(env, "AMEYO_CONFIRM_OVER", minimum=0))
    audit = _get(env, "AMEYO_AUDIT_FILE")
    if audit is not None:
        values["audit_file"] = Path(audit).expanduser()
    token = _get(env, "AMEYO_HTTP_TOKEN")
    if token is not None:
        if len(token) < 16:
            raise SettingsError("AMEYO_HTTP_TOKEN must be at least 16 characters long")
        values["http_token"] = SecretStr(token)
    hosts = _get(env, "AMEYO_ALLOWED_HOSTS")
    if hosts is not None:
        values["allowed_hosts"] = tuple(h.strip() for h in hosts.split(",") if h.strip())
    _put(values, "max_request_bytes", _int(env, "AMEYO_MAX_REQUEST_BYTES", minimum=1024))
    _put(values, "http_max_connections", _int(env, "AMEYO_HTTP_MAX_CONNECTIONS", minimum=1))
    _put(values, "http_read_timeout_s", _float(env, "AMEYO_HTTP_READ_TIMEOUT_S", minimum=0.1))
    _put(values, "http_max_sessions", _int(env, "AMEYO_HTTP_MAX_SESSIONS", minimum=1))
    _put(values, "http_session_idle_s", _float(env, "AMEYO_HTTP_SESSION_IDLE_S", minimum=0.1))
    _put(values, "http_max_streams", _int(env, "AMEYO_HTTP_MAX_STREAMS", minimum=1))
    values["http_stateless"] = _bool(env, "AMEYO_HTTP_STATELESS")
    _put(values, "drain_s", _float(env, "AMEYO_DRAIN_S", minimum=0))
    secret = _get(env, "AMEYO_SECRET_KEY")
    if secret is not None:
        if len(secret) < MIN_SECRET_KEY:
            raise SettingsError(
                f"AMEYO_SECRET_KEY must be at least {MIN_SECRET_KEY} characters long (e.g. the output of "
                "python -c 'import secrets; print(secrets.token_hex(32))'), the same on every replica"
            )
        values["secret_key"] = SecretStr(secret)
    dirs = _get(env, "AMEYO_UPLOAD_DIRS")
    if dirs is not None:
        values["upload_dirs"] = tuple(
            Path(d).expanduser().resolve() for d in dirs.split(os.pathsep) if d.strip()
        )
    database = _get(env, "AMEYO_DATABASE_URL")
    if database is not None:
        values["database_url"] = _database_url(database)
    interval = _float(env, "AMEYO_SYNC_INTERVAL_S", minimum=0)
    if interval is not None:
        values["sync_interval_s"] = interval
    page = _float(env, "AMEYO_SYNC_PAGE_SIZE", minimum=1)
    if page is not None:
        values["sync_page_size"] = min(int(page), 10_000)
    in_flight = _float(env, "AMEYO_SYNC_PAGES_IN_FLIGHT", minimum=1)
    if in_flight is not None:
        values["sync_pages_in_flight"] = min(int(in_flight), 16)
    rate = _float(env, "AMEYO_SYNC_RATE", minimum=0)
    if rate is not None:
        values["sync_rate"] = rate
    push = _get(env, "AMEYO_PUSH_TOKEN")
    if push is not None:
        if len(push) < 16 or not push.isascii() or not push.isprintable() or " " in push:
            raise SettingsError(
                "AMEYO_PUSH_TOKEN must be at least 16 printable ASCII characters without spaces "
                "(it travels in a URL)"
            )
        values["push_token"] = SecretStr(push)
    days = _float(env, "AMEYO_HISTORY_DAYS", minimum=1)
    if days is not None:
        values["history_days"] = int(days)
    values.update(_phone_settings(env))
    values["calling_hours"] = _calling_hours(_get(env, "AMEYO_CALLING_HOURS"))
    values.update(overrides or {})
    return Settings(**values)


def _database_url(raw: str) -> str:
    if raw.startswith(("postgresql://", "postgres://")):
        return raw
    if raw.startswith("sqlite:"):
        return raw
    if "://" in raw:
        raise SettingsError(
            "AMEYO_DATABASE_URL must be postgresql://user@host/db, sqlite:///path/to/file.db or a file "
            f"path, not a {raw.split('://', 1)[0]!r} URL"
        )
    return str(Path(raw).expanduser())


def _phone_settings(env: Mapping[str, str]) -> dict[str, str]:
    # Only the shape of the region is checked here: whether libphonenumber knows it is checked on
    # first use (phones.check_region) and by `ameyo-mcp check`, so start-up never loads the library.
    region = (_get(env, "AMEYO_PHONE_REGION") or phones.DEFAULT_REGION).upper()
    if not (len(region) == 2 and region.isascii() and region.isalpha()):
        raise SettingsError(
            f"AMEYO_PHONE_REGION must be a two-letter ISO country code such as IN, not {region!r}"
        )
    style = (_get(env, "AMEYO_PHONE_FORMAT") or phones.DEFAULT_STYLE).lower()
    if style not in phones.STYLES:
        raise SettingsError(f"AMEYO_PHONE_FORMAT must be one of {', '.join(phones.STYLES)}, not {style!r}")
    return {"phone_region": region, "phone_format": style}
