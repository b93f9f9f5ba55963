"""Bulk contact uploads from a file: streamed, checked locally, sent in journaled batches.

The tool `ameyo_upload_contacts_file` and the `ameyo-mcp upload` command share `engine.upload_file`.
"""

from __future__ import annotations

from .engine import BulkOptions, upload_file
from .paths import PathRefused, allowed_file, allowed_output
from .report import BulkUploadOut, bulk_text

__all__ = [
    "BulkOptions",
    "BulkUploadOut",
    "PathRefused",
    "allowed_file",
    "allowed_output",
    "bulk_text",
    "upload_file",
]
