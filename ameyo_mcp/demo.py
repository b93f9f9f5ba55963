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


@contextmanager
def demo_settings(environ: Mapping[str, str] | None = None) -> Iterator[Settings]:
    """Settings for the embedded simulator. The demo's writes are sample data: they are audited
    (and indexed) in a throwaway folder, never in the real trail or index, and its file uploads
    read the current folder unless AMEYO_UPLOAD_DIRS says otherwise."""
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
        env.setdefault("AMEYO_UPLOAD_DIRS", os.getcwd())
        print(
            f"ameyo-mcp: demo mode: using the embedded Ameyo simulator at {simulator.base_url} "
            f"with sample data (no real Ameyo is contacted; server zone {config.timezone}; "
            f"files may be uploaded from {env['AMEYO_UPLOAD_DIRS']})",
            file=sys.stderr,
        )
        yield load_settings(env, env_file=None)
