"""The server's icon (the `icons` field of the 2025-11-25 protocol), for clients that show one beside
the server and its tools: an SVG and a PNG drawn from it, shipped in the package (`assets/`) and sent
as data: URIs, since a server on stdio has no address to serve them from. Clients do not show icons
to a model: they cost a conversation nothing."""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path

from mcp.types import Icon

ASSETS = Path(__file__).with_name("assets")
SVG = ASSETS / "ameyo-mcp.svg"
PNG = ASSETS / "ameyo-mcp-64.png"
# The MCP Bundle's icon (manifest.json): the same mark at the size Claude Desktop asks for.
BUNDLE_PNG = ASSETS / "ameyo-mcp-512.png"


def _data_uri(path: Path, mime_type: str) -> str:
    return f"data:{mime_type};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


@cache
def server_icons() -> tuple[Icon, ...]:
    """The mark as an SVG (any size) and as a 64-pixel PNG for clients that draw no SVG."""
    return (
        Icon(src=_data_uri(SVG, "image/svg+xml"), mime_type="image/svg+xml", sizes=["any"]),
        Icon(src=_data_uri(PNG, "image/png"), mime_type="image/png", sizes=["64x64"]),
    )


@cache
def tool_icons() -> tuple[Icon, ...]:
    """Every tool shows the server's mark: the SVG alone, the smallest of the two in every listing."""
    return server_icons()[:1]
