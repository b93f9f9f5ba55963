"""The MCP tools. Their names are the public interface: people's prompts and configs name them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations

from .arguments import ExplainedTool
from .bulk import ameyo_upload_contacts_file
from .callbacks import ameyo_add_callback
from .common import ADD, OVERWRITE, READ, SESSION, AppState
from .contacts import ameyo_get_contacts
from .schemas import compact, inline_refs
from .session_tools import (
    ameyo_get_leads,
    ameyo_list_campaigns,
    ameyo_login,
    ameyo_logout,
    ameyo_ping_session,
)
from .uploads import ameyo_upload_contacts, ameyo_upload_contacts_with_callbacks

Entry = tuple[Callable[..., Any], str, ToolAnnotations]

READ_TOOLS: tuple[Entry, ...] = (
    # Not idempotent: new_session=true replaces the live session each time.
    (ameyo_login, "Ameyo login", ADD),
    (ameyo_ping_session, "Ping the Ameyo session", READ),
    (ameyo_logout, "Log out of Ameyo", SESSION),
    (ameyo_list_campaigns, "List campaigns", READ),
    (ameyo_get_leads, "List a campaign's leads", READ),
    (ameyo_get_contacts, "Find contacts", READ),
)
WRITE_TOOLS: tuple[Entry, ...] = (
    (ameyo_upload_contacts, "Upload contacts", OVERWRITE),
    (ameyo_upload_contacts_with_callbacks, "Upload contacts with callbacks", OVERWRITE),
    (ameyo_add_callback, "Schedule a callback", ADD),
    (ameyo_upload_contacts_file, "Upload a contact file", OVERWRITE),
)

WRITE_TOOL_NAMES = frozenset(fn.__name__ for fn, _, _ in WRITE_TOOLS)


def build_tools(*, read_only: bool) -> list[Tool]:
    """Every read tool, and the write tools unless the server is read-only, with compact schemas."""
    tools: list[Tool] = []
    for fn, title, hints in READ_TOOLS if read_only else READ_TOOLS + WRITE_TOOLS:
        tool = ExplainedTool.from_function(fn, name=fn.__name__, title=title, annotations=hints)
        tool.parameters = compact(tool.parameters, optional_null=False)
        tool.description = " ".join(tool.description.split())
        if tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = compact(inline_refs(tool.fn_metadata.output_schema))
        tools.append(tool)
    return tools


__all__ = ["WRITE_TOOL_NAMES", "AppState", "build_tools"]
