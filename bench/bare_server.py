"""The baseline: a bare `MCPServer` with a trivial echo tool, served the way `ameyo-mcp` serves.

`relay` is the echo plus the one request a contacts lookup sends to Ameyo: it POSTs a form body it is
given over one long-lived `httpx.AsyncClient` (with `ameyo-mcp`'s connection limits), decodes the
JSON answer and answers 2,000 characters of it, so that a benchmark can show what one upstream
request costs a bare server.

python bench/bare_server.py [--transport stdio|http] [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
from typing import Any

from mcp.server.mcpserver import MCPServer

server = MCPServer(name="bare", version="0.0.0", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Answer the text it is given."""
    return text


_http: Any = None


@server.tool()
async def relay(url: str, body: str) -> str:
    """POST a form body to a URL and answer the start of its JSON answer."""
    global _http
    if _http is None:
        import httpx

        _http = httpx.AsyncClient(
            headers={
                "Accept": "application/json, text/plain, */*",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            timeout=30,
        )
    response = await _http.post(url, content=body)
    response.json()
    return response.text[:2_000]


def main() -> None:
    parser = argparse.ArgumentParser(description="bare MCPServer baseline")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.port)


if __name__ == "__main__":
    main()
