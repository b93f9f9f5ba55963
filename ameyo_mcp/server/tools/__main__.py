"""`python -m ameyo_mcp.server.tools`: write `catalog.json` from the tool functions (after a change)."""

from .catalog import CATALOG, write_catalog

write_catalog()
print(f"wrote {CATALOG}")
