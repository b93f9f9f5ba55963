"""Every failure the red team found, in every tool: the answer is a sentence that says what happened
and what to do, never a bare "Error executing tool …", a traceback or a secret.

Through real boundaries: a real MCP client session, the simulator over loopback HTTP with its faults
(502 with an nginx page, a body that is not JSON, `null`, no answer within the timeout), a real
SQLite index that is damaged on disk or whose file cannot grow (SQLite's own limit on its pages, set
on the server's connection: the error a full disk gives), an unreachable PostgreSQL, and a real one
whose connections it ends (as a restart does) or that is stopped and started again.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import LoggingMessageNotificationParams

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.config import Settings
from ameyo_mcp.errors import StoreError
from ameyo_mcp.server.app import create_server
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from ameyo_mcp.store import Store, backends
from ameyo_mcp.store.ledger import Claimant
from tests.conftest import settings_for, start_postgres, stop_postgres, synced, text_of

pytestmark = pytest.mark.anyio

PASSWORD = "pw-5ec2e7-simulated"
CAMPAIGN = 1
# Words of a next step: what a person or model does about it.
NEXT_STEP = ("try again", "retry", "check", "ameyo-mcp sync", "free space", "ask whoever", "move the file")
BAD = ("error executing tool", "traceback", 'file "/', "<html", "nginx", "<<garbage", "\x00")
TOOLS = (
    "ameyo_login",
    "ameyo_ping_session",
    "ameyo_list_campaigns",
    "ameyo_get_leads",
    "ameyo_get_contacts",
    "ameyo_call_history",
    "ameyo_upload_contacts",
    "ameyo_upload_contacts_with_callbacks",
    "ameyo_add_callback",
    "ameyo_upload_contacts_file",
    "ameyo_logout",
)
WRITES = {"ameyo_upload_contacts", "ameyo_upload_contacts_with_callbacks", "ameyo_add_callback"}
# Ameyo's faults, as the simulator serves them to every command: what the answer must say.
AMEYO_FAULTS = {
    "502": "HTML page (HTTP 502)",
    "not JSON": "not JSON",
    "null": "empty body (null)",
    "timeout": "did not answer",
}
_days = itertools.count(1)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(SimulatorConfig(password=PASSWORD)) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_faults_left(sim: SimulatorThread) -> Iterator[None]:
    yield
    sim.state.faults.reset()


@pytest.fixture(scope="module")
async def synced_index(sim: SimulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the campaign, synced once for the module and copied by each test: lookups by
    phone then go through it, as they do in a server that has synced."""
    folder = tmp_path_factory.mktemp("synced")
    settings = settings_for(sim, folder)
    await synced(sim, settings, [CAMPAIGN])
    path = folder / "index.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("VACUUM")  # no free pages: a full disk is full for every table
    return path


def known_phone(sim: SimulatorThread) -> str:
    customer = next(c for c in sim.state.contacts(CAMPAIGN) if c.customer_id == 12458)
    return str(customer.customer_data["phone1"])


def calls(sim: SimulatorThread, folder: Path) -> dict[str, dict[str, Any]]:
    """One call of each tool, each a new write (another callback time, another number)."""
    day = next(_days)
    when = f"2031-{1 + day // 28:02d}-{1 + day % 28:02d}T11:00:00"
    number = f"98{day:08d}"
    contacts = folder / "files" / f"contacts-{day}.csv"
    contacts.parent.mkdir(exist_ok=True)
    contacts.write_text(f"phone1,name\n97{day:08d},File One\n")
    return {
        "ameyo_login": {},
        "ameyo_ping_session": {},
        "ameyo_list_campaigns": {},
        "ameyo_get_leads": {"campaign": CAMPAIGN},
        "ameyo_get_contacts": {"campaign": CAMPAIGN, "phone": known_phone(sim)},
        "ameyo_call_history": {},
        "ameyo_upload_contacts": {
            "campaign": CAMPAIGN,
            "lead_id": 21,
            "records": [{"phone1": number, "name": "Asha New"}],
        },
        "ameyo_upload_contacts_with_callbacks": {
            "campaign": CAMPAIGN,
            "lead_id": 21,
            # Another number: the first's outcome may be unknown, which holds it back from every upload.
            "records": [{"customer": {"phone1": f"96{day:08d}", "name": "Asha New"}, "callback_time": when}],
        },
        "ameyo_add_callback": {"campaign": CAMPAIGN, "customer_id": 12458, "callback_time": when},
        "ameyo_upload_contacts_file": {
            "file": str(contacts),
            "campaign": CAMPAIGN,
            "lead_id": 21,
            "dry_run": False,
        },
        "ameyo_logout": {},
    }


