"""`python -m ameyo_mcp.tools`: write `catalog.json` from the tool functions (after changing a tool)."""

from .catalog import CATALOG, write_catalog

write_catalog()
print(f"wrote {CATALOG}")
