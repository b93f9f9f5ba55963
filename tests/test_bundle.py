"""The Claude Desktop bundle (MCP Bundle, `manifest.json`): packed by the pinned `mcpb` as `.ci/run`
packs it, unpacked, and started the way the manifest says — its command (uv), args and env, with
`${__dirname}` and the `user_config` answers filled in as Claude Desktop fills them — then spoken to
over stdio by a real MCP client against the simulator on a loopback port."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from PIL import Image

from ameyo_mcp import __version__
from ameyo_mcp.config import NAMES
from ameyo_mcp.server.tools.catalog import CATALOG, WRITE_TOOL_NAMES
from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import text_of

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))


def mcpb() -> list[str]:
    """The mcpb command at the version `.ci/run` pins (the one place it is written)."""
    pinned = re.search(r'^MCPB="(@anthropic-ai/mcpb@[\d.]+)"$', (ROOT / ".ci" / "run").read_text(), re.M)
    assert pinned, '.ci/run pins the mcpb version in a line MCPB="@anthropic-ai/mcpb@X.Y.Z"'
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx (Node.js) is not installed: the bundle is packed by @anthropic-ai/mcpb")
    return [npx, "--yes", pinned.group(1)]


def test_the_manifest_says_what_the_server_is() -> None:
    assert MANIFEST["version"] == __version__
    catalog = json.loads(CATALOG.read_text(encoding="utf-8"))
    assert [t["name"] for t in MANIFEST["tools"]] == [t["name"] for t in catalog]
    server = MANIFEST["server"]
    assert server["type"] == "uv" and (ROOT / server["entry_point"]).is_file()
    env: dict[str, str] = server["mcp_config"]["env"]
    assert set(env) <= set(NAMES)
    asked = MANIFEST["user_config"]
    assert {re.fullmatch(r"\$\{user_config\.(\w+)\}", v).group(1) for v in env.values()} == set(asked)  # type: ignore[union-attr]
    assert asked["password"]["sensitive"] is True and env["AMEYO_PASSWORD"] == "${user_config.password}"
    assert asked["read_only"]["type"] == "boolean"
    for icon in MANIFEST["icons"]:
        with Image.open(ROOT / icon["src"]) as image:
            assert image.format == "PNG" and f"{image.width}x{image.height}" == icon["size"]


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle as `mcpb pack` makes it from this checkout, unpacked as Claude Desktop unpacks it."""
    folder = tmp_path_factory.mktemp("bundle")
    packed = folder / "ameyo-mcp.mcpb"
    done = subprocess.run(
        [*mcpb(), "pack", str(ROOT), str(packed)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(packed) as archive:
        names = archive.namelist()
        # What uv needs to build and run the server, and nothing of the checkout's own.
        assert {n.split("/")[0] for n in names} == {
            "manifest.json",
            "pyproject.toml",
            "README.md",
            "LICENSE",
            "ameyo_mcp",
            "prompts",
        }
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        archive.extractall(folder / "ameyo-mcp")
    return folder / "ameyo-mcp"


def filled(value: str, where: Path, answers: dict[str, Any]) -> str:
    """`${__dirname}` and `${user_config.KEY}` as Claude Desktop substitutes them (a boolean as
    true/false)."""

    def answer(match: re.Match[str]) -> str:
        given = answers[match.group(1)]
        return str(given).lower() if isinstance(given, bool) else str(given)

    value = value.replace("${__dirname}", str(where))
    return re.sub(r"\$\{user_config\.(\w+)\}", answer, value)


@pytest.fixture
def uv_home(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A bare environment as Claude Desktop gives a server: a home of its own, and a PATH with uv
    (from the `test` extra) and little else. uv's cache stays the user's, so packages it has
    downloaded once are not downloaded again."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv is not None, "uv is installed by the test extra"
    cache = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
    # How this machine reaches the package index (its certificates, a proxy) stays as it is.
    network = {k: v for k, v in os.environ.items() if k.startswith(REACHING_THE_INDEX)}
    yield network | {
        "HOME": str(tmp_path),
        "PATH": os.pathsep.join([str(Path(uv).parent), "/usr/bin", "/bin"]),
        "UV_CACHE_DIR": cache,
    }


REACHING_THE_INDEX = (
    "SSL_CERT_",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "UV_INDEX",
    "UV_DEFAULT_INDEX",
    "UV_NATIVE_TLS",
)


async def run_as_the_manifest_says(
    where: Path, sim: SimulatorThread, extra_env: dict[str, str], *, read_only: bool
) -> None:
    answers = {
        "base_url": sim.base_url,
        "user_id": sim.state.config.user_id,
        "password": sim.state.config.password,
        "timezone": "Asia/Kolkata",
        "read_only": read_only,
    }
    config = MANIFEST["server"]["mcp_config"]
    env = {k: filled(v, where, answers) for k, v in config["env"].items()}
    params = StdioServerParameters(
        command=config["command"],
        args=[filled(a, where, answers) for a in config["args"]],
        env=extra_env | env,
        cwd=str(where.parent),
    )
    async with Client(params) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        ping = await client.call_tool("ameyo_ping_session", {})
    assert len(tools) == (7 if read_only else 11) and not (read_only and tools & WRITE_TOOL_NAMES)
    assert not ping.is_error, text_of(ping)
    assert ping.structured_content is not None and ping.structured_content["timezone"] == "Asia/Kolkata"
    assert sim.state.commands["login"], "the server logged in with the user and password asked for"


@pytest.mark.anyio
@pytest.mark.network
@pytest.mark.parametrize("read_only", [True, False])
async def test_the_bundle_runs_as_its_manifest_says_in_this_environment(
    unpacked: Path, simulator: SimulatorThread, uv_home: dict[str, str], read_only: bool
) -> None:
    """uv runs the bundle's own code with the packages the tests already have (told so by
    UV_PROJECT_ENVIRONMENT, and not to install: offline); the next test lets it install them."""
    installed = {"UV_PROJECT_ENVIRONMENT": sys.prefix, "UV_NO_SYNC": "1", "UV_OFFLINE": "1"}
    await run_as_the_manifest_says(unpacked, simulator, uv_home | installed, read_only=read_only)
    assert not (unpacked / ".venv").exists()


@pytest.mark.anyio
@pytest.mark.network
@pytest.mark.slow
async def test_the_bundle_installs_itself_with_uv_and_runs(
    unpacked: Path, simulator: SimulatorThread, uv_home: dict[str, str], tmp_path: Path
) -> None:
    """As on a machine that has only the bundle: uv installs the server and its dependencies from
    the package index into the bundle's folder, then runs it (the first time, downloads)."""
    where = tmp_path / "ameyo-mcp"
    shutil.copytree(unpacked, where)
    await run_as_the_manifest_says(where, simulator, uv_home, read_only=False)
    assert (where / ".venv").is_dir()
