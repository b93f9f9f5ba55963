"""MCP server for the Ameyo Customer Manager API."""

__version__ = "0.1.0"
