"""The server's and the tools' icons (2025-11-25 `icons`) as a real MCP client session receives them:
data: URIs of the SVG and PNG shipped in the package, which decode to the images they claim to be."""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET

import pytest
from mcp import Client
from mcp.types import Icon
from PIL import Image

pytestmark = pytest.mark.anyio


def payload(icon: Icon) -> bytes:
    head, _, data = icon.src.partition(",")
    assert head == f"data:{icon.mime_type};base64", head
    return base64.b64decode(data, validate=True)


def assert_svg(icon: Icon) -> None:
    root = ET.fromstring(payload(icon))
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox") == "0 0 64 64"
    assert icon.sizes == ["any"]
    # An SVG can carry script: ours holds shapes only.
    assert {e.tag.rsplit("}", 1)[1] for e in root.iter()} <= {"svg", "rect", "path", "circle"}


async def test_initialize_and_tools_list_carry_the_icons(client: Client) -> None:
    info = client.server_info
    assert info is not None and info.icons is not None
    by_type = {icon.mime_type: icon for icon in info.icons}
    assert set(by_type) == {"image/svg+xml", "image/png"}
    assert_svg(by_type["image/svg+xml"])
    png = Image.open(io.BytesIO(payload(by_type["image/png"])))
    assert png.format == "PNG" and by_type["image/png"].sizes == [f"{png.width}x{png.height}"] == ["64x64"]
    assert len(png.convert("RGBA").getcolors(maxcolors=4096) or []) > 3  # drawn, not a blank square

    tools = (await client.list_tools()).tools
    assert len(tools) == 11
    for tool in tools:
        assert tool.icons is not None and [i.mime_type for i in tool.icons] == ["image/svg+xml"], tool.name
        assert_svg(tool.icons[0])
