"""--demo: the embedded simulator, started in this process, with settings pointing at it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from .config import Settings, load_settings

# The demo's settings come from the simulator; these would point it elsewhere.
_IGNORED = ("AMEYO_BASE_URL", "AMEYO_USER_ID", "AMEYO_PASSWORD", "AMEYO_HASH_KEY", "AMEYO_SESSION_FILE")


@contextmanager
def demo_settings(environ: Mapping[str, str] | None = None) -> Iterator[Settings]:
    from .simulator import SimulatorConfig, SimulatorThread  # heavy: only on the demo path

    config = SimulatorConfig()
    with SimulatorThread(config) as simulator:
        env = {k: v for k, v in (os.environ if environ is None else environ).items() if k not in _IGNORED}
        env.update(
            AMEYO_BASE_URL=simulator.base_url,
            AMEYO_USER_ID=config.user_id,
            AMEYO_PASSWORD=config.password,
            AMEYO_TIMEZONE=config.timezone,
            AMEYO_SESSION_FILE="none",
        )
        print(
            f"ameyo-mcp: demo mode: using the embedded Ameyo simulator at {simulator.base_url} "
            "with sample data (no real Ameyo is contacted)",
            file=sys.stderr,
        )
        yield load_settings(env, env_file=None)
