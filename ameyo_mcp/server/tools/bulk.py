"""The write tool that uploads a whole contact file: `ameyo_upload_contacts_file`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from ...errors import FileFormatError, PathRefused, UploadRefused, UploadStopped
from ...writes.bulk.limits import DEFAULT_BATCH, DEFAULT_CONCURRENCY, MAX_BATCH, MAX_CONCURRENCY
from ...writes.bulk.report import BulkUploadOut, bulk_text
from .common import (
    ConfirmArg,
    DespiteDncArg,
    DryRunArg,
    OutsideHoursArg,
    ameyo_of,
    answer,
    asker,
    explained,
    state_of,
)
from .session_tools import CampaignArg
from .uploads import AttemptsArg, LeadArg, MigrateArg, UpdateArg


async def ameyo_upload_contacts_file(
    ctx: Context[Any, Any],
    file: Annotated[str, Field(description=".csv/.tsv/.txt with a header row, or .jsonl")],
    campaign: CampaignArg,
    lead_id: LeadArg,
    column_map: Annotated[
        dict[str, str] | None, Field(description="Rename columns, e.g. {Mobile: phone1}")
    ] = None,
    status: Annotated[str, Field(description="Status of new and updated contacts")] = "NOT_TRIED",
    attempts: AttemptsArg = 0,
    update_existing: UpdateArg = False,
    migrate_existing: MigrateArg = False,
    outside_calling_hours: OutsideHoursArg = False,
    despite_do_not_call: DespiteDncArg = False,
    dry_run: DryRunArg = True,
    confirm: ConfirmArg = None,
    retry_unknown: Annotated[
        bool, Field(description="Resend rows of unknown outcome (not callbacks)")
    ] = False,
    resend_callbacks_may_duplicate: Annotated[
        bool,
        Field(description="With retry_unknown, callback rows too (may schedule twice)"),
    ] = False,
    batch_size: Annotated[int, Field(ge=1, le=MAX_BATCH, description="Rows per request")] = DEFAULT_BATCH,
    concurrency: Annotated[
        int, Field(ge=1, le=MAX_CONCURRENCY, description="Requests in flight")
    ] = DEFAULT_CONCURRENCY,
    result_file: Annotated[
        str | None, Field(description="Result CSV path, beside the file if relative")
    ] = None,
) -> Annotated[CallToolResult, BulkUploadOut]:
    """Upload a contact file into a lead, dry run by default; each row's outcome goes to a result
    CSV. callback_time/_user/_phone columns add callbacks. Run again to resume."""
    # The engine loads on first use: most conversations never upload a file.
    from ...writes.bulk.engine import journal_path_for, result_path_for, upload_file
    from ...writes.bulk.options import BulkOptions
    from ...writes.bulk.paths import allowed_file, allowed_output

    ameyo = ameyo_of(ctx)
    dirs = ameyo.settings.upload_dirs
    try:
        path = allowed_file(file, dirs)
        options = BulkOptions(
            campaign=campaign,
            lead_id=lead_id,
            column_map=dict(column_map or {}),
            status=status,
            attempts=attempts,
            update_existing=update_existing,
            migrate_existing=migrate_existing,
            batch_size=batch_size,
            concurrency=concurrency,
            dry_run=dry_run,
            retry_unknown=retry_unknown,
            resend_callbacks_may_duplicate=resend_callbacks_may_duplicate,
            outside_calling_hours=outside_calling_hours,
            despite_do_not_call=despite_do_not_call,
            result_path=Path(result_file) if result_file else None,
            confirm_token=confirm,
        )
        # Written files are held to the same folders as read ones (a link there is followed first).
        options = replace(
            options,
            result_path=allowed_output(result_path_for(path, options), dirs),
            journal_path=allowed_output(journal_path_for(path, options), dirs),
        )
    except PathRefused as exc:
        raise ToolError(str(exc)) from None

    async def progress(done: int, total: int | None, message: str) -> None:
        await ctx.report_progress(done, total, message)

    try:
        async with explained(ameyo):
            out = await upload_file(state_of(ctx).writes, path, options, progress, ask=asker(ctx))
    except FileFormatError as exc:
        raise ToolError(f"{path.name}: {exc}") from None
    except (UploadRefused, UploadStopped) as exc:
        raise ToolError(str(exc)) from None
    except OSError as exc:
        raise ToolError(f"Could not read or write beside {path.name}: {exc.strerror or exc}") from None
    return answer(bulk_text(out), out)
