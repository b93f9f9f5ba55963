"""The bulk upload: stream the file, check every row, send good rows in journaled batches.

One engine for the MCP tool and the CLI. The file is read once to hash it (the journal's key) and
once more to check and send; rows are never all in memory. Batches go out `concurrency` at a time.
A batch that fails as a whole is retried once only when Ameyo certainly did not run it (it could
not be reached); if it may have run, its rows are OUTCOME_UNKNOWN and the upload stops sending,
as it does after any whole-batch failure, so that a person can look before more is sent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import anyio
import anyio.abc
import anyio.lowlevel

from ..audit import AuditLog
from ..errors import AmeyoError, UpstreamUnavailable
from ..models import (
    CustomerAndCallback,
    RecordResult,
    UploadContactsRequest,
    UploadWithCallbacksRequest,
)
from ..records import OK_RESULTS, Checked, outcome, rewritten_note
from ..results import campaign_out
from ..service import Ameyo, UploadTarget
from ..summaries import disabled_lead_note
from .batches import PLAIN, Batch, Batcher
from .journal import ANSWERED, FAILED, SENT, UNKNOWN, Journal, JournalRow, upload_key
from .limits import DEFAULT_BATCH, DEFAULT_CONCURRENCY, MAX_BATCH, MAX_CONCURRENCY
from .reader import FileFacts, RowReader, file_facts
from .report import FAILED as FAILED_RESULT
from .report import (
    NOT_SENT,
    REFUSED,
    WOULD_SEND,
    BulkUploadOut,
    ResultFile,
    Settled,
    Tally,
)
from .report import UNKNOWN as UNKNOWN_RESULT
from .validate import CALLBACK_COLUMNS, Prepared, Validator

RETRY_DELAY_S = 1.0
_CHECKPOINT_EVERY = 256

Progress = Callable[[int, int | None, str], Awaitable[None]]


class NeedsConfirmation(ValueError):
    """More rows than the confirmation threshold would be sent, and nobody confirmed."""


class JournalMismatch(ValueError):
    """The journal's batches do not line up with the file any more; nothing was sent."""


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
    result_path: Path | None = None
    journal_path: Path | None = None
    # Refuse a real run of more rows than this unless `confirmed` (the tool's write safety).
    confirm_over: int | None = None
    confirmed: bool = False


def result_path_for(path: Path, options: BulkOptions) -> Path:
    if options.result_path is not None:
        return options.result_path
    suffix = ".ameyo-check.csv" if options.dry_run else ".ameyo-result.csv"
    return path.with_name(path.name + suffix)


def journal_path_for(path: Path, options: BulkOptions) -> Path:
    return options.journal_path or path.with_name(path.name + ".ameyo-journal")


async def upload_file(
    ameyo: Ameyo,
    path: Path,
    options: BulkOptions,
    progress: Progress | None = None,
    audit: AuditLog | None = None,
) -> BulkUploadOut:
    started = time.monotonic()
    target = await ameyo.upload_target(options.campaign, options.lead_id)
    facts = await anyio.to_thread.run_sync(file_facts, path)
    journal = Journal.open(
        journal_path_for(path, options),
        upload_key(facts.sha256, ameyo.settings.base_url, target.campaign.campaign_id, target.lead_id),
    )
    run = _Run(ameyo, path, options, target, facts, journal, progress, audit)
    try:
        await run.go()
    finally:
        journal.close()
    after = await anyio.to_thread.run_sync(file_facts, path)
    if after.sha256 != facts.sha256:
        run.notes.append(
            "Warning: the file changed while it was being uploaded; the result file follows the "
            "file as it was read. Do not edit a file during an upload."
        )
    return run.summary(time.monotonic() - started)


