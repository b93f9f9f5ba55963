"""`ameyo-mcp sync`: the index brought up to date with Ameyo, with its progress shown, and stopped
cleanly by Ctrl-C or SIGTERM (the next run resumes where it stopped)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import anyio

from ..config import Settings
from ..errors import AmeyoError, StoreError, SyncError
from .progress import Progress
from .stopping import exit_status, signal_words, stop_on_signals


async def sync_command(settings: Settings, campaigns: Sequence[str], *, restart: bool) -> int:
    from ..ameyo.service import Ameyo
    from ..index.sync import SyncProgress, SyncReport, sync_all
    from ..store import open_store

    shown = Progress(settings.progress_every_s)

    def progress(step: SyncProgress) -> None:
        if step.done:
            return
        name = step.campaign.campaign_name[:30]
        if step.closing:
            shown.note(f"{name}: all {step.seen:,} contacts read; completing the index…")
        else:
            shown.step(name, step.seen, step.expected, "contacts read", about=True)

    def done(report: SyncReport) -> None:
        shown.clear()
        shown.standing = None
        print(report.line(), flush=True)  # the CLI's report for a person

    def fail(message: str) -> None:
        shown.clear()
        print(f"ameyo-mcp sync: {message}", file=sys.stderr, flush=True)

    async def work(scope: anyio.CancelScope) -> int:
        store = open_store(settings)
        ameyo = Ameyo(settings, store=lambda: store)
        try:
            with scope:  # cancelled by the first SIGINT or SIGTERM
                # The index must be usable before anything is asked of Ameyo (it holds the session lease).
                await anyio.to_thread.run_sync(store.campaigns)
                await sync_all(
                    ameyo,
                    store,
                    campaigns or None,
                    restart=restart,
                    progress=progress,
                    done=done,
                    on_loop=True,  # this loop serves the sync alone
                )
        except AmeyoError as exc:
            fail(await ameyo.explain(exc))
            return 1
        except (StoreError, SyncError) as exc:
            fail(str(exc))
            return 1
        finally:
            try:
                await ameyo.aclose()
            finally:
                store.close()
        return 0

    scope = anyio.CancelScope()
    async with stop_on_signals(scope.cancel) as caught:
        code = await work(scope)
    if not caught:
        return code
    where = f"with {shown.standing}" if shown.standing else "before the next campaign's first page"
    fail(
        f"stopped by {signal_words(caught[0])} {where}; what it read is kept: run `ameyo-mcp sync` "
        "again to resume where it stopped."
    )
    return exit_status(caught[0])
