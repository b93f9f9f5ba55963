"""--demo: the embedded simulator, started in this process, with settings pointing at it."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from ..config import Settings, environment, load_settings
from ..rules.redact import SECRETS

# The demo's settings come from the simulator; these would point it elsewhere.
_IGNORED = (
    "AMEYO_BASE_URL",
    "AMEYO_USER_ID",
    "AMEYO_PASSWORD",
    "AMEYO_HASH_KEY",
    "AMEYO_SESSION_FILE",
    "AMEYO_AUDIT_FILE",
    "AMEYO_TIMEZONE",
    "AMEYO_DATABASE_URL",
    "AMEYO_PUSH_TOKEN",
)
# The demo's dialer: a call a second, and pushes retried while the demo's receiver starts.
DEMO_PUSH_RATE = 1.0
DEMO_PUSH_RETRIES = 8

SAMPLE_FILE = "sample-contacts.csv"


def sample_contacts(today: date) -> str:
    """Lead 21 of campaign 1 takes them; the last row shows how a refused row is reported. The
    callback is a week ahead of the day the demo starts: a fixed date would one day be refused as past."""
    when = today + timedelta(days=7)
    return (
        "phone1,name,city,callback_time\n"
        "9123400001,Asha Rao,Pune,\n"
        f"9123400002,Ravi Kumar,Mumbai,{when.isoformat()}T10:00:00\n"
        "9123400003,Meena Iyer,Chennai,\n"
        ",Nobody,Delhi,\n"
    )


@contextmanager
def demo_settings(
    environ: Mapping[str, str] | None = None,
    *,
    dial: bool = False,
    http_url: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> Iterator[Settings]:
    """Settings for the embedded simulator. The demo's writes are sample data: they are audited
    (and indexed) in a throwaway folder, never in the real trail or index. Its file tool reads
    another throwaway folder that holds a sample contact file, unless AMEYO_UPLOAD_DIRS says
    otherwise: never the current folder, whose files a model has no business reading.

    With `dial`, the simulator's dialer calls contacts and pushes each outcome to the demo's
    receiver, so that the call history fills from the first minute: to `http_url` (the demo's HTTP
    server, which mounts the receiver), or, over stdio, to a receiver on a loopback port of its own.
    """
    from ..listener import server_socket
    from ..simulator import SimulatorConfig, SimulatorThread  # heavy: only on the demo path

    token = secrets.token_urlsafe(24) if dial else None
    sock: socket.socket | None = None
    config = SimulatorConfig()
    if token is not None:
        SECRETS.add(token)
        if http_url is None:
            sock = server_socket("127.0.0.1", 0, backlog=128)  # pushes queue until the receiver serves
            http_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = SimulatorConfig(
            push_url=f"{http_url}/ameyo/status?token={token}",
            push_rate=DEMO_PUSH_RATE,
            push_retries=DEMO_PUSH_RETRIES,
        )
    with (
        SimulatorThread(config) as simulator,
        tempfile.TemporaryDirectory(prefix="ameyo-demo-") as scratch,
        _removed_on_sigterm(Path(scratch)),
    ):
        env = {k: v for k, v in (environment() if environ is None else environ).items() if k not in _IGNORED}
        env.update(
            AMEYO_BASE_URL=simulator.base_url,
            AMEYO_USER_ID=config.user_id,
            AMEYO_PASSWORD=config.password,
            AMEYO_TIMEZONE=config.timezone,
            AMEYO_SESSION_FILE="none",
            AMEYO_AUDIT_FILE=str(Path(scratch) / "audit.jsonl"),
            AMEYO_DATABASE_URL=str(Path(scratch) / "index.db"),
        )
        if token is not None:
            env["AMEYO_PUSH_TOKEN"] = token
        if "AMEYO_UPLOAD_DIRS" in env:
            where = f"files may be uploaded from {env['AMEYO_UPLOAD_DIRS']}"
        else:
            uploads = Path(scratch) / "uploads"
            uploads.mkdir()
            (uploads / SAMPLE_FILE).write_text(sample_contacts(date.today()), encoding="utf-8")
            env["AMEYO_UPLOAD_DIRS"] = str(uploads)
            where = f"the file tool reads only the throwaway folder {uploads}, holding {SAMPLE_FILE}"
        calls = " Its dialer pushes a call outcome a second to the call history." if dial else ""
        print(
            f"ameyo-mcp: demo mode: using the embedded Ameyo simulator at {simulator.base_url} "
            f"with sample data (no real Ameyo is contacted; server zone {config.timezone}; {where}).{calls}",
            file=sys.stderr,
        )
        settings = load_settings(env, env_file=None, overrides={"demo": True}, warn=warn)
        stop = None
        if sock is not None:
            from ..receiver.service import serve_in_thread

            stop = serve_in_thread(settings, sock)
        try:
            yield settings
        finally:
            # The dialer first: pushing on to a receiver that has stopped, it would only complain.
            simulator.stop()
            if stop is not None:
                stop()


@contextmanager
def _removed_on_sigterm(folder: Path) -> Iterator[None]:
    """SIGTERM (`kill`, a service manager) would end the process where it stands and leave the
    throwaway folder, with its audit trail and index, behind: remove it first, then exit as the
    signal would have. Only the main thread may set a signal handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, _frame: object) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