class _Run:
    def __init__(
        self,
        ameyo: Ameyo,
        path: Path,
        options: BulkOptions,
        target: UploadTarget,
        facts: FileFacts,
        journal: Journal,
        progress: Progress | None,
        audit: AuditLog | None,
    ) -> None:
        self.ameyo = ameyo
        self.audit = audit
        self.path = path
        self.options = options
        self.target = target
        self.journal = journal
        self.progress = progress
        self.reader = RowReader(path, options.column_map)
        self.expected = max(facts.lines - (0 if self.reader.json_lines else 1), 0)
        self.facts = facts
        self.tally = Tally()
        self.notes: list[str] = []
        self.result_path = result_path_for(path, options)
        self.result: ResultFile | None = None
        self.stop_reason: str | None = None
        self.validator: Validator | None = None
        self.batch_size = min(max(options.batch_size, 1), MAX_BATCH)
        self.status = options.status.strip().upper() or "NOT_TRIED"
        self._reported = 0.0

    # -- the run ----------------------------------------------------------------------------

    async def go(self) -> None:
        now = datetime.now(self.ameyo.settings.zone).replace(microsecond=0)
        if self.journal.start is not None:
            # Judge rows as the first run did, so that every row lands in the same batch.
            now = datetime.fromisoformat(str(self.journal.start["now"]))
            size = int(self.journal.start["batch_size"])
            if size != self.batch_size and not self.options.dry_run:
                self.notes.append(f"Resumed with the first run's batch size {size}.")
            self.batch_size = size
        validator = Validator(
            max_phone_length=self.target.max_phone_length,
            zone=self.ameyo.settings.zone,
            now=now,
            status=self.status,
            rule=self.ameyo.settings.phone_rule,
            callbacks=self.reader.json_lines or any(c in CALLBACK_COLUMNS for c in self.reader.header()),
        )
        self.validator = validator
        if not self.options.dry_run:
            self._check_confirmed()
            if self.journal.start is None:
                await self.journal.begin(
                    {
                        "file": self.facts.sha256,
                        "campaign": self.target.campaign.campaign_id,
                        "lead": self.target.lead_id,
                        "batch_size": self.batch_size,
                        "now": now.isoformat(),
                    }
                )
        self.result = ResultFile(self.result_path)
        try:
            if self.options.dry_run:
                await self._check_only(validator)
            else:
                await self._send_all(validator)
        finally:
            self.result.close()
        await self._report(final=True)

    def _check_confirmed(self) -> None:
        limit = self.options.confirm_over
        if limit is None or self.options.confirmed:
            return
        done = sum(b.count for b in self.journal.batches.values() if b.status == ANSWERED)
        left = self.expected - done
        if left > limit:
            raise NeedsConfirmation(
                f"Nothing was sent: about {left} rows would be sent, more than {limit} "
                "(AMEYO_CONFIRM_OVER), which needs the person's confirmation. Run with dry_run=true, "
                "show the person the result, and if they agree call again with confirm=true."
            )

    async def _check_only(self, validator: Validator) -> None:
        for count, row in enumerate(self.reader, start=1):
            checked = validator.check(row)
            if checked.problem is not None:
                self._settle(_refused(checked))
            else:
                self._settle(Settled(checked.line, checked.phone, WOULD_SEND, True))
            if count % _CHECKPOINT_EVERY == 0:
                await anyio.lowlevel.checkpoint()
                await self._report()
        answered = sum(b.count for b in self.journal.batches.values() if b.status == ANSWERED)
        if answered:
            self.notes.append(
                f"A journal of an earlier run of this upload exists: {answered} rows were already "
                "answered by Ameyo and will not be sent again."
            )

    async def _send_all(self, validator: Validator) -> None:
        batcher = Batcher(self.batch_size)
        workers = min(max(self.options.concurrency, 1), MAX_CONCURRENCY)
        # Room for one ready batch per worker: reading and checking go on while requests are out.
        send, receive = anyio.create_memory_object_stream[Batch](workers)
        async with anyio.create_task_group() as group:
            for _ in range(workers):
                group.start_soon(self._worker, receive.clone())
            receive.close()
            async with send:
                for count, row in enumerate(self.reader, start=1):
                    checked = validator.check(row)
                    if checked.problem is not None:
                        self._settle(_refused(checked))
                    else:
                        full = batcher.add(checked)
                        if full is not None:
                            await self._dispatch(full, send)
                    if count % _CHECKPOINT_EVERY == 0:
                        await anyio.lowlevel.checkpoint()
                for batch in batcher.rest():
                    await self._dispatch(batch, send)
        self._explain_outcomes()

    async def _dispatch(self, batch: Batch, send: anyio.abc.ObjectSendStream[Batch]) -> None:
        """Settle a batch from the journal when an earlier run sent it; queue it otherwise."""
        state = self.journal.batches.get(batch.id)
        if state is not None and (state.first, state.last, state.count) != (
            batch.first_line,
            batch.last_line,
            len(batch.rows),
        ):
            raise JournalMismatch(
                f"The journal {self.journal.path} does not match how the file splits into batches now "
                f"(batch {batch.id}: lines {state.first}-{state.last} then, {batch.first_line}-"
                f"{batch.last_line} now), so nothing more was sent. Was the phone length limit changed?"
            )
        if state is not None and state.status == ANSWERED:
            self._settle_answered(batch, self.journal.answered_rows(batch.id))
            await self._report()
            return
        if state is not None and state.status in (SENT, UNKNOWN) and not self.options.retry_unknown:
            reason = (
                "sent by an earlier run that ended before Ameyo answered: outcome unknown, not resent"
                if state.status == SENT
                else f"outcome unknown in an earlier run ({state.reason}); not resent"
            )
            for row in batch.rows:
                self._settle(Settled(row.line, row.phone, UNKNOWN_RESULT, False, reason=reason))
            return
        await send.send(batch)

    async def _worker(self, receive: anyio.abc.ObjectReceiveStream[Batch]) -> None:
        async with receive:
            async for batch in receive:
                if self.stop_reason is not None:
                    reason = f"not sent: the upload stopped after {self.stop_reason}"
                    for row in batch.rows:
                        self._settle(Settled(row.line, row.phone, NOT_SENT, False, reason=reason))
                else:
                    await self._send(batch)
                await self._report()

    async def _send(self, batch: Batch) -> None:
        first, last = batch.first_line, batch.last_line
        await self.journal.sent(batch.id, first, last, len(batch.rows))
        self._audit("intent", batch, records=len(batch.rows))
        retried = False
        while True:
            try:
                results = await self._command(batch)
                break
            except UpstreamUnavailable as exc:
                # Not even connected: Ameyo certainly did not run it, so one more try is safe.
                if exc.outcome_unknown or retried:
                    await self._batch_failed(batch, exc)
                    return
                retried = True
                await anyio.sleep(RETRY_DELAY_S)
            except AmeyoError as exc:
                await self._batch_failed(batch, exc)
                return
        zone = self.ameyo.settings.zone
        rows: list[JournalRow] = []
        settled: list[Settled] = []
        for index, row in enumerate(batch.rows):
            answer = results[index] if index < len(results) else None
            if answer is not None and type(answer) is RecordResult and answer.result_type in OK_RESULTS:
                # The common case, decided as `outcome` decides it, without its per-row text work.
                item = Settled(row.line, row.phone, answer.result_type, True, answer.customer_id)
            else:
                out = outcome(Checked(row.line, row.record), answer, zone)
                item = Settled(
                    row.line,
                    row.phone,
                    out.result,
                    out.ok,
                    out.customer_id,
                    out.reason,
                    out.callback_id,
                    out.callback_time,
                )
            settled.append(item)
            rows.append(_journal_row(item))
        await self.journal.answered(batch.id, first, last, rows)
        self._audit(
            "result",
            batch,
            outcome_unknown=False,
            counts=dict(Counter(item.result for item in settled)),
            customer_ids=[item.customer_id for item in settled if item.ok and item.customer_id is not None],
            failed_lines=[item.line for item in settled if not item.ok],
        )
        self.tally.sent_now += len(settled)
        for item in settled:
            self._settle(item)

    async def _command(self, batch: Batch) -> list[RecordResult]:
        options, campaign = self.options, self.target.campaign
        properties = {
            "update.customer": options.update_existing,
            "migrate.customer": options.migrate_existing,
        }
        if batch.kind == PLAIN:
            return await self.ameyo.upload_contacts(
                UploadContactsRequest(
                    campaign_id=str(campaign.campaign_id),
                    lead_id=self.target.lead_id,
                    properties=properties,
                    num_attempts=str(options.attempts),
                    status=self.status,
                    customer_records=[row.record for row in batch.rows],
                )
            )
        records = [
            CustomerAndCallback(customer_record=row.record, callback_record=row.callback)
            for row in batch.rows
            if row.callback is not None
        ]
        answers = await self.ameyo.upload_with_callbacks(
            UploadWithCallbacksRequest(
                campaign_id=campaign.campaign_id,
                lead_id=self.target.lead_id,
                records=records,
                properties=properties,
            )
        )
        found: list[RecordResult] = list(answers)
        return found

    async def _batch_failed(self, batch: Batch, exc: AmeyoError) -> None:
        reason = await self.ameyo.explain(exc, self.target.campaign)
        status = UNKNOWN if exc.outcome_unknown else FAILED
        await self.journal.ended(batch.id, status, batch.first_line, batch.last_line, len(batch.rows), reason)
        self._audit("error", batch, outcome_unknown=status == UNKNOWN, error=reason)
        result = UNKNOWN_RESULT if status == UNKNOWN else FAILED_RESULT
        tail = "" if status == UNKNOWN else " (Ameyo did not run it: the next run resends it)"
        for row in batch.rows:
            self._settle(Settled(row.line, row.phone, result, False, reason=reason + tail))
        if self.stop_reason is None:
            self.stop_reason = (
                f"batch {batch.id} (lines {batch.first_line}-{batch.last_line}) failed: {reason}"
            )

    def _audit(self, event: str, batch: Batch, **fields: object) -> None:
        if self.audit is not None:
            self.audit.write(
                event,
                tool="upload_file",
                file=str(self.path),
                campaign=self.target.campaign.campaign_id,
                lead=self.target.lead_id,
                batch=batch.id,
                lines=[batch.first_line, batch.last_line],
                **fields,
            )

    # -- accounting -------------------------------------------------------------------------

    def _settle(self, row: Settled) -> None:
        assert self.result is not None
        self.result.write(row)
        self.tally.add(row)

    def _settle_answered(self, batch: Batch, rows: list[JournalRow]) -> None:
        by_line = {int(r[0]): r for r in rows}
        for row in batch.rows:
            line, result, ok, customer_id, reason, callback_id, callback_time = by_line[row.line]
            self._settle(
                Settled(line, row.phone, result, bool(ok), customer_id, reason, callback_id, callback_time)
            )
        self.tally.from_earlier_runs += len(batch.rows)

    def _explain_outcomes(self) -> None:
        counts = self.tally.counts
        if self.tally.from_earlier_runs:
            self.notes.append(
                f"Resumed from the journal: {self.tally.from_earlier_runs} rows Ameyo answered in "
                "earlier runs were not sent again."
            )
        if counts[UNKNOWN_RESULT]:
            self.notes.append(
                f"{counts[UNKNOWN_RESULT]} rows are {UNKNOWN_RESULT}: their batch was sent but no answer "
                "came, so Ameyo may have saved them. They are NOT resent automatically: check a few "
                "with ameyo_get_contacts, then run again with retry_unknown=true (CLI: --retry-unknown) "
                "to resend them."
            )
        if self.stop_reason is not None:
            self.notes.append(f"Stopped sending after {self.stop_reason}.")
        if counts[NOT_SENT] or counts[FAILED_RESULT]:
            self.notes.append(
                f"{counts[NOT_SENT] + counts[FAILED_RESULT]} rows were not saved "
                f"({NOT_SENT}/{FAILED_RESULT}); run the same upload again to send them: it continues "
                "from the journal."
            )

    async def _report(self, *, final: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if not final and now - self._reported < 0.2:
            return
        self._reported = now
        done = self.tally.rows
        total = done if final else max(self.expected, done)
        verb = "checked" if self.options.dry_run else "settled"
        await self.progress(done, total, f"{done} of {total} rows {verb}")

    def summary(self, elapsed: float) -> BulkUploadOut:
        tally = self.tally
        notes = list(self.notes)
        if self.validator is not None:
            note = rewritten_note(
                self.validator.rewritten,
                self.validator.first_rewritten,
                self.validator.rule,
                dry_run=self.options.dry_run,
            )
            if note:
                notes.append(note)
        if not self.target.lead_enabled:
            notes.append(disabled_lead_note(self.target.lead_id))
        return BulkUploadOut(
            campaign=campaign_out(self.target.campaign),
            lead_id=self.target.lead_id,
            file=str(self.path),
            dry_run=self.options.dry_run,
            rows=tally.rows,
            ok=tally.ok,
            counts=dict(tally.counts.most_common()),
            sent_now=tally.sent_now,
            from_earlier_runs=tally.from_earlier_runs,
            outcome_unknown=tally.counts[UNKNOWN_RESULT],
            callbacks=tally.callbacks,
            failures=tally.failures,
            result_file=str(self.result_path),
            journal_file=None if self.options.dry_run else str(self.journal.path),
            notes=notes,
            elapsed_s=round(elapsed, 2),
        )


def _journal_row(row: Settled) -> JournalRow:
    return [row.line, row.result, row.ok, row.customer_id, row.reason, row.callback_id, row.callback_time]


def _refused(row: Prepared) -> Settled:
    return Settled(row.line, row.phone, REFUSED, False, reason=row.problem)
