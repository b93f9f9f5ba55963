"""What a tool answers: the structured results and the concise text rendered from them.

Below both the write path and the MCP face, since the bulk uploader reports in the same words."""
