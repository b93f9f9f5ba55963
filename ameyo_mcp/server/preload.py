"""The rest of the server's code, loaded a little after its first `tools/list` has been answered.

A start loads only what listing the tools needs (`tools.catalog`), so that a client sees the tools
sooner. Left at that, the rest would load on first use, from whatever files are installed by then:
after `pip install --upgrade` under a running server, a tool would mix the running version with
the new one, or not load at all. Loading everything while the server is idle closes that window
to the first second after the listing; a part that still cannot be loaded is explained by
`errors.explain` (restart the server).
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time
from collections.abc import Iterable, Iterator

import anyio
from mcp.server.mcpserver.tools import Tool

from .tools.catalog import CatalogTool

log = logging.getLogger(__name__)

# After the first listing: the client's next requests come first, and a client that only lists
# (a test, a health probe) has gone by then.
DELAY_S = 1.0
# Code that a server never runs: the simulator is loaded by --demo itself, the CLI by its command.
_NOT_SERVED = (
    "ameyo_mcp.simulator",
    "ameyo_mcp.cli",
    "ameyo_mcp.__main__",
    "ameyo_mcp.server.tools.__main__",
)


def package_modules() -> Iterator[str]:
    """Every module of the package a server may run, by name."""
    import ameyo_mcp

    for info in pkgutil.walk_packages(ameyo_mcp.__path__, prefix="ameyo_mcp."):
        if not info.name.startswith(_NOT_SERVED):
            yield info.name


def load_everything(tools: Iterable[Tool]) -> int:
    """Import every module and build every listed tool; the number of modules that failed."""
    failed = 0
    for name in package_modules():
        try:
            importlib.import_module(name)
        except Exception:  # an optional dependency (psycopg) that is not installed
            log.debug("module %s was not loaded", name, exc_info=True)
            failed += 1
    for tool in tools:
        if isinstance(tool, CatalogTool):
            try:
                tool.built()
            except Exception:
                log.warning("tool %s could not be loaded; its first call will say why", tool.name)
                failed += 1
    return failed


async def preload(listed: anyio.Event, tools: Iterable[Tool]) -> None:
    """Wait for the first listing (or a while), then load the rest in a worker thread."""
    with anyio.move_on_after(30):
        await listed.wait()
    await anyio.sleep(DELAY_S)
    started = time.perf_counter()
    # Abandoned when the server stops: the thread finishes its imports on its own.
    failed = await anyio.to_thread.run_sync(load_everything, list(tools), abandon_on_cancel=True)
    log.debug(
        "loaded the code of every tool in %.0f ms (%d part(s) not loaded)",
        (time.perf_counter() - started) * 1000,
        failed,
    )
