"""What a person asks of one file upload (the tool's arguments, the CLI's flags)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .limits import DEFAULT_BATCH, DEFAULT_CONCURRENCY


@dataclass(frozen=True)
class BulkOptions:
    campaign: str | int
    lead_id: int
    column_map: dict[str, str] = field(default_factory=dict)
    status: str = "NOT_TRIED"
    attempts: int = 0
    update_existing: bool = False
    migrate_existing: bool = False
    batch_size: int = DEFAULT_BATCH
    concurrency: int = DEFAULT_CONCURRENCY
    dry_run: bool = False
    retry_unknown: bool = False
    # With retry_unknown, also resend rows with callbacks: the person accepts that Ameyo may
    # schedule such a callback a second time (the earlier run may have scheduled it).
    resend_callbacks_may_duplicate: bool = False
    # The person wants the file's callbacks at the times given, even outside AMEYO_CALLING_HOURS.
    outside_calling_hours: bool = False
    # The person confirmed the callbacks to customers whose last disposition is do-not-call.
    despite_do_not_call: bool = False
    result_path: Path | None = None  # a relative path is read beside the contact file
    journal_path: Path | None = None
    # A run over AMEYO_CONFIRM_OVER rows: the token a dry run of this same upload returned, for
    # callers that cannot ask the person (the write path's confirmation policy).
    confirm_token: str | None = None
