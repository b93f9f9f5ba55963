"""The vendor document's session flow through real server processes: a clean shutdown leaves the
session in the store's lease for the next start, unless AMEYO_LOGOUT_ON_EXIT asks for a logout."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import text_of
from tests.test_transports import clean_env

# Other processes and real connections are what these tests are about.
pytestmark = [pytest.mark.anyio, pytest.mark.network]


def server_params(simulator: SimulatorThread, tmp_path: Path, *extra: str) -> StdioServerParameters:
    env_file = tmp_path / "ameyo.env"
    env_file.write_text(
        "\n".join(
            [
                f"AMEYO_BASE_URL={simulator.base_url}",
                f"AMEYO_USER_ID={simulator.state.config.user_id}",
                f"AMEYO_PASSWORD={simulator.state.config.password}",
                f"AMEYO_TIMEZONE={simulator.state.config.timezone}",
                f"AMEYO_SESSION_FILE={tmp_path / 'session.json'}",
                f"AMEYO_AUDIT_FILE={tmp_path / 'audit.jsonl'}",
                f"AMEYO_DATABASE_URL={tmp_path / 'index.db'}",
                *extra,
            ]
        )
        + "\n"
    )
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "ameyo_mcp", "--env-file", str(env_file)],
        env=clean_env(tmp_path),
        cwd=str(tmp_path),
    )


async def one_run(params: StdioServerParameters, *tools: str) -> None:
    """Start the server, call each tool, and shut it down cleanly (its input ends)."""
    async with Client(params) as client:
        for tool in tools:
            result = await client.call_tool(tool, {})
            assert not result.is_error, text_of(result)


async def test_restart_reuses_the_session_in_the_lease(simulator: SimulatorThread, tmp_path: Path) -> None:
    params = server_params(simulator, tmp_path)
    await one_run(params, "ameyo_list_campaigns")
    assert simulator.state.logins == 1 and simulator.state.logouts == 0
    assert len(simulator.state.live_sessions()) == 1
    await one_run(params, "ameyo_list_campaigns")
    assert simulator.state.logins == 1, "a restart must not cost a login"
    # ameyo_logout still frees the seat, and empties the lease.
    await one_run(params, "ameyo_list_campaigns", "ameyo_logout")
    assert simulator.state.logouts == 1 and simulator.state.live_sessions() == []
    await one_run(params, "ameyo_list_campaigns")
    assert simulator.state.logins == 2
    assert not (tmp_path / "session.json").exists()  # the lease replaced the cache file


async def test_logout_on_exit_when_asked(simulator: SimulatorThread, tmp_path: Path) -> None:
    params = server_params(simulator, tmp_path, "AMEYO_LOGOUT_ON_EXIT=true")
    await one_run(params, "ameyo_list_campaigns")
    assert simulator.state.logouts == 1 and simulator.state.live_sessions() == []
    await one_run(params, "ameyo_list_campaigns")
    assert simulator.state.logins == 2
