"""Simulator state and the Customer Manager's business rules, with no HTTP in sight.

``app.py`` turns requests into calls here and turns the results into the document's JSON shapes.
A whole command that fails raises :class:`SimulatedFailure`; per-record outcomes come back as values.

Every method that reads or changes shared data holds one ``threading.Lock``: the HTTP server runs in
its own thread while tests read counters and contacts from theirs.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from ..ameyo.columns import CAMPAIGN_COLUMNS, STATUSES
from ..errors import SimulatedFailure
from .calls import Call, apply_call, draw_call, push_fields
from .data import (
    CAMPAIGN_COLUMN_PREFIX,
    LEAD_WEIGHTS,
    SERVER_PREFIX,
    Callback,
    Campaign,
    ColumnValue,
    Contact,
    Lead,
    fresh_columns,
    seed_data,
)
from .generated import MAX_CONTACTS, GeneratedContacts
from .table import ContactTable, ListedBase

# Campaign 1 is built as Contact objects at start up to this size (the sample data, as it always was);
# larger campaigns are generated from each contact's position when asked for.
LISTED_UP_TO = 10_000

log = logging.getLogger(__name__)


@dataclass
class SimulatorConfig:
    """What a simulated deployment looks like; the timings are echoed by login as the server's own."""

    user_id: str = "CustomerManager"
    password: str = "simulator"
    hash_key: str = "simulator-hash-key"
    policy_name: str = "token-based-authorization-policy"
    session_timeout_ms: int = 180_000
    ping_interval_ms: int = 20_000
    ping_notification_timeout_ms: int = 60_000
    command_timeout_ms: int = 20_000
    max_phone_length: int = 20
    contacts: int = 300
    seed: int = 7
    timezone: str = "Asia/Kolkata"
    masked_campaigns: set[int] = field(default_factory=set)
    # The clock the seed data is built around (and stamped on writes); None means the real time.
    now: datetime | None = None
    # The dialer: where each call's outcome is pushed (``?token=…`` in it is kept), how many calls a
    # second (0 = only the calls a test asks for), in which shape ("get", "form", "json", "text" for
    # JSON sent as text/plain, or "mixed": a shape drawn per call), and how often a push is retried.
    push_url: str | None = None
    push_rate: float = 1.0
    push_shape: str = "mixed"
    push_retries: int = 3
    push_retry_delay_s: float = 0.5
    # "few-first": the generated campaign's names are one of six first names and a number ("Sofia
    # 4595"), a sixth of the contacts sharing each first word: the hard case of a name search.
    names: str = "varied"
    # How long the server keeps an idle connection open before closing it (uvicorn's default, as a
    # servlet container or a balancer keeps one for some seconds): tests of a client held up while
    # its connection idles shorten it.
    keep_alive_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.contacts <= MAX_CONTACTS:
            raise ValueError(f"contacts must be between 0 and {MAX_CONTACTS:,}, not {self.contacts:,}")
        if self.push_url is not None and not self.push_url.startswith(("http://", "https://")):
            raise ValueError("push_url must be an http:// or https:// URL")
        if self.push_shape not in PUSH_SHAPES:
            raise ValueError(f"push_shape must be one of {', '.join(PUSH_SHAPES)}, not {self.push_shape!r}")
        if self.push_rate < 0 or self.push_retries < 0 or self.push_retry_delay_s < 0:
            raise ValueError("push_rate, push_retries and push_retry_delay_s cannot be negative")
        if self.names not in NAME_DISTRIBUTIONS:
            raise ValueError(f"names must be one of {', '.join(NAME_DISTRIBUTIONS)}, not {self.names!r}")
        if self.names != "varied" and self.contacts <= LISTED_UP_TO:
            raise ValueError(
                f"names={self.names} is for generated campaigns: more than {LISTED_UP_TO:,} contacts"
            )


PUSH_SHAPES = ("mixed", "get", "form", "json", "text")
NAME_DISTRIBUTIONS = ("varied", "few-first")


_FAULT_COUNTS = (
    "html_502",
    "malformed",
    "truncated",
    "null_body",
    "empty_list",
    "short_list",
    "null_callback_ids",
    "drop_after",
    "drop_before",
)


