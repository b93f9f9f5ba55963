"""--demo: the embedded simulator, started in this process, with settings pointing at it."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .config import Settings, load_settings

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
)

SAMPLE_FILE = "sample-contacts.csv"
# Lead 21 of campaign 1 takes them; the last row shows how a refused row is reported.
SAMPLE_CONTACTS = (
    "phone1,name,city,callback_time\n"
    "9123400001,Asha Rao,Pune,\n"
    "9123400002,Ravi Kumar,Mumbai,2031-01-05T10:00:00\n"
    "9123400003,Meena Iyer,Chennai,\n"
    ",Nobody,Delhi,\n"
)


@contextmanager
def demo_settings(environ: Mapping[str, str] | None = None) -> Iterator[Settings]:
    """Settings for the embedded simulator. The demo's writes are sample data: they are audited
    (and indexed) in a throwaway folder, never in the real trail or index. Its file tool reads
    another throwaway folder that holds a sample contact file, unless AMEYO_UPLOAD_DIRS says
    otherwise: never the current folder, whose files a model has no business reading."""
    from .simulator import SimulatorConfig, SimulatorThread  # heavy: only on the demo path

    config = SimulatorConfig()
    with SimulatorThread(config) as simulator, tempfile.TemporaryDirectory(prefix="ameyo-demo-") as scratch:
        env = {k: v for k, v in (os.environ if environ is None else environ).items() if k not in _IGNORED}
        env.update(
            AMEYO_BASE_URL=simulator.base_url,
            AMEYO_USER_ID=config.user_id,
            AMEYO_PASSWORD=config.password,
            AMEYO_TIMEZONE=config.timezone,
            AMEYO_SESSION_FILE="none",
            AMEYO_AUDIT_FILE=str(Path(scratch) / "audit.jsonl"),
            AMEYO_DATABASE_URL=str(Path(scratch) / "index.db"),
        )
        if "AMEYO_UPLOAD_DIRS" in env:
            where = f"files may be uploaded from {env['AMEYO_UPLOAD_DIRS']}"
        else:
            uploads = Path(scratch) / "uploads"
            uploads.mkdir()
            (uploads / SAMPLE_FILE).write_text(SAMPLE_CONTACTS, encoding="utf-8")
            env["AMEYO_UPLOAD_DIRS"] = str(uploads)
            where = f"the file tool reads only the throwaway folder {uploads}, holding {SAMPLE_FILE}"
        print(
            f"ameyo-mcp: demo mode: using the embedded Ameyo simulator at {simulator.base_url} "
            f"with sample data (no real Ameyo is contacted; server zone {config.timezone}; {where})",
            file=sys.stderr,
        )
        yield load_settings(env, env_file=None)
