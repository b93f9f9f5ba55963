"""`python -m ameyo_mcp`: the same as the `ameyo-mcp` command."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
