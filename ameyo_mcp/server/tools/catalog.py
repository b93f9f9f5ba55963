"""The tools as clients see them, read from `catalog.json` at start; each tool's code and pydantic
models are loaded on its first call.

Building the eleven tools from their functions (pydantic argument and output models, then JSON
schemas) and importing their modules was a large share of every start, while `tools/list` needs
only the finished schemas. `catalog.json` holds them, generated from the functions by

    python -m ameyo_mcp.server.tools

and `tests/test_tool_catalog.py` fails, naming that command, whenever a tool changes without it.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import PrivateAttr

from ..icons import tool_icons

CATALOG = Path(__file__).with_name("catalog.json")

# (module under ameyo_mcp.server.tools, function, title, name of its annotations in that module or in
# tools.common), in the order clients list them; write tools last.
READ_ENTRIES: tuple[tuple[str, str, str, str], ...] = (
    # Not idempotent: new_session=true replaces the live session each time.
    ("session_tools", "ameyo_login", "Ameyo login", "ADD"),
    ("session_tools", "ameyo_ping_session", "Ping the Ameyo session", "READ"),
    ("session_tools", "ameyo_logout", "Log out of Ameyo", "SESSION"),
    ("session_tools", "ameyo_list_campaigns", "List campaigns", "READ"),
    ("session_tools", "ameyo_get_leads", "List a campaign's leads", "READ"),
    ("contacts", "ameyo_get_contacts", "Find contacts", "READ"),
    ("history", "ameyo_call_history", "Call history", "HISTORY_READ"),
)
WRITE_ENTRIES: tuple[tuple[str, str, str, str], ...] = (
    ("uploads", "ameyo_upload_contacts", "Upload contacts", "OVERWRITE"),
    ("uploads", "ameyo_upload_contacts_with_callbacks", "Upload contacts with callbacks", "OVERWRITE"),
    ("callbacks", "ameyo_add_callback", "Schedule a callback", "ADD"),
    ("bulk", "ameyo_upload_contacts_file", "Upload a contact file", "OVERWRITE"),
)
WRITE_TOOL_NAMES = frozenset(function for _, function, _, _ in WRITE_ENTRIES)


def _function(module: str, name: str) -> Callable[..., Any]:
    found: Callable[..., Any] = getattr(importlib.import_module(f"{__package__}.{module}"), name)
    return found


def _annotations(module: str, name: str) -> ToolAnnotations:
    from . import common

    found = getattr(importlib.import_module(f"{__package__}.{module}"), name, None)
    hints: ToolAnnotations = found if isinstance(found, ToolAnnotations) else getattr(common, name)
    return hints


def built_tool(fn: Callable[..., Any], title: str, annotations: ToolAnnotations) -> Tool:
    """A tool made from its function, the slow way: what the catalog records and what runs."""
    from .arguments import ExplainedTool
    from .schemas import compact, inline_refs

    tool = ExplainedTool.from_function(fn, name=fn.__name__, title=title, annotations=annotations)
    # Inlined: a model reads a record's fields where they are used, not through a `$ref` to `$defs`,
    # and `ExplainedTool` reads the same schema to explain a mistake.
    tool.parameters = compact(inline_refs(tool.parameters), optional_null=False)
    tool.description = " ".join(tool.description.split())
    if tool.fn_metadata.output_schema is not None:
        tool.fn_metadata.output_schema = compact(inline_refs(tool.fn_metadata.output_schema))
    return tool


def describe_all() -> list[dict[str, Any]]:
    """Every tool as the catalog holds it, made from the functions (imports every tool module)."""
    described = []
    for module, function, title, hints in READ_ENTRIES + WRITE_ENTRIES:
        tool = built_tool(_function(module, function), title, _annotations(module, hints))
        described.append(
            {
                "module": module,
                "name": tool.name,
                "title": tool.title,
                "description": tool.description,
                "annotations": tool.annotations.model_dump(mode="json", exclude_none=True)
                if tool.annotations
                else None,
                "parameters": tool.parameters,
                "output_schema": tool.output_schema,
            }
        )
    return described


class CatalogTool(Tool):
    """A tool listed from the catalog; its function and models are made on its first call."""

    _module: str = PrivateAttr("")
    _output_schema: dict[str, Any] | None = PrivateAttr(None)
    _built: Tool | None = PrivateAttr(None)

    @property
    def output_schema(self) -> dict[str, Any] | None:
        return self._output_schema

    def built(self) -> Tool:
        if self._built is None:
            annotations = self.annotations or ToolAnnotations()
            self._built = built_tool(_function(self._module, self.name), self.title or self.name, annotations)
        return self._built

    async def run(
        self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False
    ) -> Any:
        return await self.built().run(arguments, context, convert_result)


def catalog_tools(*, read_only: bool) -> list[Tool]:
    """Every read tool, and the write tools unless the server is read-only, as clients list them."""
    entries = json.loads(CATALOG.read_text(encoding="utf-8"))
    tools: list[Tool] = []
    for entry in entries:
        if read_only and entry["name"] in WRITE_TOOL_NAMES:
            continue
        tool = CatalogTool.model_construct(
            fn=_not_loaded,
            name=entry["name"],
            title=entry["title"],
            description=entry["description"],
            parameters=entry["parameters"],
            annotations=ToolAnnotations(**entry["annotations"]) if entry["annotations"] else None,
            icons=list(tool_icons()),
            is_async=True,
        )
        tool._module = entry["module"]
        tool._output_schema = entry["output_schema"]
        tools.append(tool)
    return tools


def _not_loaded(**_: Any) -> Any:  # pragma: no cover - CatalogTool.run never calls it
    raise RuntimeError("a catalog tool runs through the tool built on its first call")


def write_catalog(path: Path = CATALOG) -> None:
    path.write_text(json.dumps(describe_all(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