@dataclass
class Faults:
    """Fault switches, set from a test's thread and consumed by the server's.

    Counts mean "the next N matching requests"; -1 means every matching request. A request matches
    when ``commands`` is empty or holds its command id. ``html_502`` and ``drop_before`` answer
    without executing the command; every other fault executes it first, so the client cannot tell
    from what it sees whether a write happened.
    """

    commands: set[str] = field(default_factory=set)
    delay_s: float = 0.0
    html_502: int = 0
    malformed: int = 0
    truncated: int = 0
    null_body: int = 0
    empty_list: int = 0  # {"beanResponse":[]}: executed, and nothing said about it
    short_list: int = 0  # executed, and the answer's last row left out
    # Executed, and every callback row answered `"id": null` beside its time, as the document's
    # own uploadContactAndAddCallback sample (4.8.5) answers a callback it scheduled.
    null_callback_ids: int = 0
    drop_after: int = 0
    drop_before: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def matches(self, command: str) -> bool:
        wanted = self.commands
        return not wanted or command in wanted

    def take(self, name: str, command: str) -> bool:
        """Consume one use of the count ``name`` if it applies to ``command``."""
        if name not in _FAULT_COUNTS:
            raise ValueError(f"not a counted fault: {name}")
        with self._lock:
            left: int = getattr(self, name)
            if left == 0 or not self.matches(command):
                return False
            if left > 0:
                setattr(self, name, left - 1)
            return True

    def delay_for(self, command: str) -> float:
        return self.delay_s if self.delay_s > 0 and self.matches(command) else 0.0

    def reset(self) -> None:
        with self._lock:
            for f in fields(self):
                if f.name == "commands":
                    self.commands = set()
                elif f.name != "_lock":
                    setattr(self, f.name, f.default)


def invalid_request(reason: str) -> SimulatedFailure:
    return SimulatedFailure("CustomerManager.invalid.request", reason)


@dataclass
class Session:
    session_id: str
    user_id: str
    terminal: str
    last_seen: float


@dataclass(frozen=True)
class WriteRecord:
    """One write the simulator really performed (a contact change or a stored callback)."""

    command: str
    kind: str  # "contact" or "callback"
    campaign_id: int
    customer_id: int | None
    detail: str  # the result type, or the callback id


# --- the dialer ------------------------------------------------------------------------------------

_DIAL_DRAWS = 20
# A contact is not dialled again this soon after its last dial (a campaign's retry delay): longer
# than any call the dialer draws, so that a customer's calls never overlap (their times order them).
REDIAL_GAP = timedelta(minutes=15)
PUSHED_KEPT = 10_000  # pushed calls remembered for tests (a long-running simulator forgets the oldest)


@dataclass(frozen=True)
class PlacedCall:
    call: Call
    fields: dict[str, str | int | None]  # as pushed; None is a field sent blank


@dataclass(frozen=True)
class PushedCall:
    """One call's push: what was sent, in which shape, and how it ended."""

    call: Call
    fields: dict[str, str | int | None]
    shape: str  # "get", "form", "json" or "text"
    attempts: int
    status: int | None  # the last answer's HTTP status; None when no answer came

    @property
    def delivered(self) -> bool:
        return self.status == 200

    def as_received(self) -> dict[str, str | int | None]:
        """The fields as a receiver decodes them: text, blanks as "", from a query or form; JSON as sent."""
        if self.shape in ("get", "form"):
            return {k: "" if v is None else str(v) for k, v in self.fields.items()}
        return dict(self.fields)


# --- uploads ---------------------------------------------------------------------------------------

WRITTEN_RESULTS = frozenset({"ADDED", "UPDATED", "MIGRATED", "UPDATED_AND_MIGRATED"})
# Column values longer than this are refused as a database would ("data too long").
MAX_COLUMN_LENGTH = 255


@dataclass(frozen=True)
class UploadOptions:
    update: bool = False
    migrate: bool = False
    status: str | None = None
    num_attempts: int | None = None
    # Name of the setting that makes every record INVALID_CONFIGURATION, if any.
    invalid: str | None = None


def upload_options(properties: dict[str, object], status: object, num_attempts: object) -> UploadOptions:
    """Read ``properties``, ``Status`` and ``numAttempts`` as the server would, flagging bad ones."""
    flags: dict[str, bool] = {}
    invalid: str | None = None
    for key in ("update.customer", "migrate.customer"):
        value = properties.get(key)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            value = value.strip().lower() == "true"
        if value is None:
            value = False  # "any property not found in the map shall be considered as null"
        if not isinstance(value, bool):
            invalid = invalid or key
            value = False
        flags[key] = value
    status_text: str | None = None
    if status is not None:
        status_text = str(status).strip().upper()
        if status_text not in STATUSES:
            invalid = invalid or "Status"
    attempts: int | None = None
    if num_attempts is not None and num_attempts != "":
        try:
            attempts = int(str(num_attempts).strip())
        except ValueError:
            attempts = None
        if attempts is None or attempts < 0 or isinstance(num_attempts, bool | float):
            invalid = invalid or "numAttempts"
            attempts = None
    return UploadOptions(flags["update.customer"], flags["migrate.customer"], status_text, attempts, invalid)


