"""The MCP face: the server, its tools, prompts, resources and completions, and the HTTP transport."""
