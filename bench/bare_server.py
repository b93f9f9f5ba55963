"""The baseline: a bare `MCPServer` with one trivial echo tool, served the way `ameyo-mcp` serves.

python bench/bare_server.py [--transport stdio|http] [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse

from mcp.server.mcpserver import MCPServer

server = MCPServer(name="bare", version="0.0.0", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Answer the text it is given."""
    return text


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
