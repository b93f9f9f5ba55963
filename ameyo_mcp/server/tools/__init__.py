"""The MCP tools. Their names are the public interface: people's prompts and configs name them.

The tool modules are not imported here: `catalog` lists the tools from `catalog.json` and loads a
tool's module on its first call."""

from __future__ import annotations

from .catalog import WRITE_TOOL_NAMES
from .catalog import catalog_tools as build_tools
from .common import AppState

__all__ = ["WRITE_TOOL_NAMES", "AppState", "build_tools"]
