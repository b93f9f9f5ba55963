"""`ameyo-mcp check` verifies the configured credentials themselves, beside a running server that
shares its Ameyo session through the store: a wrong password is said to be refused, and neither a
right nor a wrong one costs the server its session or leaves one more behind."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

from ameyo_mcp.ameyo.service import Ameyo
from ameyo_mcp.config import load_settings
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread

pytestmark = [pytest.mark.anyio, pytest.mark.network]


async def check(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    done = await anyio.run_process(
        [sys.executable, "-m", "ameyo_mcp", "check"], env=env, cwd=cwd, check=False
    )
    return done.returncode, done.stdout.decode() + done.stderr.decode()


async def test_check_verifies_the_password_while_a_server_shares_the_session(tmp_path: Path) -> None:
    with SimulatorThread(SimulatorConfig()) as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")} | {
            "HOME": str(tmp_path),
            "AMEYO_BASE_URL": sim.base_url,
            "AMEYO_USER_ID": sim.state.config.user_id,
            "AMEYO_PASSWORD": sim.state.config.password,
            "AMEYO_TIMEZONE": sim.state.config.timezone,
            "AMEYO_SESSION_FILE": "none",
            "AMEYO_DATABASE_URL": str(tmp_path / "index.db"),
            "AMEYO_AUDIT_FILE": str(tmp_path / "audit.jsonl"),
            # As replicas are given it: a key that opens the shared session whatever the password.
            "AMEYO_SECRET_KEY": "replicas-share-this-key-0123456789abcdef",
        }
        server = Ameyo(load_settings(env, env_file=None))
        try:
            await server.campaigns()  # a running server: its session is in the store's lease
            held = sim.state.live_sessions()
            assert sim.state.logins == 1 and len(held) == 1

            # At once (each process costs its start): a wrong password, and the right one with
            # another key, so that the shared session proves nothing of it.
            wrong_env = env | {"AMEYO_PASSWORD": "not-the-password-7"}
            other_env = env | {"AMEYO_SECRET_KEY": "another-deployment-key-0123456789abcdef"}
            ended: dict[str, tuple[int, str]] = {}

            async def run(name: str, given: dict[str, str]) -> None:
                ended[name] = await check(given, tmp_path)

            async with anyio.create_task_group() as group:
                group.start_soon(run, "wrong", wrong_env)
                group.start_soon(run, "other", other_env)

            code, said = ended["wrong"]
            failures = [line for line in said.splitlines() if "FAIL" in line]
            assert code == 1 and "All checks passed" not in said, said
            assert len(failures) == 1 and "refused" in failures[0] and "password" in failures[0], said
            assert "not-the-password-7" not in said
            assert sim.state.failed_logins == 1, "the wrong password was never tried"
            # The other key: a login of the check's own, logged out at its end, and a word about it.
            code, said = ended["other"]
            assert code == 0 and "a session of its own" in said and "warn the session" in said, said
            assert sim.state.logins == 2 and sim.state.live_sessions() == held

            code, said = await check(env, tmp_path)
            assert code == 0 and "All checks passed." in said, said
            # The right password was proved by the login of the session the server shares: no
            # second login, and the session stays the server's.
            assert sim.state.logins == 2, said
            assert sim.state.live_sessions() == held
            await server.session.ping()
        finally:
            await server.aclose()
