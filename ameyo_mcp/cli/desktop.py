"""The command that starts this installation, for a Claude Desktop entry (`ameyo-mcp config`).

Claude Desktop starts servers from its own folder with its own PATH, so the entry names programs by
absolute path. An installation that uvx made is the exception: it lives in uv's cache, which uv may
clean or replace at any time, so its path is no place to start from. The entry then asks uvx for the
same package again (`uvx --from SPEC ameyo-mcp`), which finds it in the cache or installs it anew.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

DISTRIBUTION = "ameyo-mcp"


def command(server_args: list[str]) -> dict[str, object]:
    """The `command` and `args` that start this installation's server with `server_args`."""
    if in_uv_cache(Path(sys.prefix)):
        return {"command": uvx(), "args": ["--from", package_spec(), "ameyo-mcp", *server_args]}
    script = Path(sys.executable).with_name("ameyo-mcp.exe" if sys.platform == "win32" else "ameyo-mcp")
    if script.is_file():
        return {"command": str(script), "args": server_args}
    return {"command": sys.executable, "args": ["-m", "ameyo_mcp", *server_args]}


def in_uv_cache(prefix: Path) -> bool:
    """Whether the environment at `prefix` is one that uvx made: uv keeps those in its cache, as
    `archive-v<N>/<id>` (`uv tool install` keeps its own elsewhere, for good)."""
    if prefix.parent.name.startswith("archive-v"):
        return True
    return any(_inside(prefix, cache) for cache in _uv_caches())


def _uv_caches() -> list[Path]:
    given = os.environ.get("UV_CACHE_DIR")
    if given:
        return [Path(given)]
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return [Path(local) / "uv" / "cache"] if local else []
    return [Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "uv"]


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def uvx() -> str:
    """uvx by absolute path: beside the uv that ran this command (uv says which in `UV`), else on
    PATH; else its bare name, which a PATH without it will not find (`ameyo-mcp config` says so)."""
    name = "uvx.exe" if sys.platform == "win32" else "uvx"
    ran = os.environ.get("UV")
    if ran and (beside := Path(ran).with_name(name)).is_file():
        return str(beside.absolute())
    found = shutil.which(name)
    return str(Path(found).absolute()) if found else name


def package_spec() -> str:
    """What uvx was given to install this package, as its installer recorded it (PEP 610): a folder,
    a file, a URL or a commit of a repository; else this very release from the index."""
    try:
        dist = distribution(DISTRIBUTION)
    except PackageNotFoundError:  # pragma: no cover - the command itself is this distribution's
        return DISTRIBUTION
    recorded = dist.read_text("direct_url.json")
    if not recorded:
        return f"{DISTRIBUTION}=={dist.version}"
    origin = json.loads(recorded)
    url = str(origin["url"])
    vcs = origin.get("vcs_info")
    if isinstance(vcs, dict):
        revision = vcs.get("commit_id") or vcs.get("requested_revision")
        return f"{vcs.get('vcs', 'git')}+{url}" + (f"@{revision}" if revision else "")
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return url2pathname(unquote(parsed.path))
    return url