@dataclass(frozen=True)
class UploadOutcome:
    """Result of one customer record.

    Result types of section 4.8.3 and when the simulator produces them:

    - ADDED: a new phone1 in the campaign.
    - UPDATED: existing phone1 with ``update.customer`` (same lead, or another lead without migrate).
    - MIGRATED / UPDATED_AND_MIGRATED: existing phone1 in another lead with ``migrate.customer``.
    - NOT_MIGRATED: a migrate into a disabled lead; nothing is changed.
    - DUPLICATE_NOT_ADDED: existing phone1 and nothing asked to change it.
    - INVALID_RECORD_FAILED: the record is not an object, a value is a list/object, or phone1 holds
      characters other than digits and the separators `` +-().``.
    - ADD_FAILED / UPDATE_FAILED / UPDATE_AND_MIGRATE_FAILED: a column value longer than 255
      characters, as a database column refuses it; nothing is written.
    - INVALID_CONFIGURATION: ``update.customer``/``migrate.customer`` not boolean, an unknown
      ``Status`` or a bad ``numAttempts``; every record of the request gets it.
    - PREPROCESSOR_NOT_NULLABLE_COLUMN_GIVEN_NULL / PREPROCESSING_INVALID_LENGTH: as samples 4.7.5/4.7.6.

    Never produced: MIGRATE_FAILED (a plain migrate writes no column values, so nothing can fail).
    """

    result_type: str
    customer_id: int | None = None
    exception: tuple[object, ...] | None = None

    @property
    def written(self) -> bool:
        return self.result_type in WRITTEN_RESULTS


@dataclass(frozen=True)
class CallbackRequest:
    callback_time: str | None
    self_callback: bool = False
    user_id: str | None = None
    phone: str | None = None
    customer_id: int | None = None
    handler_type: str | None = None
    status: str | None = None  # uploadContactAndAddCallback: target status of the customer


@dataclass(frozen=True)
class CallbackUploadOutcome:
    upload: UploadOutcome
    request: CallbackRequest | None
    callback: Callback | None
    callback_time: datetime | None
    phone: str | None
    customer_id: int | None  # the customer the callback is (or would be) for
    message: str | None


# --- getContacts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactQuery:
    campaign_id: int
    customer_ids: tuple[int, ...] = ()
    lead_ids: tuple[int, ...] = ()
    enabled_leads_only: bool = False
    other_columns: tuple[tuple[str, str], ...] = ()  # (column as sent, alias)
    order_by: str | None = None
    limit_offset: str | int | None = None


@dataclass(frozen=True)
class ContactRow:
    contact: Contact
    process_id: int
    extra: dict[str, ColumnValue]


_ORDER_PART = re.compile(r"^\s*(?:(\w+)\.)?(\w+)(?:\s+(asc|desc))?\s*$", re.IGNORECASE)
_LIMIT = re.compile(r"^\s*(?:limit\s+)?(\d+)(?:\s+offset\s+(\d+))?\s*$", re.IGNORECASE)
_LIMIT_MYSQL = re.compile(r"^\s*(?:limit\s+)?(\d+)\s*,\s*(\d+)\s*$", re.IGNORECASE)
_TIME = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[ T]?(\d{2}):(\d{2})(?::(\d{2}))?\s*([A-Za-z][\w/+-]*)?\s*$"
)
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


