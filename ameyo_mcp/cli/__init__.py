"""The `ameyo-mcp` command and its subcommands."""