def server_settings(sim: SimulatorThread, folder: Path, **env: str) -> Settings:
    return settings_for(sim, folder, AMEYO_UPLOAD_DIRS=str(folder / "files"), **env)


def problems_with(text: str, *, says: str = "") -> list[str]:
    """What is wrong with a failure's answer: bare, unexplained, leaking, or missing `says`."""
    found = []
    lowered = text.lower()
    if len(text.strip()) < 40:
        found.append("too short to say what happened")
    found += [f"shows {bad!r}" for bad in BAD if bad in lowered]
    if not any(step in lowered for step in NEXT_STEP):
        found.append("says nothing to do")
    if PASSWORD in text:
        found.append("shows the password")
    if says and says.lower() not in lowered:
        found.append(f"does not say {says!r}")
    return found


async def call_every_tool(
    client: Client, sim: SimulatorThread, folder: Path, only: set[str] | None = None
) -> dict[str, Any]:
    """Every tool (or those `only`) at once, each on its own, by name; the logout last, since the
    others use the session it ends."""
    results: dict[str, Any] = {}

    async def one(name: str, args: dict[str, Any]) -> None:
        results[name] = await client.call_tool(name, args)

    todo = {k: v for k, v in calls(sim, folder).items() if only is None or k in only}
    async with anyio.create_task_group() as group:
        for name, args in todo.items():
            if name != "ameyo_logout":
                group.start_soon(one, name, args)
    if "ameyo_logout" in todo:
        await one("ameyo_logout", {})
    return results


def check(results: dict[str, Any], *, fail: set[str], says: str) -> list[str]:
    """Each tool in `fail` answered an error that says `says` and what to do; each other tool
    answered as usual. A file's upload may instead answer row by row: then its rows say `says`."""
    wrong = []
    for name, result in results.items():
        text = text_of(result)
        if name == "ameyo_upload_contacts_file" and name in fail and not result.is_error:
            if says.lower() not in text.lower() or "error executing" in text.lower():
                wrong.append(f"{name}: its rows do not say {says!r}: {text[:300]!r}")
        elif name in fail:
            if not result.is_error:
                wrong.append(f"{name}: no error: {text[:200]!r}")
            wrong += [f"{name}: {p}: {text[:300]!r}" for p in problems_with(text, says=says)]
        elif result.is_error:
            wrong.append(f"{name}: failed: {text[:300]!r}")
    return wrong


# -- Ameyo's faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", list(AMEYO_FAULTS))
async def test_every_tool_says_what_an_ameyo_fault_means(
    sim: SimulatorThread, tmp_path: Path, synced_index: Path, fault: str
) -> None:
    shutil.copy(synced_index, tmp_path / "index.db")
    # A short timeout only where the timeout is the fault: on a loaded machine a 502 may take longer.
    settings = server_settings(sim, tmp_path, AMEYO_TIMEOUT_S="0.3" if fault == "timeout" else "20")
    faults = sim.state.faults

    def inject(commands: set[str]) -> None:
        faults.commands = commands
        if fault == "timeout":
            faults.delay_s = 0.8
        else:
            setattr(faults, {"502": "html_502", "not JSON": "malformed", "null": "null_body"}[fault], -1)

    async with Client(create_server(settings)) as client:
        assert not (await client.call_tool("ameyo_login", {})).is_error  # the session is live
        inject(set())  # every command
        results = await call_every_tool(client, sim, tmp_path)
        faults.reset()
        # Then the writes themselves: their reads answered, the write's own answer spoilt.
        inject({"uploadContacts", "uploadContactAndAddCallback", "addCallback"})
        written = await call_every_tool(client, sim, tmp_path, only=WRITES | {"ameyo_upload_contacts_file"})
        faults.reset()
    # The call history is the store's; the session and its campaigns are known since the login.
    fail = set(TOOLS) - {"ameyo_call_history", "ameyo_login", "ameyo_list_campaigns"}
    wrong = check(results, fail=fail, says=AMEYO_FAULTS[fault])
    wrong += check(written, fail=set(written), says=AMEYO_FAULTS[fault])
    for name, result in written.items():  # sent, and not answered: Ameyo may have applied it
        if "outcome is unknown" not in text_of(result) and "unknown outcome" not in text_of(result):
            wrong.append(f"{name}: does not say the outcome is unknown: {text_of(result)[:300]!r}")
    if "sent in this run 1;" not in text_of(written["ameyo_upload_contacts_file"]):  # sent, unanswered
        wrong.append(
            f"the file's row is not counted as sent: {text_of(written['ameyo_upload_contacts_file'])}"
        )
    assert wrong == [], "\n".join(wrong)


