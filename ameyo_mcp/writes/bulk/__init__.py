"""Bulk contact uploads from a file: streamed, checked locally, sent in journaled batches.

The tool `ameyo_upload_contacts_file` and the `ameyo-mcp upload` command share `engine.upload_file`.
`reader` → `validate` → `batches` → `engine` (sending, and settling every ending) → `journal` (the
lock, what was sent and answered) and `report` (the result file and summary); `outputs` says where
files may be written, `paths` what the tool may read, `errors` how a run ends early.
Nothing is imported here, so that the server can list the tool without loading the engine.
"""
