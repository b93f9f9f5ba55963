"""Settings, read once at start from the environment and an optional `.env` file.

Nothing else in the package reads the environment: every layer gets a `Settings` object.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr

from .errors import SettingsError
from .rules import phones
from .rules.redact import SECRETS

DEFAULT_POLICY_NAME = "token-based-authorization-policy"
DEFAULT_HISTORY_DAYS = 90
DEFAULT_AUDIT_DAYS = 30
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


def malloc_arenas_given() -> bool:
    """Whether the environment sets glibc's MALLOC_ARENA_MAX: the person's choice then stands."""
    return "MALLOC_ARENA_MAX" in os.environ


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
    # How long the write ledger keeps settled writes (callbacks, file batches, unknown outcomes) and
    # the records uploads sent (held inside other uploads for as long).
    ledger_days: float = 30.0
    confirm_over: int = 100
    audit_file: Path | None = None
    # How many days of the audit trail are kept besides today's (a file a UTC day).
    audit_days: int = DEFAULT_AUDIT_DAYS
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
    # Long CLI work (sync, upload) with stderr not a terminal: a progress line this often.
    progress_every_s: float = 10.0
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

    def __post_init__(self) -> None:
        # Every secret of the settings is masked from the moment they exist, whatever this process
        # goes on to serve: a bearer token quoted in an upload's record over stdio too.
        for secret in (self.password, self.hash_key, self.http_token, self.secret_key, self.push_token):
            if secret is not None:
                SECRETS.add(secret.get_secret_value())
        for given in _url_passwords(self.database_url):  # a driver's message may quote it
            SECRETS.add(given)

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
        """The audit trail's name: AMEYO_AUDIT_FILE, or `audit.jsonl` in the state folder. Its lines
        are in a file a day beside it (`audit-2026-12-06.jsonl`)."""
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


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _shown(url: str) -> str:
    """A URL setting as an error quotes it: one with an @ may carry a password, so it is described,
    never quoted."""
    return "a URL with a user or password in it" if "@" in url else repr(url[:80])


def _base_url(raw: str | None) -> str:
    if raw is None:
        raise SettingsError(
            "AMEYO_BASE_URL is not set: give the Ameyo server's address, e.g. http://10.10.2.176:8888 "
            "(or run with --demo to use the embedded simulator)"
        )
    try:
        parts = urlsplit(raw)
    except ValueError:  # an unclosed [ of an IPv6 address
        raise SettingsError(f"AMEYO_BASE_URL must look like http://host:port, not {_shown(raw)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"AMEYO_BASE_URL must look like http://host:port, not {_shown(raw)}")
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
    warn: Callable[[str], None] | None = None,
) -> Settings:
    """Build settings from a `.env` file (if present) under the real environment, which wins.

    Raises `SettingsError` naming every setting to fix, one line each. `warn` is told, one line
    each, of names that look meant for ameyo-mcp and are not its settings (never their values).
    """
    env: dict[str, str] = {}
    from_file: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values  # only when there is a file to read: it costs start-up time

        folder = Path(env_file).resolve().parent
        from_file = {
            k: _beside(k, v, folder) if k in _PATH_SETTINGS else v
            for k, v in dotenv_values(env_file).items()
            if v is not None
        }
        env.update(from_file)
    environment_given = os.environ if environ is None else environ
    env.update(environment_given)
    if warn is not None:
        where = Path(env_file).name if env_file is not None else ".env"
        for line in unknown_names(from_file, where=where, all_unknown=True):
            warn(line)
        for line in unknown_names(environment_given, where="the environment", all_unknown=False):
            warn(line)

    values: dict[str, Any] = {}
    problems: list[str] = []
    for read in _READERS:
        try:
            values.update(read(env))
        except SettingsError as exc:
            problems.append(exc.message)
    if len(problems) == 1:
        raise SettingsError(problems[0])
    if problems:
        listed = "\n".join(f"  {problem}" for problem in problems)
        raise SettingsError(f"{len(problems)} settings need fixing:\n{listed}")
    values.update(overrides or {})
    return Settings(**values)


# Settings that name files or folders. Read from a settings file, a relative one is beside that
# file: Claude Desktop starts the server in a folder of its own choosing, and `ameyo-mcp sync` run
# from the settings' folder must open the store the server opens.
_PATH_SETTINGS = frozenset(
    {"AMEYO_SESSION_FILE", "AMEYO_AUDIT_FILE", "AMEYO_UPLOAD_DIRS", "AMEYO_DATABASE_URL"}
)


def _beside(name: str, value: str, folder: Path) -> str:
    """`value` of the path setting `name`, its relative paths made absolute against `folder`."""
    if name == "AMEYO_UPLOAD_DIRS":
        return os.pathsep.join(_beside_one(part, folder) for part in value.split(os.pathsep))
    if name == "AMEYO_DATABASE_URL":
        if "://" in value:  # PostgreSQL, or sqlite:///an/absolute/path
            return value
        if value.startswith("sqlite:"):
            return "sqlite:" + _beside_one(value.removeprefix("sqlite:"), folder)
    return _beside_one(value, folder)


def _beside_one(path: str, folder: Path) -> str:
    text = path.strip()
    # "none" and "-" are no path (AMEYO_SESSION_FILE=none: no session file to read).
    if not text or text in ("-", "none") or text.startswith("~") or Path(text).is_absolute():
        return path
    return str(folder / text)


# Every setting ameyo-mcp reads (the README's table lists them all, and a test holds the two alike).
NAMES = (
    "AMEYO_BASE_URL",
    "AMEYO_USER_ID",
    "AMEYO_PASSWORD",
    "AMEYO_TERMINAL",
    "AMEYO_CLIENT_TYPE",
    "AMEYO_TIMEZONE",
    "AMEYO_TIMEOUT_S",
    "AMEYO_SESSION_FILE",
    "AMEYO_IDLE_LIMIT_S",
    "AMEYO_LOGOUT_ON_EXIT",
    "AMEYO_HASH_KEY",
    "AMEYO_POLICY_NAME",
    "AMEYO_REQUESTING_HOST",
    "AMEYO_READ_ONLY",
    "AMEYO_REPEAT_WINDOW_S",
    "AMEYO_LEDGER_DAYS",
    "AMEYO_CONFIRM_OVER",
    "AMEYO_CALLING_HOURS",
    "AMEYO_AUDIT_FILE",
    "AMEYO_AUDIT_DAYS",
    "AMEYO_HTTP_TOKEN",
    "AMEYO_ALLOWED_HOSTS",
    "AMEYO_MAX_REQUEST_BYTES",
    "AMEYO_PHONE_REGION",
    "AMEYO_PHONE_FORMAT",
    "AMEYO_HTTP_MAX_CONNECTIONS",
    "AMEYO_HTTP_READ_TIMEOUT_S",
    "AMEYO_HTTP_MAX_SESSIONS",
    "AMEYO_HTTP_SESSION_IDLE_S",
    "AMEYO_HTTP_MAX_STREAMS",
    "AMEYO_HTTP_STATELESS",
    "AMEYO_DRAIN_S",
    "AMEYO_SECRET_KEY",
    "AMEYO_UPLOAD_DIRS",
    "AMEYO_PUSH_TOKEN",
    "AMEYO_HISTORY_DAYS",
    "AMEYO_LOG_LEVEL",
    "AMEYO_DATABASE_URL",
    "AMEYO_SYNC_INTERVAL_S",
    "AMEYO_SYNC_PAGE_SIZE",
    "AMEYO_SYNC_PAGES_IN_FLIGHT",
    "AMEYO_SYNC_RATE",
    "AMEYO_PROGRESS_EVERY_S",
)
_PREFIX = "AMEYO_"


def unknown_names(given: Mapping[str, str], *, where: str, all_unknown: bool) -> list[str]:
    """A warning for each name in `given` that is close to a setting (`AMEO_PASSWORD`, "did you
    mean AMEYO_PASSWORD?") and, with `all_unknown`, for each other `AMEYO_` name that is none. A
    settings file is ameyo-mcp's own; the environment is shared (a Kubernetes Service named ameyo
    puts AMEYO_SERVICE_HOST in it), so there only near misses are told."""
    known = set(NAMES)
    strangers = [name for name in given if name not in known]
    if not strangers:
        return []
    import difflib  # only when a name is not a setting: start-up does not pay for it

    lines = []
    for name in strangers:
        near = difflib.get_close_matches(name.upper(), NAMES, n=1, cutoff=0.8)
        if near:
            lines.append(f"{name} in {where} is not a setting of ameyo-mcp: did you mean {near[0]}?")
        elif all_unknown and name.upper().startswith(_PREFIX):
            lines.append(f"{name} in {where} is an unknown setting and is ignored (the README lists them)")
    return lines


def _server(env: Mapping[str, str]) -> dict[str, Any]:
    return {"base_url": _base_url(_get(env, "AMEYO_BASE_URL"))}


def _user(env: Mapping[str, str]) -> dict[str, Any]:
    user = _get(env, "AMEYO_USER_ID")
    if user is None and _get(env, "AMEYO_HASH_KEY") is None:
        raise SettingsError(
            "AMEYO_USER_ID is not set: give the Customer Manager user (or AMEYO_HASH_KEY for token auth)"
        )
    return {} if user is None else {"user_id": user}


def _credentials(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    user = _get(env, "AMEYO_USER_ID")
    password = env.get("AMEYO_PASSWORD")
    hash_key = _get(env, "AMEYO_HASH_KEY")
    if hash_key is None:
        if not password:
            whose = f"Ameyo user {user!r}" if user is not None else "the Ameyo user"
            raise SettingsError(f"AMEYO_PASSWORD is not set: give the password of {whose}")
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
    if password:
        values["password"] = SecretStr(password)
    values["terminal"] = _get(env, "AMEYO_TERMINAL") or "127.0.0.1"
    values["client_type"] = _get(env, "AMEYO_CLIENT_TYPE")
    return values


def _zone(env: Mapping[str, str]) -> dict[str, Any]:
    given = _get(env, "AMEYO_TIMEZONE")
    zone = given or machine_timezone()
    if not _is_zone(zone):
        raise SettingsError(f"AMEYO_TIMEZONE must be an IANA zone name such as Asia/Kolkata, not {zone!r}")
    return {"timezone": zone, "timezone_given": given is not None}


def _one(name: str, field: str, read: Callable[[Mapping[str, str], str], object]) -> _Reader:
    """A reader of one setting into one field, which keeps its default when the setting is not given."""

    def reader(env: Mapping[str, str]) -> dict[str, Any]:
        value = read(env, name)
        return {} if value is None else {field: value}

    return reader


def _seconds(minimum: float) -> Callable[[Mapping[str, str], str], float | None]:
    return lambda env, name: _float(env, name, minimum=minimum)


def _count(minimum: int) -> Callable[[Mapping[str, str], str], int | None]:
    return lambda env, name: _int(env, name, minimum=minimum)


def _session_file(env: Mapping[str, str], name: str) -> Path | None:
    raw = _get(env, name)
    return None if raw is None else Path(raw).expanduser()


def _log_level(env: Mapping[str, str], name: str) -> str:
    level = (_get(env, name) or "WARNING").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"{name} must be DEBUG, INFO, WARNING or ERROR, not {level!r}")
    return level


def _ledger_days(env: Mapping[str, str], name: str) -> float | None:
    kept = _get(env, name)
    if kept is None:
        return None
    try:
        days = float(kept)
    except ValueError:
        raise SettingsError(f"{name} must be a number of days, not {kept!r}") from None
    if days < 1:
        raise SettingsError(f"{name} must be at least 1 (day), not {kept!r}")
    return days


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = _get(env, name)
    return None if raw is None else Path(raw).expanduser()


def _http_token(env: Mapping[str, str], name: str) -> SecretStr | None:
    token = _get(env, name)
    if token is None:
        return None
    if len(token) < 16:
        raise SettingsError(f"{name} must be at least 16 characters long")
    return SecretStr(token)


def _hosts(env: Mapping[str, str], name: str) -> tuple[str, ...] | None:
    hosts = _get(env, name)
    return None if hosts is None else tuple(h.strip() for h in hosts.split(",") if h.strip())


def _secret_key(env: Mapping[str, str], name: str) -> SecretStr | None:
    secret = _get(env, name)
    if secret is None:
        return None
    if len(secret) < MIN_SECRET_KEY:
        raise SettingsError(
            f"{name} must be at least {MIN_SECRET_KEY} characters long (e.g. the output of "
            "python -c 'import secrets; print(secrets.token_hex(32))'), the same on every replica"
        )
    return SecretStr(secret)


def _folders(env: Mapping[str, str], name: str) -> tuple[Path, ...] | None:
    dirs = _get(env, name)
    if dirs is None:
        return None
    return tuple(Path(d).expanduser().resolve() for d in dirs.split(os.pathsep) if d.strip())


def _database(env: Mapping[str, str], name: str) -> str | None:
    raw = _get(env, name)
    return None if raw is None else _database_url(raw)


def _capped(minimum: float, most: int) -> Callable[[Mapping[str, str], str], int | None]:
    def read(env: Mapping[str, str], name: str) -> int | None:
        value = _float(env, name, minimum=minimum)
        return None if value is None else min(int(value), most)

    return read


def _push_token(env: Mapping[str, str], name: str) -> SecretStr | None:
    push = _get(env, name)
    if push is None:
        return None
    if len(push) < 16 or not push.isascii() or not push.isprintable() or " " in push:
        raise SettingsError(
            f"{name} must be at least 16 printable ASCII characters without spaces (it travels in a URL)"
        )
    # Ameyo is given the URL with the token as written: a `+` in it reads as a space, which the
    # receiver takes back (a token holds none), but these no query carries as written.
    broken = sorted({c for c in push if c in _URL_BREAKS})
    if broken:
        raise SettingsError(
            f"{name} holds {' '.join(broken)}, which the URL Ameyo calls (?token=…) cannot carry as "
            "written ('&' and '#' end the token, '%' starts an escape), so every push would be "
            "refused: choose another, e.g. the output of `openssl rand -hex 24`"
        )
    return SecretStr(push)


_URL_BREAKS = frozenset("&#%")


def _days(env: Mapping[str, str], name: str) -> int | None:
    raw = _get(env, name)
    if raw is None:
        return None
    try:
        days = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of days, not {raw!r}") from None
    if days < 1:
        raise SettingsError(f"{name} must be at least 1, not {raw!r}")
    return int(days)


def _hours(env: Mapping[str, str], name: str) -> CallingHours:
    return _calling_hours(_get(env, name))


_Reader = Callable[[Mapping[str, str]], dict[str, Any]]
# In the order their problems are told.
_READERS: tuple[_Reader, ...] = (
    _server,
    _user,
    _credentials,
    _zone,
    _one("AMEYO_TIMEOUT_S", "timeout_s", _seconds(0.1)),
    _one("AMEYO_IDLE_LIMIT_S", "idle_limit_s", _seconds(0)),
    _one("AMEYO_LOGOUT_ON_EXIT", "logout_on_exit", _bool),
    _one("AMEYO_SESSION_FILE", "session_file", _session_file),
    _one("AMEYO_READ_ONLY", "read_only", _bool),
    _one("AMEYO_LOG_LEVEL", "log_level", _log_level),
    _one("AMEYO_REPEAT_WINDOW_S", "repeat_window_s", _seconds(0)),
    _one("AMEYO_LEDGER_DAYS", "ledger_days", _ledger_days),
    _one("AMEYO_CONFIRM_OVER", "confirm_over", _count(0)),
    _one("AMEYO_AUDIT_FILE", "audit_file", _path),
    _one("AMEYO_AUDIT_DAYS", "audit_days", _days),
    _one("AMEYO_HTTP_TOKEN", "http_token", _http_token),
    _one("AMEYO_ALLOWED_HOSTS", "allowed_hosts", _hosts),
    _one("AMEYO_MAX_REQUEST_BYTES", "max_request_bytes", _count(1024)),
    _one("AMEYO_HTTP_MAX_CONNECTIONS", "http_max_connections", _count(1)),
    _one("AMEYO_HTTP_READ_TIMEOUT_S", "http_read_timeout_s", _seconds(0.1)),
    _one("AMEYO_HTTP_MAX_SESSIONS", "http_max_sessions", _count(1)),
    _one("AMEYO_HTTP_SESSION_IDLE_S", "http_session_idle_s", _seconds(0.1)),
    _one("AMEYO_HTTP_MAX_STREAMS", "http_max_streams", _count(1)),
    _one("AMEYO_HTTP_STATELESS", "http_stateless", _bool),
    _one("AMEYO_DRAIN_S", "drain_s", _seconds(0)),
    _one("AMEYO_SECRET_KEY", "secret_key", _secret_key),
    _one("AMEYO_UPLOAD_DIRS", "upload_dirs", _folders),
    _one("AMEYO_DATABASE_URL", "database_url", _database),
    _one("AMEYO_SYNC_INTERVAL_S", "sync_interval_s", _seconds(0)),
    _one("AMEYO_SYNC_PAGE_SIZE", "sync_page_size", _capped(1, 10_000)),
    _one("AMEYO_SYNC_PAGES_IN_FLIGHT", "sync_pages_in_flight", _capped(1, 16)),
    _one("AMEYO_SYNC_RATE", "sync_rate", _seconds(0)),
    _one("AMEYO_PROGRESS_EVERY_S", "progress_every_s", _seconds(0)),
    _one("AMEYO_PUSH_TOKEN", "push_token", _push_token),
    _one("AMEYO_HISTORY_DAYS", "history_days", _days),
    lambda env: _phone_settings(env),
    _one("AMEYO_CALLING_HOURS", "calling_hours", _hours),
)


def _url_passwords(url: str | None) -> set[str]:
    """The password a database URL carries, in its userinfo or as `?password=`: as written there
    and decoded."""
    if not url or "://" not in url:
        return set()
    # As the URL's parser reads it, and as written before the host's @ (an unencoded ? or # ends the
    # parser's user part early: such a URL is refused, with a message that does not quote it), and
    # as a query parameter.
    rest = url.split("://", 1)[1]
    given = [rest.split("/", 1)[0].rpartition("@")[0].partition(":")[2]]
    with contextlib.suppress(ValueError):
        parts = urlsplit(url)
        given += [parts.password or "", *parse_qs(parts.query).get("password", [])]
    return {form for value in given if value for form in (value, unquote(value))}


def _database_url(raw: str) -> str:
    if raw.startswith(("postgresql://", "postgres://")):
        try:
            urlsplit(raw).port  # noqa: B018 - read to be checked: a ? or # in the password ends the host early
        except ValueError:
            raise SettingsError(
                "AMEYO_DATABASE_URL cannot be read: its host or port is not one (a ?, # or / in the "
                "user name or password must be written %3F, %23 or %2F)"
            ) from None
        return raw
    if raw.startswith("sqlite:"):
        rest = raw.removeprefix("sqlite:")
        if rest.startswith("//") and not rest.startswith("///"):
            # sqlite://name.db reads as a host, not a file: say which two forms are files.
            raise SettingsError(
                f"AMEYO_DATABASE_URL {_shown(raw)} names no file: give sqlite:///an/absolute/path.db "
                "(the path after the third slash is absolute) or a plain file path"
            )
        return raw
    if "://" in raw:
        raise SettingsError(
            "AMEYO_DATABASE_URL must be postgresql://user@host/db, sqlite:///path/to/file.db or a file "
            f"path, not a {raw.split('://', 1)[0]!r} URL"
        )
    return str(Path(raw).expanduser())


def _phone_settings(env: Mapping[str, str]) -> dict[str, str]:
    # Whether libphonenumber knows the region is told from its files (start-up never loads the
    # library); its first use and `ameyo-mcp check` ask the library itself.
    region = (_get(env, "AMEYO_PHONE_REGION") or phones.DEFAULT_REGION).upper()
    if not (len(region) == 2 and region.isascii() and region.isalpha()):
        raise SettingsError(
            f"AMEYO_PHONE_REGION must be a two-letter ISO country code such as IN, not {region!r}"
        )
    if phones.region_unknown(region):
        raise phones.unknown_region(region)
    style = (_get(env, "AMEYO_PHONE_FORMAT") or phones.DEFAULT_STYLE).lower()
    if style not in phones.STYLES:
        raise SettingsError(f"AMEYO_PHONE_FORMAT must be one of {', '.join(phones.STYLES)}, not {style!r}")
    return {"phone_region": region, "phone_format": style}