# -- the store -----------------------------------------------------------------------------------


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def damage(path: Path) -> None:
    """Garbage over every page but the first (the schema): SQLite reads it as a damaged file."""
    data = bytearray(path.read_bytes())
    page = 4096
    data[page:] = bytes(0x5A for _ in range(len(data) - page))
    path.write_bytes(bytes(data))


@contextlib.contextmanager
def disk_full(monkeypatch: pytest.MonkeyPatch, path: Path) -> Iterator[None]:
    """The database file cannot grow, as on a full disk: every connection to it is opened with
    SQLite's page limit at the file's size, and the free room left in its pages is filled first
    (claims of writes that are never sent), so that a write needs a page it cannot have."""
    real = backends._connect_sqlite

    def limited(where: Path) -> Any:
        conn = real(where)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(backends, "_connect_sqlite", limited)
    with Store(str(path)) as store:
        with contextlib.suppress(StoreError):  # "disk is full": the filling is done
            for _ in range(10_000):
                store.claim_write(*a_claim())
        with pytest.raises(StoreError, match="disk is full"):
            store.claim_write(*a_claim())
    yield


def a_claim() -> tuple[list[str], Claimant]:
    """The smallest claim of a write that is never sent: its key and its facts."""
    key = uuid.uuid4().hex * 2  # as long as a write's identity
    who = Claimant(
        write_id=key,
        owner="filler",
        now=time.time(),
        lease_s=1.0,
        call_id="f",
        label="",
        context={},
        allow_repeat=False,
        alive=lambda _: False,
        orphan_hold_s=0.0,
    )
    return [key], who


