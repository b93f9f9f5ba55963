"""Bulk contact uploads from a file: streamed, checked locally, sent in journaled batches.

The tool `ameyo_upload_contacts_file` and the `ameyo-mcp upload` command share `engine.upload_file`.
Nothing is imported here, so that the server can list the tool without loading the engine.
"""
