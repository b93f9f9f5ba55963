"""A package reinstalled under a running server: its tools keep working once it has loaded its code
(a second after the first listing), and a part it could not load says to restart it.

The server runs from a copy of the package (first on PYTHONPATH), which the tests change as
`pip install` would while the server runs."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

import ameyo_mcp
from tests.test_transports import clean_env

pytestmark = pytest.mark.anyio

TOOLS = Path("ameyo_mcp") / "server" / "tools"
LOADED = "loaded the code of every tool"


def installed_copy(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    package = Path(ameyo_mcp.__file__).parent
    shutil.copytree(package, root / "ameyo_mcp")
    # Where a wheel holds them (pyproject's force-include); a source checkout has them at its top.
    shutil.copytree(package.parent / "prompts", root / "ameyo_mcp" / "prompts")
    return root


def params(tmp_path: Path, root: Path) -> StdioServerParameters:
    env = {**clean_env(tmp_path), "PYTHONPATH": str(root), "AMEYO_LOG_LEVEL": "DEBUG"}
    return StdioServerParameters(
        command=sys.executable, args=["-m", "ameyo_mcp", "--demo"], env=env, cwd=str(tmp_path)
    )


def remove_tool_modules(root: Path) -> list[str]:
    """What an uninstall does to the modules a start does not need: gone, compiled copies too."""
    gone = []
    for module in ("session_tools", "contacts", "history", "uploads", "callbacks", "bulk", "arguments"):
        (root / TOOLS / f"{module}.py").unlink()
        gone.append(module)
    shutil.rmtree(root / TOOLS / "__pycache__", ignore_errors=True)
    return gone


def text_of(result: object) -> str:
    return result.content[0].text  # type: ignore[attr-defined,no-any-return]


async def test_tools_keep_working_when_the_package_changes_under_the_server(tmp_path: Path) -> None:
    root = installed_copy(tmp_path)
    with (tmp_path / "stderr.txt").open("w+") as errlog:
        async with Client(stdio_client(params(tmp_path, root), errlog=errlog)) as client:
            assert len((await client.list_tools()).tools) == 11
            deadline = time.monotonic() + 30
            while LOADED not in (tmp_path / "stderr.txt").read_text():
                assert time.monotonic() < deadline, "the server never said it had loaded its tools"
                await anyio.sleep(0.1)
            remove_tool_modules(root)
            ping = await client.call_tool("ameyo_ping_session", {})
            assert not ping.is_error, text_of(ping)
            found = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "limit": 2})
            assert not found.is_error, text_of(found)
            history = await client.call_tool("ameyo_call_history", {})
            assert not history.is_error, text_of(history)


async def test_a_part_that_cannot_be_loaded_says_to_restart(tmp_path: Path) -> None:
    root = installed_copy(tmp_path)
    (root / TOOLS / "session_tools.py").unlink()
    shutil.rmtree(root / TOOLS / "__pycache__", ignore_errors=True)
    with (tmp_path / "stderr.txt").open("w+") as errlog:
        async with Client(stdio_client(params(tmp_path, root), errlog=errlog)) as client:
            assert len((await client.list_tools()).tools) == 11
            ping = await client.call_tool("ameyo_ping_session", {})
            assert ping.is_error
            assert "installed files changed while the server was running" in text_of(ping)
            assert "Restart the server" in text_of(ping)
