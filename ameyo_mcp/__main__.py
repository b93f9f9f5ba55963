"""`python -m ameyo_mcp`: the same as the `ameyo-mcp` command. Also run by path, as the MCP Bundle's
entry point (manifest.json: `uv run ameyo_mcp/__main__.py`)."""

import sys
from pathlib import Path

if not __package__:
    # Run by path: its own folder is first on sys.path, where the package's modules would pass for
    # top-level ones. The folder that holds the package stands there instead.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from ameyo_mcp.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