class SimulatorState:
    """The simulated server: sessions, campaigns, leads, contacts, callbacks, counters and faults.

    Counters for tests: ``logins`` (successful), ``failed_logins``, ``pings`` and ``logouts``
    (successful), ``commands`` (every request received, by command id), ``executed`` (commands that
    executed successfully) and ``records_written`` (every contact write and stored callback; calls
    placed by the dialer are not in it: :meth:`pushed_calls` lists those).
    """

    def __init__(
        self, config: SimulatorConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or SimulatorConfig()
        # What session timeouts are measured by: tests move a clock of their own.
        self.clock = clock
        self.tz = ZoneInfo(self.config.timezone)
        self.faults = Faults()
        self._lock = threading.Lock()
        # Session ids must differ between simulator instances (a client's cached session from an earlier
        # run must not come back valid), so they carry a per-instance server id like the document's
        # "d431-54f54717" (random group, then the start time in hex) and are not drawn from the seed.
        self._session_rng = random.SystemRandom()
        self.server_id = f"{self._session_rng.randrange(0x10000):04x}-{int(time.time()):08x}"

        self.logins = 0
        self.failed_logins = 0
        self.pings = 0
        self.logouts = 0
        self.commands: Counter[str] = Counter()
        self.executed: Counter[str] = Counter()
        self.records_written: list[WriteRecord] = []

        self._sessions: dict[str, Session] = {}
        self._session_number = 0
        start = self.now()
        listed = self.config.contacts <= LISTED_UP_TO
        seed = seed_data(self.config.contacts, self.config.seed, start, list_campaign_one=listed)
        self._campaigns = {c.campaign_id: c for c in seed.campaigns}
        self._leads = {lead.lead_id: lead for lead in seed.leads}
        self._tables = {
            cid: ContactTable(cid, ListedBase(c for c in seed.contacts if c.campaign_id == cid))
            for cid in self._campaigns
        }
        if not listed:
            # Position 0 is customer 112, as the listed campaign holds it beside its sample customers.
            generated = GeneratedContacts(
                self.config.contacts + 1, self.config.seed, 1, LEAD_WEIGHTS, start, names=self.config.names
            )
            table = ContactTable(1, generated)
            for contact in sorted(self._tables[1], key=lambda c: c.customer_id):
                table.add(contact)  # customers the seed lists beside the generated ones come after them
            self._tables[1] = table
        self._calls = 0
        self._pushed: deque[PushedCall] = deque(maxlen=PUSHED_KEPT)
        self._callbacks = {cb.callback_id: cb for cb in seed.callbacks}
        self._next_customer_id = seed.next_customer_id
        self._next_callback = seed.next_callback_number

    # --- clock -------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The server's wall clock, in its own zone (``config.now`` when set)."""
        fixed = self.config.now
        if fixed is None:
            return datetime.now(self.tz).replace(microsecond=0)
        return fixed.replace(tzinfo=self.tz) if fixed.tzinfo is None else fixed.astimezone(self.tz)

    def parse_time(self, text: object) -> datetime | None:
        """``yyyy-MM-dd HH:mm:ss`` in the server's zone; tolerates the lost space and a zone name."""
        if not isinstance(text, str):
            return None
        match = _TIME.match(text)
        if match is None:
            return None
        year, month, day, hour, minute, second, zone = match.groups()
        try:
            when = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=self.tz
            )
        except ValueError:
            return None
        # A zone name is only acceptable if it is the server's own: we cannot convert from others.
        if zone is not None and zone not in (when.tzname(), self.config.timezone):
            return None
        return when

    # --- counters ----------------------------------------------------------------------------------

    def note_received(self, command: str) -> None:
        with self._lock:
            self.commands[command] += 1

    def note_executed(self, command: str) -> None:
        with self._lock:
            self.executed[command] += 1

    # --- sessions ----------------------------------------------------------------------------------

    def login(self, user_id: object, password: object, terminal: object) -> Session | None:
        with self._lock:
            if user_id != self.config.user_id or password != self.config.password:
                self.failed_logins += 1
                counts = self._session_counts()
                session = None
            else:
                self._session_number += 1
                serial = f"{self._session_rng.randint(1000, 9999)}-{self._session_number}"
                session_id = f"{self.server_id}-ses-{user_id}-{serial}"
                session = Session(session_id, user_id, str(terminal or ""), self.clock())
                self._sessions[session_id] = session
                self.logins += 1
                counts = self._session_counts()
        # What was given is not said of a refused login: a password typed as the userId would be.
        if session is None:
            log.info("login refused (wrong userId or password): %s", counts)
            return None
        log.info("login of %s: %s", self.config.user_id, counts)
        return replace(session)

    def _live(self, session_id: object) -> Session | None:
        if not isinstance(session_id, str):
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self.clock()
        if (now - session.last_seen) * 1000 > self.config.session_timeout_ms:
            del self._sessions[session_id]
            return None
        session.last_seen = now
        return session

    def touch(self, session_id: object) -> bool:
        """Validate a session and renew it, as any command carrying it does."""
        with self._lock:
            return self._live(session_id) is not None

    def ping(self, session_id: object) -> bool:
        with self._lock:
            alive = self._live(session_id) is not None
            self.pings += alive
            return alive

    def logout(self, session_id: object) -> bool:
        with self._lock:
            if self._live(session_id) is None:
                return False
            del self._sessions[str(session_id)]
            self.logouts += 1
            counts = self._session_counts()
        log.info("logout: %s", counts)
        return True

    def _session_counts(self) -> str:
        """The running counts a login or logout line ends with (under the lock), so that an operator
        can tell from the log how many sessions the deployment holds; never a session id."""
        open_now = sum(self._is_fresh(s) for s in list(self._sessions.values()))
        return (
            f"logins {self.logins}, logouts {self.logouts}, refused {self.failed_logins}; "
            f"sessions open {open_now}"
        )

    def live_sessions(self) -> list[str]:
        with self._lock:
            return [s for s in list(self._sessions) if self._is_fresh(self._sessions[s])]

    def _is_fresh(self, session: Session) -> bool:
        if (self.clock() - session.last_seen) * 1000 > self.config.session_timeout_ms:
            del self._sessions[session.session_id]
            return False
        return True

    def expire_all_sessions(self) -> int:
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
            return count

    # --- reads -------------------------------------------------------------------------------------

    def campaigns(self) -> list[Campaign]:
        with self._lock:
            return list(self._campaigns.values())

    def leads(self, campaign_id: int) -> list[Lead]:
        with self._lock:
            self._campaign(campaign_id)
            return [replace(lead) for lead in self._leads.values() if lead.campaign_id == campaign_id]

    def set_lead_enabled(self, lead_id: int, enabled: bool) -> None:
        with self._lock:
            self._leads[lead_id].enabled = enabled

    def change_columns(self, customer_id: int, **columns: str | int | datetime | None) -> None:
        """Change a contact's campaign columns as Ameyo's own screens or dialer would, behind the
        back of any index of them."""
        with self._lock:
            for table in self._tables.values():
                if table.get(customer_id) is not None:
                    table.for_update(customer_id).columns.update(columns)
                    return
        raise KeyError(customer_id)

    def contacts(self, campaign_id: int | None = None) -> list[Contact]:
        """Copies of the stored contacts (of one campaign, or all), by customer id."""
        with self._lock:
            ids = self._campaigns if campaign_id is None else [campaign_id]
            found = [c.copy() for cid in ids if cid in self._tables for c in self._tables[cid]]
            return sorted(found, key=lambda c: c.customer_id)

    def contact(self, customer_id: int) -> Contact | None:
        with self._lock:
            found = self._find(customer_id)
            return found.copy() if found else None

    def _find(self, customer_id: int, campaign_id: int | None = None) -> Contact | None:
        tables = self._tables.values() if campaign_id is None else [self._tables[campaign_id]]
        return next((c for t in tables if (c := t.get(customer_id)) is not None), None)

    def callbacks(self, campaign_id: int | None = None) -> list[Callback]:
        with self._lock:
            return [
                cb for cb in self._callbacks.values() if campaign_id is None or cb.campaign_id == campaign_id
            ]

    def _campaign(self, campaign_id: int) -> Campaign:
        campaign = self._campaigns.get(campaign_id)
        if campaign is None:
            raise SimulatedFailure("CustomerManager.campaign.not.found", campaign_id)
        return campaign

    def _lead_in(self, campaign_id: int, lead_id: int) -> Lead:
        lead = self._leads.get(lead_id)
        if lead is None or lead.campaign_id != campaign_id:
            raise SimulatedFailure("CustomerManager.lead.not.in.camp.11", lead_id, campaign_id)
        return lead

    # --- getContacts -------------------------------------------------------------------------------

    def get_contacts(self, query: ContactQuery) -> list[ContactRow]:
        with self._lock:
            campaign = self._campaign(query.campaign_id)
            for lead_id in query.lead_ids:
                self._lead_in(campaign.campaign_id, lead_id)
            columns = [(_campaign_column(key), alias) for key, alias in query.other_columns]
            table = self._tables[campaign.campaign_id]
            ordering = _ordering(query.order_by, table)
            start, count = _limit_offset(query.limit_offset)
            leads: set[int] | None = set(query.lead_ids) if query.lead_ids else None
            if query.enabled_leads_only:
                enabled = {lead.lead_id for lead in self._leads.values() if lead.enabled}
                leads = enabled if leads is None else leads & enabled
            if not ordering or ordering[0][0] is _by_customer_id:
                # Customer ids are unique, so any keys after them cannot change the order.
                descending = bool(ordering) and ordering[0][1]
                rows = table.page(
                    customer_ids=query.customer_ids,
                    leads=leads,
                    descending=descending,
                    start=start,
                    count=count,
                )
            else:
                rows = table.page(customer_ids=query.customer_ids, leads=leads)
                # Stable sorts from the last key to the first give a multi-key ORDER BY.
                for key, descending in reversed(ordering):
                    rows.sort(key=partial(_null_first, key), reverse=descending)
                rows = rows[start:] if count is None else rows[start : start + count]
            return [
                ContactRow(
                    c,
                    campaign.process_id,
                    {alias: c.columns[col] for col, alias in columns if c.columns.get(col) is not None},
                )
                for c in rows
            ]

    # --- calls -------------------------------------------------------------------------------------

    def place_call(self, rng: random.Random, web_host: str) -> PlacedCall | None:
        """Dial a contact drawn from ``rng``: its columns record the outcome, as Ameyo's would.
        None: no contact drawn may be dialled now, so no call is placed this turn."""
        with self._lock:
            tables = [t for t in self._tables.values() if len(t)]
            if not tables:
                return None
            weights = [len(t) for t in tables]
            # A disabled lead's contacts are not dialled, nor a contact dialled in the last
            # REDIAL_GAP: the demo shows no call Ameyo would not place. A few random draws keep a
            # turn cheap at a million contacts; once they find none, the turn is idle, as Ameyo's
            # dialer is with nothing due.
            recent = self.now() - REDIAL_GAP
            for _ in range(_DIAL_DRAWS):
                table = rng.choices(tables, weights=weights)[0]
                position = rng.randrange(len(table))
                lead = self._leads.get(table.lead_at(position))
                if lead is not None and not lead.enabled:
                    continue  # known from the lead's byte, before any contact is built
                last = table.at(position).columns.get("last_dialed_time")
                if not (isinstance(last, datetime) and last > recent):
                    break
            else:
                return None
            self._calls += 1
            contact = table.for_update(table.id_at(position))
            call = draw_call(rng, self._calls, contact, self.now())
            apply_call(contact, call)
            fields = push_fields(rng, call, contact, contact.lead_id, self.server_id, web_host)
            return PlacedCall(call, fields)

    def note_pushed(self, pushed: PushedCall) -> None:
        with self._lock:
            self._pushed.append(pushed)

    def pushed_calls(self) -> list[PushedCall]:
        """The calls pushed so far (the latest 10,000), oldest first."""
        with self._lock:
            return list(self._pushed)

    # --- uploads -----------------------------------------------------------------------------------

    def upload_contacts(
        self, campaign_id: int, lead_id: int, options: UploadOptions, records: list[object]
    ) -> list[UploadOutcome]:
        with self._lock:
            self._campaign(campaign_id)
            lead = self._lead_in(campaign_id, lead_id)
            return [self._upload(lead, options, record, "uploadContacts") for record in records]

    def _upload(self, lead: Lead, options: UploadOptions, record: object, command: str) -> UploadOutcome:
        if options.invalid is not None:
            return UploadOutcome(
                "INVALID_CONFIGURATION", exception=("CustomerManager.invalid.configuration", options.invalid)
            )
        if not isinstance(record, dict):
            return UploadOutcome(
                "INVALID_RECORD_FAILED", exception=("CustomerManager.invalid.customer.record", str(record))
            )
        data: dict[str, str] = {}
        for key, value in record.items():
            if isinstance(value, dict | list):
                return UploadOutcome(
                    "INVALID_RECORD_FAILED", exception=("CustomerManager.invalid.column.value", key)
                )
            if value is not None:
                data[str(key)] = _column_text(value)
        raw_phone = data.get("phone1", "").strip()
        if not raw_phone:
            return UploadOutcome(
                "PREPROCESSOR_NOT_NULLABLE_COLUMN_GIVEN_NULL",
                exception=("CustomerManager.Column.name.cannot.be.missing.empty", "phone1"),
            )
        phone = _digits(raw_phone)
        if phone is None:
            return UploadOutcome(
                "INVALID_RECORD_FAILED", exception=("CustomerManager.Phone.number.invalid", raw_phone)
            )
        if not self._phone_length_ok(phone):
            return UploadOutcome(
                "PREPROCESSING_INVALID_LENGTH",
                exception=("CustomerManager.Phone.number.does.not.have.valid.length", len(phone)),
            )
        data["phone1"] = phone
        too_long = next((k for k, v in data.items() if len(v) > MAX_COLUMN_LENGTH), None)
        too_long_error = ("CustomerManager.column.value.too.long", too_long)

        table = self._tables[lead.campaign_id]
        existing_id = table.find_phone(phone)
        if existing_id is None:
            if too_long:
                return UploadOutcome("ADD_FAILED", exception=too_long_error)
            contact = Contact(
                self._next_customer_id,
                lead.campaign_id,
                lead.lead_id,
                data,
                fresh_columns(options.status or "NOT_TRIED", options.num_attempts or 0),
            )
            self._next_customer_id += 1
            table.add(contact)
            return self._written(command, contact, "ADDED")

        contact = table.for_update(existing_id)
        moving = options.migrate and contact.lead_id != lead.lead_id
        if not moving:
            if not options.update:
                return UploadOutcome("DUPLICATE_NOT_ADDED", existing_id)
            if too_long:
                return UploadOutcome("UPDATE_FAILED", existing_id, too_long_error)
            self._apply_update(contact, data, options)
            return self._written(command, contact, "UPDATED")
        if not lead.enabled:
            return UploadOutcome(
                "NOT_MIGRATED", existing_id, ("CustomerManager.lead.not.enabled", lead.lead_id)
            )
        if not options.update:
            table.move(existing_id, lead.lead_id)
            return self._written(command, contact, "MIGRATED")
        if too_long:
            return UploadOutcome("UPDATE_AND_MIGRATE_FAILED", existing_id, too_long_error)
        self._apply_update(contact, data, options)
        table.move(existing_id, lead.lead_id)
        return self._written(command, contact, "UPDATED_AND_MIGRATED")

    def _apply_update(self, contact: Contact, data: dict[str, str], options: UploadOptions) -> None:
        contact.customer_data.update(data)
        columns = contact.columns
        if options.status is not None:
            # A status given with update churns the record: the old status goes into the churn history.
            columns["last_churn_2"] = columns.get("last_churn_1")
            columns["last_churn_1"] = columns.get("status")
            columns["last_churn_date"] = self.now()
            churns = columns.get("churn_count")
            columns["churn_count"] = (churns if isinstance(churns, int) else 0) + 1
            columns["status"] = options.status
        if options.num_attempts is not None:
            columns["attempts"] = options.num_attempts

    def _written(self, command: str, contact: Contact, result: str) -> UploadOutcome:
        self.records_written.append(
            WriteRecord(command, "contact", contact.campaign_id, contact.customer_id, result)
        )
        return UploadOutcome(result, contact.customer_id)

    def _phone_length_ok(self, phone: str) -> bool:
        return 3 <= len(phone) <= self.config.max_phone_length

    # --- callbacks ---------------------------------------------------------------------------------

    def upload_contacts_and_add_callbacks(
        self,
        campaign_id: int,
        lead_id: int,
        options: UploadOptions,
        items: list[tuple[object, CallbackRequest | None]],
    ) -> list[CallbackUploadOutcome]:
        """Upload each customer record, then add its callback following the rules of 4.8.2 item 5b."""
        with self._lock:
            self._campaign(campaign_id)
            lead = self._lead_in(campaign_id, lead_id)
            return [self._upload_with_callback(lead, options, record, req) for record, req in items]

    def _upload_with_callback(
        self, lead: Lead, options: UploadOptions, record: object, req: CallbackRequest | None
    ) -> CallbackUploadOutcome:
        command = "uploadContactAndAddCallback"
        if req is not None and req.status is not None and options.invalid is None:
            options = upload_options(
                {"update.customer": options.update, "migrate.customer": options.migrate},
                req.status,
                options.num_attempts,
            )
        upload = self._upload(lead, options, record, command)
        customer_id: int | None = None  # the callback's customer, once the rules have chosen one

        def failed(message: str, phone: str | None = None) -> CallbackUploadOutcome:
            # No callback, so no callback time: a row that carries one tells of a scheduled
            # callback, even with `"id": null` (the document's sample 4.8.5).
            return CallbackUploadOutcome(upload, req, None, None, phone, customer_id, message)

        if req is None:
            return failed("Missing callbackRecord")
        when = self.parse_time(req.callback_time)
        default_phone: str | None = None
        if req.customer_id is not None:  # rule i
            customer_id = req.customer_id
            target = self._find(req.customer_id, lead.campaign_id)
            if target is None:
                return failed(f"Customer {req.customer_id} not found in campaign {lead.campaign_id}")
            default_phone = target.phone1
        elif upload.written and upload.customer_id is not None:  # rule ii
            customer_id = upload.customer_id
            written = self._find(upload.customer_id, lead.campaign_id)
            default_phone = None if written is None else written.phone1
        elif isinstance(record, dict):  # rule iii: the phone number alone
            default_phone = _digits(_column_text(record.get("phone1") or ""))
        if when is None:
            return failed(
                f"Invalid callBackTime {req.callback_time!r}: expected yyyy-MM-dd HH:mm:ss "
                f"({self.config.timezone})"
            )
        phone = default_phone
        if req.phone:
            phone = _digits(req.phone)
            if phone is None:
                return failed(f"Invalid callBackPhone {req.phone!r}")
        if not phone:
            return failed("No phone number for the callback: give callBackPhone or phone1")
        if not self._phone_length_ok(phone):
            return failed(f"Callback phone {phone} does not have a valid length ({len(phone)})", phone)
        if req.self_callback and not req.user_id:
            return failed("A self callback needs a userId", phone)
        callback = self._store_callback(command, lead.campaign_id, when, phone, customer_id, req)
        message = None
        if upload.exception is not None:
            message = f"Customer not uploaded ({upload.result_type}); callback added"
            message += (
                " for the phone number alone" if customer_id is None else f" for customer {customer_id}"
            )
        return CallbackUploadOutcome(upload, req, callback, when, phone, customer_id, message)

    def add_callback(self, campaign_id: int, req: CallbackRequest) -> Callback:
        with self._lock:
            self._campaign(campaign_id)
            when = self.parse_time(req.callback_time)
            if when is None:
                raise SimulatedFailure("CustomerManager.invalid.callback.time", req.callback_time)
            phone = _digits(req.phone) if req.phone else None
            if req.phone and phone is None:
                raise SimulatedFailure("CustomerManager.Phone.number.invalid", req.phone)
            if req.customer_id is not None:
                target = self._find(req.customer_id, campaign_id)
                if target is None:
                    raise SimulatedFailure("CustomerManager.customer.not.found", str(req.customer_id))
                phone = phone or target.phone1
            if not phone:
                raise SimulatedFailure("CustomerManager.callback.phone.missing")
            if not self._phone_length_ok(phone):
                raise SimulatedFailure("CustomerManager.Phone.number.does.not.have.valid.length", len(phone))
            if req.self_callback and not req.user_id:
                raise SimulatedFailure("CustomerManager.self.callback.user.missing")
            return self._store_callback("addCallback", campaign_id, when, phone, req.customer_id, req)

    def _store_callback(
        self,
        command: str,
        campaign_id: int,
        when: datetime,
        phone: str,
        customer_id: int | None,
        req: CallbackRequest,
    ) -> Callback:
        callback = Callback(
            callback_id=f"{SERVER_PREFIX}-cm-{self._next_callback}",
            campaign_id=campaign_id,
            callback_time=when,
            phone=phone,
            customer_id=customer_id,
            self_callback=req.self_callback,
            user_id=req.user_id,
            handler_type=req.handler_type,
        )
        self._next_callback += 1
        self._callbacks[callback.callback_id] = callback
        self.records_written.append(
            WriteRecord(command, "callback", campaign_id, customer_id, callback.callback_id)
        )
        return callback


