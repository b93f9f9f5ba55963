"""A column of a callback file that names the callback's agent, time or number in other words than
callback_user, callback_time and callback_phone ("agent", "Agent ID", "Callback Time") went to Ameyo
as customer data under its own name, and the callbacks to any agent (or none was scheduled), without
a word: the dry run, the tool's and the CLI's, now says so and gives the map that makes it the
callback column, unless the campaign's customers have such a field (its index knows them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
from tests.conftest import Simulator, process_env, server_of, settings_for, synced, text_of

pytestmark = pytest.mark.anyio

FILE_TOOL = "ameyo_upload_contacts_file"
ARGS = {"campaign": 1, "lead_id": 1, "file": "today.csv"}
ROWS = "9876512345,Asha,2031-05-01 11:00,agent7\n9876512346,Bo,2031-05-01 12:00,agent7\n"


def callback_file(folder: Path, agent_column: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "today.csv").write_text(f"phone1,name,callback_time,{agent_column}\n{ROWS}", encoding="utf-8")


async def test_an_agent_column_is_said_to_go_as_customer_data(simulator: Simulator, tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    callback_file(folder, "agent")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as client:
        checked = await client.call_tool(FILE_TOOL, ARGS)
        mapped = await client.call_tool(FILE_TOOL, ARGS | {"column_map": {"agent": "callback_user"}})
    text = text_of(checked)
    assert (
        'the column "agent" goes to Ameyo as customer data under its own name, not as callback_user' in text
    )
    assert 'column_map {"agent": "callback_user"}' in text and "--map agent=callback_user" in text, text
    assert "assigned to any agent" in text, text
    # The map it gives makes it the callbacks' agent, and nothing more is said of it.
    assert "customer data" not in text_of(mapped) and "assigned to agent7" in text_of(mapped), text_of(mapped)
    assert not simulator.state.executed["uploadContactAndAddCallback"], "a dry run sends nothing"


async def test_an_agent_field_the_campaign_has_is_not_questioned(
    simulator: Simulator, tmp_path: Path
) -> None:
    """A campaign may keep an agent with each customer: its index knows the field, and a file's
    column of that name is that field."""
    folder = tmp_path / "uploads"
    callback_file(folder, "Agent")
    settings = settings_for(simulator, tmp_path, AMEYO_UPLOAD_DIRS=str(folder))
    async with Client(server_of(simulator, settings)) as client:
        kept = {"phone1": "9876512399", "name": "Dev", "agent": "agent3"}
        added = await client.call_tool(
            "ameyo_upload_contacts", {"campaign": 1, "lead_id": 1, "records": [kept]}
        )
        assert not added.is_error, text_of(added)
        await synced(simulator, settings)
        checked = await client.call_tool(FILE_TOOL, ARGS)
    text = text_of(checked)
    assert "customer data" not in text and "callback_user" not in text, text


@pytest.mark.network
def test_the_cli_check_says_it_with_the_map_to_give(tmp_path: Path) -> None:
    source = tmp_path / "today.csv"
    source.write_text(f"phone1,name,Callback Time,Agent ID\n{ROWS}", encoding="utf-8")
    command = [sys.executable, "-m", "ameyo_mcp", "upload", str(source), "--campaign", "1", "--lead", "1"]
    with SimulatorThread(SimulatorConfig(contacts=20)) as sim:
        env = process_env(sim, tmp_path)

        def run(*extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*command, "--dry-run", *extra],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )

        checked = run()
        mapped = run("--map", "Callback Time=callback_time", "--map", "Agent ID=callback_user")
        sent = sim.state.executed["uploadContactAndAddCallback"]
    out = checked.stdout
    assert checked.returncode == 0, (out, checked.stderr)
    assert "these columns go to Ameyo as customer data under their own names" in out, out
    assert '"Callback Time" as callback_time' in out and '"Agent ID" as callback_user' in out, out
    assert "--map 'Callback Time=callback_time' --map 'Agent ID=callback_user'" in out, out
    assert mapped.returncode == 0 and "customer data" not in mapped.stdout, mapped.stdout
    assert "assigned to agent7" in mapped.stdout, mapped.stdout
    assert not sent, "a dry run sends nothing"