@pytest.mark.parametrize("failure", ["unreachable", "damaged", "not a database", "disk full"])
async def test_every_tool_says_what_a_store_failure_means(
    sim: SimulatorThread,
    tmp_path: Path,
    synced_index: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    caplog.set_level(logging.WARNING)
    db = tmp_path / "index.db"
    shutil.copy(synced_index, db)
    env: dict[str, str] = {}
    if failure == "unreachable":
        env["AMEYO_DATABASE_URL"] = f"postgresql://ameyo:{PASSWORD}@127.0.0.1:{closed_port()}/ameyo"
        says = "cannot be reached"
    elif failure == "damaged":
        damage(db)
        says = "is damaged"
    elif failure == "not a database":
        db.write_bytes(b"not a database " * 1000)
        says = "is damaged"
    else:
        says = "disk is full"
    settings = server_settings(sim, tmp_path, **env)
    with disk_full(monkeypatch, db) if failure == "disk full" else contextlib.nullcontext():
        async with Client(create_server(settings)) as client:
            results = await call_every_tool(client, sim, tmp_path)
            try:
                await client.read_resource("ameyo://calls/today")
                today: str | None = None
            except MCPError as exc:
                today = str(exc)
    # Writes are refused: the ledger that records them cannot (nothing is sent unrecorded).
    fail = set(WRITES)
    if failure != "disk full":  # a full disk can still be read
        fail.add("ameyo_call_history")
        assert today is not None and problems_with(today, says=says) == [], today
    wrong = check(results, fail=fail | {"ameyo_upload_contacts_file"}, says=says)
    for name in fail & WRITES:
        if "nothing was sent" not in text_of(results[name]).lower():
            wrong.append(f"{name}: does not say nothing was sent: {text_of(results[name])[:300]!r}")
    # The lookup searched Ameyo itself when the index could not be read, and says so.
    found = text_of(results["ameyo_get_contacts"])
    if failure != "disk full" and not (
        "#12458" in found
        and "the local index could not be read" in found
        and "searched Ameyo directly" in found
    ):
        wrong.append(f"ameyo_get_contacts: {found[:400]!r}")
    assert wrong == [], "\n".join(wrong)
    assert PASSWORD not in caplog.text
    assert not any(r.exc_info for r in caplog.records if r.name.startswith("mcp")), "a tool crashed"


# -- PostgreSQL that restarts ---------------------------------------------------------------------


def end_connections(url: str) -> None:
    """What a restart does to the server's connections to PostgreSQL: ends them, server side."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        others = (
            "datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        admin.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {others}")
        deadline = time.monotonic() + 5
        while admin.execute(f"SELECT count(*) FROM pg_stat_activity WHERE {others}").fetchone() != (0,):
            assert time.monotonic() < deadline, "PostgreSQL did not end the connections"
            time.sleep(0.01)


async def test_every_tool_works_on_after_postgresql_ended_its_connections(
    sim: SimulatorThread, tmp_path: Path, postgres_url: str
) -> None:
    settings = server_settings(sim, tmp_path, AMEYO_DATABASE_URL=postgres_url)
    await synced(sim, settings, [CAMPAIGN])
    async with Client(create_server(settings)) as client:
        first = await call_every_tool(client, sim, tmp_path)
        assert check(first, fail=set(), says="") == []
        end_connections(postgres_url)
        # The connection the server holds is dead: each tool's store call opens a new one (a read
        # is read again, a claim begins again: nothing of either had run).
        again = await call_every_tool(client, sim, tmp_path)
    assert check(again, fail=set(), says="") == [], "\n".join(check(again, fail=set(), says=""))
    assert "(looked in: index of " in text_of(again["ameyo_get_contacts"])


def test_a_claim_cut_off_by_postgresql_is_refused_not_run_again(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL ends the connection in the middle of a ledger claim: its outcome is not known
    here, so the claim is not run again on a new connection; it fails, and the next one opens it."""
    from ameyo_mcp.store import ledger

    runs: list[int] = []
    claim = ledger.claim

    def cut_off(tx: Any, keys: Any, who: Claimant) -> Any:
        runs.append(1)
        end_connections(postgres_url)
        return claim(tx, keys, who)

    with Store(postgres_url) as store:
        store.campaigns()  # the connection is open, and idle
        monkeypatch.setattr(ledger, "claim", cut_off)
        with pytest.raises(StoreError, match="cannot be reached"):
            store.claim_write(*a_claim())
        assert runs == [1]
        monkeypatch.setattr(ledger, "claim", claim)
        assert store.claim_write(*a_claim()).won


async def test_postgresql_stopped_is_said_and_started_again_is_used(
    sim: SimulatorThread, tmp_path: Path, own_postgres: Any
) -> None:

    settings = server_settings(sim, tmp_path, AMEYO_DATABASE_URL=own_postgres.get_uri())
    callback = calls(sim, tmp_path)["ameyo_add_callback"]
    async with Client(create_server(settings)) as client:
        assert not (await client.call_tool("ameyo_call_history", {})).is_error
        stop_postgres(own_postgres)
        try:
            down = await client.call_tool("ameyo_call_history", {})
            refused = await client.call_tool("ameyo_add_callback", callback)
            filed = await client.call_tool(
                "ameyo_upload_contacts_file", calls(sim, tmp_path)["ameyo_upload_contacts_file"]
            )
            found = await client.call_tool("ameyo_get_contacts", calls(sim, tmp_path)["ameyo_get_contacts"])
        finally:
            start_postgres(own_postgres)
        back = await client.call_tool("ameyo_call_history", {})
        sent = await client.call_tool("ameyo_add_callback", callback)
    assert down.is_error and problems_with(text_of(down), says="cannot be reached") == [], text_of(down)
    assert "Check that PostgreSQL is running" in text_of(down)
    assert refused.is_error and "Nothing was sent: the write ledger cannot be used" in text_of(refused)
    # A row the ledger refused is not sent, counted with the rows, not among "Ameyo's answers".
    assert "(not resent) 0; not sent 1." in text_of(filed) and ", failed 0." in text_of(filed), text_of(filed)
    assert "the write ledger cannot be used" in text_of(filed), text_of(filed)
    assert not found.is_error and "the local index could not be read" in text_of(found), text_of(found)
    assert not back.is_error, text_of(back)
    assert not sent.is_error and "REPEAT" not in text_of(sent), text_of(sent)


# -- the command line ----------------------------------------------------------------------------

# `ameyo-mcp` in a process of its own; with "full" first, its database file cannot grow (see
# `disk_full`).
_CLI = """
import sys
from ameyo_mcp.store import backends
real = backends._connect_sqlite

def limited(path):
    conn = real(path)
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    return conn

if sys.argv[1] == "full":
    backends._connect_sqlite = limited
from ameyo_mcp.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def run_cli(sim: SimulatorThread, folder: Path, how: str, *argv: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    env |= {
        "AMEYO_BASE_URL": sim.base_url,
        "AMEYO_USER_ID": sim.state.config.user_id,
        "AMEYO_PASSWORD": PASSWORD,
        "AMEYO_TIMEZONE": sim.state.config.timezone,
        "AMEYO_SESSION_FILE": "none",
        "AMEYO_DATABASE_URL": str(folder / "index.db"),
    }
    command = [sys.executable, "-c", _CLI, how, *argv]
    return subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("failure", ["damaged", "disk full"])
def test_sync_says_what_is_wrong_with_the_index_in_a_sentence(
    sim: SimulatorThread, tmp_path: Path, failure: str
) -> None:
    db = tmp_path / "index.db"
    if failure == "damaged":
        db.write_bytes(b"not a database " * 1000)
    else:
        Store(str(db)).close()  # an empty index, on a disk that then fills up
        with Store(str(db)) as store:
            store.campaigns()
    done = run_cli(sim, tmp_path, "full" if failure == "disk full" else "-", "sync")
    said = done.stderr.strip()
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert said.startswith("ameyo-mcp sync: ") and "Traceback" not in said and said.count("\n") == 0, said
    says = "is damaged" if failure == "damaged" else "disk is full"
    assert problems_with(said, says=says) == [], said
    assert said.count(". ") <= 2, said  # one or two sentences


async def test_an_unexpected_failure_is_named_not_shown_and_its_traceback_logged_masked(
    sim: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in a tool: the model reads what kind of failure and what to do, never its text (which
    may hold anything); the server's log has the traceback, with secrets masked, and the client's
    log notices do not."""

    async def broken(self: Ameyo, campaign_id: int, *, fresh: bool = False) -> list[Any]:
        raise RuntimeError(f"cannot use {PASSWORD} here")

    notices: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        notices.append(params)

    caplog.set_level(logging.ERROR)
    client_of = Client(
        create_server(server_settings(sim, tmp_path)), logging_callback=on_log, log_level="debug"
    )
    async with client_of as client:
        assert not (await client.call_tool("ameyo_login", {})).is_error  # the password is known
        monkeypatch.setattr(Ameyo, "leads", broken)
        read = await client.call_tool("ameyo_get_leads", {"campaign": CAMPAIGN})
        write = await client.call_tool("ameyo_add_callback", calls(sim, tmp_path)["ameyo_add_callback"])
    for result in (read, write):
        text = text_of(result)
        assert result.is_error and "Something unexpected went wrong (RuntimeError)" in text, text
        assert problems_with(text) == [] and "cannot use" not in text, text
    assert "check with ameyo_get_contacts before sending it again" in text_of(write)
    logged = [r for r in caplog.records if "failed unexpectedly" in r.getMessage()]
    assert logged and "Traceback" in logged[0].getMessage() and "cannot use [redacted] here" in caplog.text
    assert PASSWORD not in caplog.text
    assert not any("Traceback" in str(n.data) or "cannot use" in str(n.data) for n in notices), notices


def test_a_logged_traceback_is_masked_by_the_handlers_filter() -> None:
    """A traceback logged by anyone (the SDK, a library): the secret in its exception is masked by
    the filter every handler has, before the handler writes it."""
    import io

    from ameyo_mcp.rules.redact import SECRETS, RedactingFilter

    secret = f"hk-{secrets.token_hex(8)}"
    SECRETS.add(secret)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.masked")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"hash key {secret} refused")
        except RuntimeError:
            logger.exception("a library failed")
    finally:
        logger.removeHandler(handler)
    assert "Traceback" in out.getvalue() and "hash key [redacted] refused" in out.getvalue()
    assert secret not in out.getvalue()