# --- helpers ---------------------------------------------------------------------------------------


def _ordering(order_by: str | None, table: ContactTable) -> list[tuple[_SortKey, bool]]:
    if order_by is None or not order_by.strip():
        return []
    data_keys: dict[str, str] | None = None
    ordering: list[tuple[_SortKey, bool]] = []
    for part in order_by.split(","):
        match = _ORDER_PART.match(part)
        if match is None:
            raise SimulatedFailure("CustomerManager.invalid.order.by", order_by)
        name = match.group(2).lower()
        descending = (match.group(3) or "asc").lower() == "desc"
        key: _SortKey
        if name in ("customerid", "customer_id", "id"):
            key = _by_customer_id
        elif name in ("leadid", "lead_id"):
            key = _by_lead_id
        elif name in CAMPAIGN_COLUMNS:
            key = _ColumnKey(name)
        else:
            if data_keys is None:  # a customer field: only then are all of them looked at
                data_keys = {k.lower(): k for c in table for k in c.customer_data}
            if name not in data_keys:
                raise SimulatedFailure("CustomerManager.invalid.order.by", order_by)
            key = _DataKey(data_keys[name])
        ordering.append((key, descending))
    return ordering


_SortKey = Callable[[Contact], Any]


def _by_customer_id(contact: Contact) -> object:
    return contact.customer_id


