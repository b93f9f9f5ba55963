"""Fixtures: a real simulator over loopback HTTP, settings pointing at it, a real MCP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from ameyo_mcp.config import Settings, load_settings
from ameyo_mcp.server import create_server
from ameyo_mcp.service import Ameyo
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig(password="pw-5ec2e7-simulated")


@pytest.fixture
def simulator(sim_config: SimulatorConfig) -> Iterator[SimulatorThread]:
    with SimulatorThread(sim_config) as sim:
        yield sim


def settings_for(sim: SimulatorThread, tmp_path: Path, **env: str) -> Settings:
    values = {
        "AMEYO_BASE_URL": sim.base_url,
        "AMEYO_USER_ID": sim.state.config.user_id,
        "AMEYO_PASSWORD": sim.state.config.password,
        "AMEYO_TIMEZONE": sim.state.config.timezone,
        "AMEYO_SESSION_FILE": str(tmp_path / "session.json"),
        "AMEYO_TIMEOUT_S": "5",
        "AMEYO_AUDIT_FILE": str(tmp_path / "audit.jsonl"),
    }
    values.update(env)
    return load_settings(values, env_file=None)


@pytest.fixture
def settings(simulator: SimulatorThread, tmp_path: Path) -> Settings:
    return settings_for(simulator, tmp_path)


@pytest.fixture
async def ameyo(settings: Settings) -> AsyncIterator[Ameyo]:
    service = Ameyo(settings)
    try:
        yield service
    finally:
        await service.aclose()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with Client(create_server(settings)) as mcp_client:
        yield mcp_client


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)
