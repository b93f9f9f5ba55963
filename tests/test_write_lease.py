"""A write's lease in the ledger covers what its sender may wait: without AMEYO_TIMEOUT_S, each
request waits Ameyo's own command timeout and a margin (learnt at login), and the lease is four of
them and 30 s. It had been four of a default 30 s whatever Ameyo said: against a server whose
commands may take 200 s, another process called a write still in flight unknown after 150 s, and,
told to send it again, sent it twice. The first write of a process, before any login, too."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.config import Settings
from ameyo_mcp.simulator import SimulatorConfig
from tests.conftest import InProcessSimulator, server_of, settings_for, text_of

pytestmark = pytest.mark.anyio


async def leases_of_a_callback(
    simulator: InProcessSimulator, settings: Settings, tmp_path: Path
) -> list[float]:
    """The leases the write ledger gave the claims of one callback, the process's first call (no
    session yet when it is claimed)."""
    async with Client(server_of(simulator, settings)) as client:
        sent = await client.call_tool(
            "ameyo_add_callback",
            {"campaign": 1, "customer_id": 12001, "callback_time": "2031-05-01T11:00:00"},
        )
    assert not sent.is_error, text_of(sent)
    with sqlite3.connect(tmp_path / "index.db") as db:
        rows = db.execute("SELECT claimed_at, lease_until FROM write_ledger").fetchall()
    assert rows
    return [until - claimed for claimed, until in rows]


@pytest.mark.parametrize(
    "sim_config", [SimulatorConfig(password="pw-5ec2e7-simulated", command_timeout_ms=200_000)]
)
async def test_the_lease_of_a_write_covers_ameyos_own_command_timeout(
    simulator: InProcessSimulator, tmp_path: Path
) -> None:
    settings = replace(settings_for(simulator, tmp_path), timeout_s=None)
    leases = await leases_of_a_callback(simulator, settings, tmp_path)
    assert all(lease == pytest.approx(4 * (200 + 2) + 30) for lease in leases), leases


async def test_with_a_timeout_set_the_lease_is_four_of_it(
    simulator: InProcessSimulator, tmp_path: Path
) -> None:
    leases = await leases_of_a_callback(
        simulator, settings_for(simulator, tmp_path, AMEYO_TIMEOUT_S="7"), tmp_path
    )
    assert all(lease == pytest.approx(4 * 7 + 30) for lease in leases), leases