def _by_lead_id(contact: Contact) -> object:
    return contact.lead_id


@dataclass(frozen=True)
class _ColumnKey:
    column: str

    def __call__(self, contact: Contact) -> object:
        return contact.columns.get(self.column)


@dataclass(frozen=True)
class _DataKey:
    name: str

    def __call__(self, contact: Contact) -> object:
        return contact.customer_data.get(self.name)


def _null_first(key: _SortKey, contact: Contact) -> tuple[int, Any]:
    # MySQL sorts NULL before everything ascending (and so after everything descending).
    value = key(contact)
    return (0, 0) if value is None else (1, value)


def _campaign_column(key: str) -> str:
    column = key[len(CAMPAIGN_COLUMN_PREFIX) :] if key.startswith(CAMPAIGN_COLUMN_PREFIX) else ""
    if column not in CAMPAIGN_COLUMNS:
        raise SimulatedFailure("CustomerManager.invalid.column.name", key)
    return column


def _limit_offset(value: str | int | None) -> tuple[int, int | None]:
    """(offset, count) from ``LIMIT n OFFSET m``, ``LIMIT n``, ``n`` or MySQL's ``m, n``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0, None
    text = str(value)
    match = _LIMIT.match(text)
    if match is not None:
        return int(match.group(2) or 0), int(match.group(1))
    match = _LIMIT_MYSQL.match(text)
    if match is not None:
        return int(match.group(1)), int(match.group(2))
    raise SimulatedFailure("CustomerManager.invalid.limit.offset", text)


def _column_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _digits(phone: str) -> str | None:
    """The phone's digits, or None if it holds anything but digits, separators and a leading +."""
    text = _PHONE_SEPARATORS.sub("", phone.strip())
    text = text.removeprefix("+")
    return text if text.isdigit() and text.isascii() else None
