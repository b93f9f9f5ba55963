"""The tool catalog: what clients list without loading the tools, always what the tools are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.config import load_settings
from ameyo_mcp.server.tools.catalog import CATALOG, describe_all, write_catalog
from tests.conftest import Simulator, server_of


def test_the_catalog_is_what_the_tool_functions_make() -> None:
    listed = json.loads(CATALOG.read_text(encoding="utf-8"))
    made = describe_all()
    assert [t["name"] for t in listed] == [t["name"] for t in made]
    for old, new in zip(listed, made, strict=True):
        assert old == new, (
            f"ameyo_mcp/tools/catalog.json is out of date for {new['name']}: "
            "run `python -m ameyo_mcp.server.tools` after changing a tool"
        )


def test_the_catalog_is_written_as_it_is_read(tmp_path: Path) -> None:
    written = tmp_path / "catalog.json"
    write_catalog(written)
    assert written.read_text(encoding="utf-8") == CATALOG.read_text(encoding="utf-8")


def test_listing_the_tools_loads_no_tool_module() -> None:
    code = (
        "import sys, anyio\n"
        "from mcp import Client\n"
        "from ameyo_mcp.config import load_settings\n"
        "from ameyo_mcp.server.app import create_server\n"
        "s = load_settings({'AMEYO_BASE_URL': 'http://127.0.0.1:9', 'AMEYO_USER_ID': 'u', "
        "'AMEYO_PASSWORD': 'p', 'AMEYO_SESSION_FILE': 'none'}, env_file=None)\n"
        "async def main():\n"
        "    async with Client(create_server(s)) as client:\n"
        "        print(len((await client.list_tools()).tools))\n"
        "anyio.run(main)\n"
        "tools = ('contacts', 'uploads', 'callbacks', 'bulk', 'history', 'session_tools', 'arguments')\n"
        "print(sorted(m for m in sys.modules if m.removeprefix('ameyo_mcp.server.tools.') in tools))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["11", "[]"]


@pytest.mark.anyio
async def test_a_listed_tool_runs_and_checks_its_arguments_as_built(simulator: Simulator) -> None:
    settings = load_settings(
        {"AMEYO_BASE_URL": "http://127.0.0.1:9", "AMEYO_USER_ID": "u", "AMEYO_PASSWORD": "p"}, env_file=None
    )
    async with Client(server_of(simulator, settings)) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert listed["ameyo_get_contacts"].output_schema is not None
        result = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "limmit": 5})
        assert result.is_error
        assert "limmit" in result.content[0].text  # type: ignore[union-attr]
