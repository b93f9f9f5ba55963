"""The bulk upload: stream the file, check every row, send good rows in journaled batches.

One engine for the MCP tool and the CLI. The file is read once to hash it (the journal's key) and
once more to check and send; rows are never all in memory. Batches go out `concurrency` at a time.
A batch that fails as a whole is retried once only when Ameyo certainly did not run it (it could
not be reached); if it may have run, its rows are OUTCOME_UNKNOWN and the upload stops sending,
as it does after any whole-batch failure, so that a person can look before more is sent.

Whatever ends a run (an answer, an error, a file that cannot be written, the caller's
cancellation, a stop request) leaves every batch it sent answered or marked outcome-unknown in the
journal: that bookkeeping runs in shielded scopes, so cancellation cannot skip it.
"""

from __future__ import annotations

import time
from bisect import insort
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import anyio
import anyio.abc
import anyio.lowlevel

from ...ameyo.columns import attempts_of, id_of, status_of
from ...ameyo.customers import PRIMARY_COLUMN
from ...ameyo.models import RecordResult, campaign_label
from ...ameyo.result_types import DUPLICATE, SAVED, effect
from ...ameyo.service import Ameyo, UploadTarget
from ...answers.results import campaign_out
from ...answers.summaries import (
    NAMED_SHOWN,
    NamedById,
    assignee,
    customer_id_note,
    disabled_lead_note,
    known_customers_note,
    lookalikes_note,
    requeued_note,
    unknown_fields_note,
)
from ...errors import (
    AmeyoError,
    CallbackScheduled,
    CommandFailed,
    EarlierOutcomeUnknown,
    HeldBack,
    OutcomeUnknown,
    OutputError,
    RowsSent,
    UploadRefused,
    UploadStopped,
    UpstreamUnavailable,
    WriteError,
)
from ...index.held import NewestSeen
from ...rules.counts import agreeing, counted
from ...rules.sanitize import data_text
from ...rules.times import ago_text, show_wire
from .. import callback_rules, plans
from .. import path as writes
from ..outcome import FAILED as FAILED_RESULT
from ..outcome import NOT_SENT, REASON_CAP, SENT_EARLIER, WOULD_SEND, JournalRow, Outcome
from ..outcome import OUTCOME_UNKNOWN as UNKNOWN_RESULT
from ..records import held_numbers_note, lead_of, named_by_id, names_customer, outcome, rewritten_note
from .batches import CALLBACK, PLAIN, Batch, Batcher
from .earlier import HELD_CALLBACK_STEP, Earlier, sent_earlier_reason
from .journal import ANSWERED, FAILED, SENT, UNKNOWN, Journal, upload_key
from .limits import MAX_BATCH, MAX_CONCURRENCY
from .meant import meant_columns, meant_columns_note
from .options import BulkOptions
from .outputs import (
    CHECK_SUFFIX,
    JOURNAL_SUFFIX,
    LEAD_PART,
    RESULT_SUFFIX,
    beside,
    check_outputs,
    written_by_upload,
)
from .reader import FileFacts, RowReader, file_facts
from .report import BulkUploadOut, ResultFile, Tally
from .spellings import Spellings
from .validate import CALLBACK_COLUMNS, Prepared, Validator

RETRY_DELAY_S = 1.0
# Batches in hand per request in flight (see `_send_all`).
_IN_HAND = 3
_CHECKPOINT_EVERY = 256
SAVED_EARLIER = "already in the campaign: saved by the earlier run whose answer was lost (or before it)"
MAY_DUPLICATE = "resent after an unknown outcome, as asked: its callback may now be scheduled twice"
_LINES_SHOWN = 30
# Rows a dry run names whose number a customer's phone1 only ends with.
_LOOKALIKES_SHOWN = 5


def _lines_said(lines: Sequence[int], total: int) -> str:
    """The first lines of `total` rows, and how many more."""
    more = f" and {total - len(lines)} more" if total > len(lines) else ""
    return ", ".join(map(str, lines)) + more


# How a file upload's answers name the person's yes to a callback despite do-not-call.
_DESPITE_DNC = "despite_do_not_call=true (CLI: --despite-do-not-call)"
_CALLBACKS_SHOWN = 10
_EARLIER_NOTES = 5

Progress = Callable[[int, int | None, str], Awaitable[None]]


def result_path_for(path: Path, options: BulkOptions) -> Path:
    """Where a run's per-row outcomes go: as given, else beside the file and named for its lead
    (the same file sent to two leads has two results, neither replacing the other)."""
    suffix = CHECK_SUFFIX if options.dry_run else RESULT_SUFFIX
    return beside(path, options.result_path, f"{LEAD_PART.format(options.lead_id)}{suffix}")


def journal_path_for(path: Path, options: BulkOptions) -> Path:
    return beside(path, options.journal_path, JOURNAL_SUFFIX)


@dataclass
class _Sent:
    """What this run has sent, for the account of a run that ends early."""

    requests: int = 0
    rows: int = 0
    answered: int = 0
    unknown: int = 0
    journal: Path | None = None  # once this run holds it

    def account(self) -> str:
        if not self.requests:
            return "Nothing was sent in this run."
        return (
            f"Sent in this run: {counted(self.rows, 'row')} in {counted(self.requests, 'request')}; Ameyo "
            f"answered {self.answered:,} of them, {self.unknown:,} {agreeing(self.unknown, 'has', 'have')} "
            f"an unknown outcome. The journal {self.journal} "
            "records each batch: run the same upload again to continue."
        )


async def upload_file(
    path_of_writes: writes.WritePath,
    path: Path,
    options: BulkOptions,
    progress: Progress | None = None,
    stop: anyio.Event | None = None,
    ask: writes.Ask | None = None,
) -> BulkUploadOut:
    """Check and send `path`, every batch through the write path. Raises UploadRefused (nothing
    sent), FileFormatError, WriteError (confirmation refused, audit unwritable: nothing sent), or
    UploadStopped when a file cannot be written or `stop` is set (batches in flight are then marked
    unknown)."""
    sent = _Sent()
    if stop is None:
        return await _upload(path_of_writes, path, options, progress, sent, ask)
    done: list[BulkUploadOut] = []
    failed: list[Exception] = []

    async def watch(scope: anyio.CancelScope) -> None:
        await stop.wait()
        scope.cancel()

    # The run is the host of this group, so its own exceptions are caught here and not wrapped.
    async with anyio.create_task_group() as group:
        group.start_soon(watch, group.cancel_scope)
        try:
            done.append(await _upload(path_of_writes, path, options, progress, sent, ask))
        except Exception as exc:
            failed.append(exc)
        group.cancel_scope.cancel()
    if failed:
        raise failed[0]
    if not done:
        raise UploadStopped("stopped on request", sent.account(), requested=True)
    return done[0]


async def _upload(
    path_of_writes: writes.WritePath,
    path: Path,
    options: BulkOptions,
    progress: Progress | None,
    sent: _Sent,
    ask: writes.Ask | None,
) -> BulkUploadOut:
    started = time.monotonic()
    ameyo = path_of_writes.ameyo
    if options.resend_callbacks_may_duplicate and not options.retry_unknown:
        raise UploadRefused(
            "resend_callbacks_may_duplicate (--resend-callbacks-may-duplicate) only applies together "
            "with retry_unknown (--retry-unknown); nothing was sent."
        )
    if written_by_upload(path):
        raise UploadRefused(
            f"{path.name} is a file an upload wrote (its answer for each row), not a contact file; "
            "nothing was sent. Upload the contact file it answers instead."
        )
    # A misspelt status or an impossible count or lead id is refused before anything, a dry run too.
    status_of(options.status)
    attempts_of(options.attempts)
    id_of(options.lead_id)
    result_path, journal_path = result_path_for(path, options), journal_path_for(path, options)
    check_outputs(path, result_path, journal_path)
    journal = Journal(journal_path)
    try:
        if not options.dry_run:
            journal.lock()  # before anything else: a second run is refused before it even logs in
            sent.journal = journal.path
        try:
            target = await ameyo.upload_target(options.campaign, options.lead_id)
            facts = await anyio.to_thread.run_sync(file_facts, path)
            server, campaign_id = ameyo.settings.base_url, target.campaign.campaign_id
            how = (
                f"update={options.update_existing}|migrate={options.migrate_existing}|"
                f"status={status_of(options.status)}|attempts={options.attempts}"
            )
            journal.load(
                upload_key(facts.sha256, server, campaign_id, target.lead_id, how), strict=not options.dry_run
            )
            run = _Run(path_of_writes, path, options, target, facts, journal, progress, sent, ask)
            run.result_path = result_path
            await run.go()
        finally:
            journal.close()
    except OutputError as exc:
        raise UploadStopped(str(exc), sent.account()) from None
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
        path_of_writes: writes.WritePath,
        path: Path,
        options: BulkOptions,
        target: UploadTarget,
        facts: FileFacts,
        journal: Journal,
        progress: Progress | None,
        sent: _Sent,
        ask: writes.Ask | None,
    ) -> None:
        self.writes = path_of_writes
        self.ameyo: Ameyo = path_of_writes.ameyo
        self.ask = ask
        self.approval: plans.Approval | None = None
        self.path = path
        self.options = options
        self.target = target
        self.journal = journal
        self.progress = progress
        self.sent = sent
        self.reader = RowReader(path, options.column_map)
        self.expected = max(facts.lines - (0 if self.reader.json_lines else 1), 0)
        self.facts = facts
        self.tally = Tally()
        # How the rows sent (or, in a dry run, to send) spelt phone1, for the notes (`_tell_spellings`).
        self.spelt = Spellings()
        zone = self.ameyo.settings.zone
        self.earlier = Earlier(
            journal, options, self.tally, target.lead_id, path_of_writes.clock, self.spelt, zone
        )
        self.notes: list[str] = []
        self.result_path = result_path_for(path, options)
        self.result: ResultFile | None = None
        self.stop_reason: str | None = None
        self.validator: Validator | None = None
        # The first error that ends the run (a file not written, a journal not matching); the
        # batches already out are still answered and journaled before it is raised.
        self.failure: Exception | None = None
        self.requeued = 0  # customers updated with the upload's status and attempts (plain batches)
        self.resent_callbacks: list[int] = []
        # A dry run's rows to send whose numbers the campaign's index holds, and when it was synced.
        self.known = 0
        self.synced: datetime | None = None
        # A dry run's first rows whose number a customer's phone1 only ends with (`lookalikes_note`):
        # line, phone1 as sent, the customer's id and phone1.
        self.lookalikes: list[tuple[int, str, int, object]] = []
        # The first callbacks a dry run would schedule, as its answer lists them.
        self.first_callbacks: list[str] = []
        # Whether the rows may give a customer id among their fields (a column, or JSON lines' keys),
        # the first rows by line that do, to send or sent, and how many do (`customer_id_note`).
        self.ids_given = False
        self.named: list[NamedById] = []
        self.named_rows = 0
        # Good rows that may have a customer dialled (`_dials`), waiting to be judged against
        # their customers' last disposition a batch at a time (`_judged`): one look-up for a
        # batch's worth, never one a row.
        self.dialling_rows: list[Prepared] = []
        # Whether the campaign had a synced index when the run began: plain adds are judged only then.
        self.indexed = False
        # The lead a migrate moves the rows' existing customers into, back in the dialler's queue
        # (`callback_rules.moved_into`; None: no row moves anyone).
        self.moves_into = callback_rules.moved_into(target, options.migrate_existing)
        # Whether a row judged so far has a callback, for the notes' words (`_dialling`).
        self.judged_callbacks = False
        # The newest contacts this run has read for them (customers added since the index's sync):
        # read again every few seconds, not for every batch (`NewestSeen`).
        self.newest = NewestSeen(self.ameyo.settings.phone_region, path_of_writes.clock)
        # Such rows that dial their customer whom no index could find (the campaign has none synced).
        self.unchecked_dialling = 0
        # Such rows let through by a check that did not read some of the customers added since the
        # sync (`index.added.left_unread`, or Ameyo not answering): by which (`DoNotCall.beyond`),
        # how many, and how many of them plain adds.
        self.beyond_dialling: dict[str, tuple[int, int]] = {}
        # Such rows to a do-not-call customer, let through as the person confirmed: how
        # many (and how many of them plain adds), the first lines and the first customer, for the
        # note (a whole file may be theirs).
        self.despite = 0
        self.despite_added = 0
        self.despite_lines: list[int] = []
        self.despite_example = ""
        # Lines of such rows held back because their customer's disposition was not read (and how
        # many of them plain adds): the note names the way through, which a row's cut reason may lose.
        self.unread_lines: list[int] = []
        self.unread_added = 0
        # Lines of such rows held back because their move would put a do-not-call customer back in
        # the dialler's queue (`DoNotCall.moves`), the first of them and how many: the note names
        # the way through, as for those.
        self.moved_lines: list[int] = []
        self.moved = 0
        self.batch_size = min(max(options.batch_size, 1), MAX_BATCH)
        # Requests in flight: a batch holds a place while its request is out (`_window`).
        self.concurrency = min(max(options.concurrency, 1), MAX_CONCURRENCY)
        self.wire = anyio.Semaphore(self.concurrency)
        self.status = status_of(options.status)
        self._reported = 0.0

    # -- the run ----------------------------------------------------------------------------

    async def go(self) -> None:
        # Each run judges the rows' times by its own clock, a dry run too: a callback time that has
        # passed since an earlier run is not sent, and a refusal's "it is now" is this run's. Rows
        # whose refusal changed since then fall outside the batches the journal holds, and are
        # judged one by one against it (`Earlier.by_rows`, `Earlier.refused`).
        now = datetime.fromtimestamp(self.writes.clock(), self.ameyo.settings.zone).replace(microsecond=0)
        if self.journal.start is not None:
            size = int(self.journal.start["batch_size"])
            if size != self.batch_size and not self.options.dry_run:
                self.notes.append(f"Resumed with the first run's batch size {size}.")
            self.batch_size = size
        if self.journal.torn:
            self.notes.append(
                f"The journal's line about batch {', '.join(dict.fromkeys(self.journal.torn))} was cut "
                "short (a crash or a full disk): counted as sent, with an unknown outcome."
            )
        validator = Validator(
            max_phone_length=self.target.max_phone_length,
            zone=self.ameyo.settings.zone,
            now=now,
            status=self.status,
            rule=self.ameyo.settings.phone_rule,
            callbacks=self.reader.json_lines or any(c in CALLBACK_COLUMNS for c in self.reader.header()),
            calling_hours=None if self.options.outside_calling_hours else self.ameyo.settings.calling_hours,
        )
        if self.reader.json_lines:
            validator.fields = set()
        self.validator = validator
        # (The header was read just above; JSON lines name their fields row by row.)
        self.ids_given = self.reader.json_lines or any(map(names_customer, self.reader.columns))
        if not self.options.dry_run:
            left, target = self._left(), self.target
            self.approval = await self.writes.approve(
                records=left,
                identity=self.identity(),
                label=f"about {plans.upload_label(left, target.lead_id, target.campaign)} from "
                f"{self.path.name}",
                token=self.options.confirm_token,
                ask=self.ask,
            )
            # The yes (or the token) is for the rows the file held when it was asked for: a file
            # replaced or edited meanwhile is not those rows.
            now_facts = await anyio.to_thread.run_sync(file_facts, self.path)
            if now_facts.sha256 != self.facts.sha256:
                raise UploadRefused(
                    f"Nothing was sent: {self.path.name} changed after it was read for the confirmation "
                    f"({counted(self.facts.lines, 'line')} then, {now_facts.lines:,} now), so the rows "
                    "confirmed are not "
                    "the rows in it. Run the dry run again and ask the person about the file as it is now."
                )
            if self.journal.start is None:
                await self.journal.begin(
                    {
                        "file": self.facts.sha256,
                        "campaign": self.target.campaign.campaign_id,
                        "lead": self.target.lead_id,
                        "batch_size": self.batch_size,
                    }
                )
        # Whether the campaign has an index to judge plain adds by (`_dials`), the newest read.
        self.indexed = await self.writes.newest_before_run(self.target.campaign.campaign_id, self.newest)
        self.result = ResultFile(self.result_path)
        try:
            if self.options.dry_run:
                await self._check_only(validator)
            else:
                await self._send_all(validator)
        except BaseException:
            with suppress(OutputError):  # the error on its way out says more than this one
                self.result.close()
            raise
        self.result.close()
        self._say_do_not_call()
        await self._say_odd_columns()
        if self.named:
            self.notes.append(
                customer_id_note(
                    self.named,
                    dry_run=self.options.dry_run,
                    total=self.named_rows,
                    what="line",
                    update="update_existing=true (--update)",
                )
            )
        if validator.agents and (self.options.dry_run or self.tally.sent_now):
            self.notes += await self.writes.unknown_agents_note(sorted(validator.agents))
        await self._report(final=True)

    async def _say_odd_columns(self) -> None:
        """The file's columns that look like a callback column they are not (`meant_columns`), and
        those that none of the campaign's customers has (`unknown_fields_note`)."""
        rows = self.validator.fields if self.validator is not None else None
        columns = sorted(rows) if rows is not None else self.reader.columns
        if rows is not None and self.validator is not None:
            given: Collection[str] = self.validator.callback_columns
        else:
            given = [c for c in columns if c in CALLBACK_COLUMNS]
        columns = [c for c in columns if c not in CALLBACK_COLUMNS]
        if not columns or not (self.options.dry_run or self.tally.sent_now):
            return
        synced_at, known = await self.writes.customer_fields(self.target.campaign.campaign_id)
        meant = meant_columns(columns, given, known)
        if meant:
            # Named as the header has them: a column the map renamed is mapped from its own name.
            header = {new: old for old, new in self.options.column_map.items()}
            said = meant_columns_note([(header.get(c, c), m) for c, m in meant], dry_run=self.options.dry_run)
            self.notes += [said] if said else []
            columns = [c for c in columns if c not in dict(meant)]
        # A customer id is told apart (`customer_id_note`): renaming it would not make it choose one.
        columns = [c for c in columns if not names_customer(c)]
        if not known or not columns:
            return
        from ...index.sync import age_text  # loaded with the store, which the write path opened

        said = unknown_fields_note(
            columns, known, age_text(synced_at), dry_run=self.options.dry_run, what="column"
        )
        if said:
            self.notes.append(said)

    def _left(self) -> int:
        """The rows a real run would send: the file's rows less those answered by earlier runs and
        those whose outcome an earlier run never learnt (not resent without retry_unknown). An
        estimate made before the rows are read, the same for a dry run and a real one."""
        settled = {ANSWERED} if self.options.retry_unknown else {ANSWERED, SENT, UNKNOWN}
        done = sum(b.count for b in self.journal.batches.values() if b.status in settled)
        return max(self.expected - done, 0)

    def identity(self) -> str:
        """The whole upload as a write: this file's content to this target with these options, so
        a dry run's confirmation token fits exactly the real run of the same upload."""
        options = self.options
        shape = (
            self.facts.sha256,
            self.ameyo.settings.base_url,
            self.target.campaign.campaign_id,
            self.target.lead_id,
            sorted(options.column_map.items()),
            self.status,
            options.attempts,
            options.update_existing,
            options.migrate_existing,
            options.outside_calling_hours,
            options.despite_do_not_call,
        )
        return "upload-file:" + repr(shape)

    async def _check_only(self, validator: Validator) -> None:
        # The rows batched as a real run batches them, each batch judged by the journal as a real
        # run judges it: answered by an earlier run (not sent again), sent without learning the
        # outcome (not resent without retry_unknown), or to send.
        batcher = Batcher(self.batch_size)
        for count, row in enumerate(self.reader, start=1):
            checked = validator.check(row)
            if checked.problem is not None:
                self._settle(self.earlier.refused(checked))
            elif not self._dials(checked):
                if (full := batcher.add(checked)) is not None:
                    await self._check_batch(full)
            else:
                for full in await self._judged(batcher, checked):
                    await self._check_batch(full)
            if count % _CHECKPOINT_EVERY == 0:
                await anyio.lowlevel.checkpoint()
                await self._report()
        for batch in await self._rest(batcher):
            await self._check_batch(batch)
        self.notes += self.earlier.dry_run_notes()
        answered = self.tally.from_earlier_runs
        if answered:
            self.notes.append(
                f"A journal of an earlier run of this upload exists: {counted(answered, 'row')} "
                f"{agreeing(answered, 'was', 'were')} already answered by Ameyo and will not be sent again."
            )
        if self.known and self.synced is not None:
            from ...index.sync import age_text  # loaded with the store, which the write path opened

            options = self.options
            self.notes.append(
                known_customers_note(
                    self.known,
                    age_text(self.synced),
                    self.target,
                    update=options.update_existing,
                    migrate=options.migrate_existing,
                    flags=("update_existing=true (--update)", "migrate_existing=true (--migrate)"),
                )
            )
        if self.lookalikes:
            self.notes.append(lookalikes_note(self.lookalikes, what="line"))

    def _dials(self, row: Prepared) -> bool:
        """Whether the row is judged against do-not-call before it is sent (`_judged`): one that
        dials its customer (`_dials_its_customer`), and a plain add when the campaign has an index
        to find customers by: Ameyo adds it as a new customer, NOT_TRIED, unless its phone1 is a
        customer's, and the dialler rings whoever else holds its numbers (`callback_rules.dials`).
        Without an index nothing could be found: a plain file's rows go as they are read."""
        return self.indexed or self._dials_its_customer(row)

    def _dials_its_customer(self, row: Prepared) -> bool:
        """Whether sending the row may have its customer dialled: a callback, an update, which gives
        an existing customer the upload's status and attempts (Ameyo dials them again as if new), or
        a migrate into an enabled lead, which puts them back in the dialler's queue (`moves_into`)."""
        return row.callback is not None or self.options.update_existing or self.moves_into is not None

    def _dialling(self, added: int = 0, of: int = 0) -> str:
        """Rows `_dials` judges, in the notes' words ("rows …"): `added` plain adds of `of`."""
        if self.options.update_existing:  # (every row updates its customer, or is added)
            return "to update or call back"
        if self.moves_into is not None:  # (every row moves its customer, or is added)
            return "to move, add or call back" if self.judged_callbacks else "to move or add"
        return "with a callback" if not added else "to add" if added == of else "to add or call back"

    def _dialling_whom(self, added: int, of: int) -> str:
        """The same, before their customer ("rows … a customer whose …")."""
        rows = self._dialling(added, of)
        if self.options.update_existing:
            return rows
        if self.moves_into is not None:
            return f"to move{' or call back' if self.judged_callbacks else ''} (or add on the line of)"
        return f"{rows} on the line of" if added else f"{rows} to"

    async def _judged(self, batcher: Batcher, row: Prepared) -> list[Batch]:
        """Place a good row that may have a customer dialled (`_dials`): held until a batch's worth of them
        is judged at once against their customers' last disposition (`_do_not_call`), then those
        that pass are batched; the batches they complete. A dry run and a real run judge alike, so
        that the dry run refuses the rows the run will."""
        self.dialling_rows.append(row)
        if len(self.dialling_rows) < self.batch_size:
            return []
        return await self._do_not_call(batcher)

    async def _rest(self, batcher: Batcher) -> list[Batch]:
        """The batches left at the end of the file, the rows still held (`_judged`) judged first."""
        full = await self._do_not_call(batcher) if self.dialling_rows else []
        return [*full, *batcher.rest()]

    async def _do_not_call(self, batcher: Batcher) -> list[Batch]:
        """The held rows that may have a customer dialled, judged as `ameyo_add_callback` judges a
        callback: a callback to (or an update of) a customer whose last disposition is do-not-call
        (the campaign's index finds them by phone1 or the number the callback dials, read live), a
        migrate that moves such a customer into this enabled lead, a new customer added on such a
        customer's line, or one whose disposition could not be
        read, is refused unless the person confirmed it (despite_do_not_call). A customer the index
        does not know goes unchecked, and the run says so of the rows that dial their customer when
        it has no index at all."""
        rows, self.dialling_rows = self.dialling_rows, []
        update = self.options.update_existing
        self.judged_callbacks = self.judged_callbacks or any(r.callback is not None for r in rows)
        # Each row as it goes out: a number an earlier upload sent goes in that spelling (the
        # claim's, `_respelt`), which Ameyo matches as the records tools' checks judge theirs.
        going = self._spelt_as_held(Batch("", PLAIN, rows), await self._sent_spellings(rows)) or rows
        check = await self.writes.do_not_call(
            self.target.campaign.campaign_id,
            {
                i: callback_rules.dials(
                    r.record,
                    r.callback.call_back_phone if r.callback else None,
                    calls_back=r.callback is not None,
                    updates=update,
                    moves_into=self.moves_into,
                )
                for i, r in enumerate(going)
            },
            self.newest,
        )
        if not check.indexed:
            self.unchecked_dialling += sum(map(self._dials_its_customer, rows))
        passed = [row for position, row in enumerate(rows) if check.said(position) is None]
        if check.beyond and passed:
            before, added = self.beyond_dialling.get(check.beyond, (0, 0))
            plain = sum(not self._dials_its_customer(row) for row in passed)
            self.beyond_dialling[check.beyond] = (before + len(passed), added + plain)
        full: list[Batch] = []
        for position, row in enumerate(rows):
            said = check.said(position)
            if said is not None:
                added = not self._dials_its_customer(row)
                if not self.options.despite_do_not_call:
                    row.problem = check.problem(position, _DESPITE_DNC, REASON_CAP)
                    if position in check.unread:
                        self.unread_lines.append(row.line)
                        self.unread_added += added
                    elif position in check.moves:
                        self.moved += 1
                        if len(self.moved_lines) < _LINES_SHOWN:
                            self.moved_lines.append(row.line)
                    self._settle(self.earlier.refused(row))
                    continue
                self.despite += 1
                self.despite_added += added
                if len(self.despite_lines) < _LINES_SHOWN:
                    self.despite_lines.append(row.line)
                self.despite_example = self.despite_example or said
            # The spelling the check read is the one the row goes out in (`_indexed_spellings`).
            row.held_as = (
                check.held.get(position, "") if check.indexed and position not in check.unread else None
            )
            if (batch := batcher.add(row)) is not None:
                full.append(batch)
        return full

    async def _sent_spellings(self, rows: Sequence[Prepared]) -> Mapping[str, str]:
        """phone1 by identity as earlier uploads sent the rows' numbers (`WritePath.sent_spellings`),
        or nothing when the ledger cannot say: the claim that reads it again refuses to send then."""
        try:
            return await self.writes.sent_spellings(self.target.campaign.campaign_id, self._numbers(rows))
        except WriteError:
            return {}

    def _say_do_not_call(self) -> None:
        """What the rows judged against do-not-call (`_dials`) were not checked against, or were
        held back for or let through despite."""
        if self.unchecked_dialling:
            from ...index.lookup import sync_advice  # loaded with the store, which the write path opened

            self.notes.append(
                f"Note: whether the customers of {counted(self.unchecked_dialling, 'row')} "
                f"{self._dialling()} asked not to be called (their last disposition) was not checked: "
                f"{campaign_label(self.target.campaign)} has no contacts index to find them by number "
                f"({sync_advice(self.ameyo.settings)})."
            )
        for beyond, (rows, added) in self.beyond_dialling.items():
            from ...index.lookup import beyond_note

            what = f"{counted(rows, 'row')} {self._dialling(added, rows)} {agreeing(rows, 'was', 'were')}"
            self.notes.append(beyond_note(what, beyond, self.ameyo.settings))
        if self.unread_lines:
            unread = len(self.unread_lines)
            self.notes.append(
                f"Note: {counted(unread, 'row')} {self._dialling(self.unread_added, unread)} (lines "
                f"{_lines_said(self.unread_lines[:_LINES_SHOWN], unread)}) "
                f"{agreeing(unread, 'was', 'were')} held back: "
                f"{callback_rules.UNREAD_SAID}. Run it again later, or with {_DESPITE_DNC} if the person "
                "confirms they may be called."
            )
        if self.moved:
            moved = self.moved
            self.notes.append(
                f"Note: {counted(moved, 'row')} (lines {_lines_said(self.moved_lines, moved)}) "
                f"{agreeing(moved, 'was', 'were')} held back: each would move a customer whose last "
                f"disposition is do-not-call into lead {self.moves_into}, back in the dialler's queue. Ask "
                f"the person, and run it again with {_DESPITE_DNC} only if they asked to be called."
            )
        if self.despite:
            self.notes.append(
                f"Note: {counted(self.despite, 'row')} "
                f"{self._dialling_whom(self.despite_added, self.despite)} a customer whose last "
                "disposition is do-not-call or could not be read (lines "
                f"{_lines_said(self.despite_lines, self.despite)}; e.g. "
                f"{self.despite_example}) "
                f"{agreeing(self.despite, 'is', 'are')} not refused, as the person confirmed."
            )

    async def _check_batch(self, batch: Batch) -> None:
        """A dry run's batch: what a real run would do with it (see `_dispatch`, and the write
        path's claim: rows an earlier upload of another file, a copy, already sent are not sent)."""
        state = self.earlier.as_journaled(batch)
        if state is None or state.status == FAILED:
            settled, parts, held_back = self.earlier.by_rows(batch, dry=True)
            self._settle_all(settled)
            await self._hold_back(batch, held_back)
            for part in parts:
                await self._check_to_send(part)
        elif state.status == ANSWERED:
            self._settle_answered(batch, self.journal.answered_rows(batch.id))
        elif not await self._answered_in_ledger(batch):
            held = self.earlier.held_back(batch.kind, len(batch.rows), state.status, state.reason)
            if held is None:
                batch.resend = True
                await self._check_to_send(batch)
                return
            self.earlier.unknown_in_journal += len(batch.rows)
            await self._hold_back(batch, [(row, held) for row in batch.rows])

    async def _check_to_send(self, batch: Batch) -> None:
        """A dry run's batch that a real run would send: what the write path would do with it."""
        write = self._plan(batch, batch.rows)
        earlier = await self.writes.standing(write)
        if earlier is None:
            # (A batch resent after an unknown outcome is sent with allow_repeat, past the ledger.)
            dials = batch.kind == CALLBACK and not batch.resend
            holding = await self.writes.held_callbacks(write) if dials else {}
            aside = self.earlier.aside(batch, write, await self.writes.rows_held(write), holding)
            if aside:
                rest = self._split(batch, aside)
                if rest is None:
                    return
                batch = rest
        if earlier is not None and earlier.state == "answered":
            seconds = self.writes.clock() - (earlier.settled_at or 0)
            reason = sent_earlier_reason(earlier.context or {}, seconds)
            self._settle_all(await self._told_sent_earlier(batch, reason, seconds))
        elif earlier is not None and earlier.state == "unknown" and not batch.resend:
            self._settle_all(list(self.earlier.same_write_unknown(batch, earlier).values()))
        else:
            # In the spelling its run would send: Ameyo's for numbers it already holds otherwise, as
            # earlier uploads sent them (`WritePath.spellings`), else as the index holds them.
            sent = await self.writes.sent_spellings(
                self.target.campaign.campaign_id, self._numbers(batch.rows)
            )
            held = {
                **await self._indexed_spellings([r for r in batch.rows if r.identity not in sent]),
                **sent,
            }
            self._spelt_as_held(batch, held)
            zone = self.ameyo.settings.zone
            for row in batch.rows:
                # The callback it would schedule, in the check file and counted as the run's would be,
                # its time named as the result file names it: the person confirms "3 pm" in which zone.
                at, phone = None, batch.phone_of(row)
                if row.callback is not None:
                    at = show_wire(row.callback.call_back_time, zone)
                    if len(self.first_callbacks) < _CALLBACKS_SHOWN:
                        agent = data_text(row.callback.user_id, 64) if row.callback.user_id else None
                        self.first_callbacks.append(
                            f"line {row.line}: {phone} at {at}, assigned to {assignee(agent, None)}"
                        )
                self._settle(Outcome(row.line, phone, WOULD_SEND, True, callback_time=at))
            self._tell_spellings(batch.rows, batch.sent_as)
            self._name_by_id(batch.rows)
            numbers = [row.record[PRIMARY_COLUMN] for row in batch.rows]
            synced, known = await self.writes.indexed(self.target.campaign.campaign_id, numbers)
            self.known += known
            self.synced = synced or self.synced
            if synced is not None and len(self.lookalikes) < _LOOKALIKES_SHOWN:
                for i, contact in await self.writes.lookalikes(self.target.campaign.campaign_id, numbers):
                    row = batch.rows[i]
                    stored = contact.customer_data.get(PRIMARY_COLUMN)
                    self.lookalikes.append((row.line, batch.phone_of(row) or "", contact.customer_id, stored))
                del self.lookalikes[_LOOKALIKES_SHOWN:]

    async def _send_all(self, validator: Validator) -> None:
        batcher = Batcher(self.batch_size)
        # Requests in flight are `concurrency`; more batches than that are in hand, so that while
        # those are out, the next ones are journaled and claimed and the answered ones settled
        # (each a disk flush or a database commit in a worker thread, which waits for the
        # interpreter while the rows are checked): the requests then follow each other as closely
        # as a bare loop's.
        # One request at a time stays one batch at a time, in file order, as asked.
        workers = self.concurrency * _IN_HAND if self.concurrency > 1 else 1
        # Room for one ready batch per worker: reading and checking go on while requests are out.
        send, receive = anyio.create_memory_object_stream[Batch](workers)
        async with anyio.create_task_group() as group:
            for _ in range(workers):
                group.start_soon(self._worker, receive.clone())
            receive.close()
            async with send:
                try:
                    for count, row in enumerate(self.reader, start=1):
                        checked = validator.check(row)
                        if checked.problem is not None:
                            self._settle(self.earlier.refused(checked))
                        elif not self._dials(checked):
                            full = batcher.add(checked)
                            if full is not None:
                                await self._dispatch(full, send)
                        else:
                            for full in await self._judged(batcher, checked):
                                await self._dispatch(full, send)
                        if count % _CHECKPOINT_EVERY == 0:
                            if self.failure is not None:
                                break
                            await anyio.lowlevel.checkpoint()
                    else:
                        for batch in await self._rest(batcher):
                            await self._dispatch(batch, send)
                except OutputError as exc:
                    self._fail(exc)
        if self.failure is not None:
            raise self.failure
        self._explain_outcomes()

    def _fail(self, exc: Exception) -> None:
        """Stop sending more; the batches already out still finish and are journaled."""
        if self.failure is None:
            self.failure = exc

    async def _dispatch(self, batch: Batch, send: anyio.abc.ObjectSendStream[Batch]) -> None:
        """Settle a batch from the journal when an earlier run sent it; queue it otherwise."""
        if self.failure is not None:
            return
        state = self.earlier.as_journaled(batch)
        if state is None or state.status == FAILED:
            settled, parts, held_back = self.earlier.by_rows(batch, dry=False)
            self._settle_all(settled)
            await self._hold_back(batch, held_back)
            for part in parts:
                await send.send(part)
            await self._report()
            return
        if state.status == ANSWERED:
            self._settle_answered(batch, self.journal.answered_rows(batch.id))
            await self._report()
            return
        if await self._answered_in_ledger(batch):
            await self._report()
            return
        held = self.earlier.held_back(batch.kind, len(batch.rows), state.status, state.reason)
        if held is not None:
            await self._hold_back(batch, [(row, held) for row in batch.rows])
            return
        batch.resend = True
        await send.send(batch)

    async def _answered_in_ledger(self, batch: Batch) -> bool:
        """A batch the journal holds sent and unanswered that the write ledger holds answered (the
        journal's answer line, written after the ledger's commit, lost with a power cut): its
        rows settled as sent earlier (`_told_sent_earlier`: those its answer left out, unknown),
        not resent. False when the ledger does
        not hold it answered, or cannot say (the batch is then judged by the journal alone)."""
        try:
            entry = await self.writes.standing(self._plan(batch, batch.rows))
        except WriteError:
            return False
        if entry is None or entry.state != "answered":
            return False
        seconds = self.writes.clock() - (entry.settled_at or 0)
        reason = sent_earlier_reason(entry.context or {}, seconds)
        settled = await self._told_sent_earlier(batch, reason, seconds)
        if not self.options.dry_run:
            await self.journal.answered(
                batch.id, batch.first_line, batch.last_line, [item.journal_row() for item in settled]
            )
        self._settle_all(settled)
        return True

    async def _hold_back(self, batch: Batch, held: Sequence[tuple[Prepared, str]]) -> None:
        """Rows of `batch` an earlier run sent without learning the outcome, not resent (each with
        why): told, and counted for the notes, in the spelling that went out, which the file may
        not hold (`_respelt`) but the ledger does, kept by the claim of the batch that sent it."""
        if not held:
            return
        part = Batch(batch.id, batch.kind, [row for row, _ in held])
        numbers = self._numbers(part.rows)
        with suppress(WriteError):  # a ledger that cannot say: as the file spells them
            self._spelt_as_held(
                part, await self.writes.sent_spellings(self.target.campaign.campaign_id, numbers)
            )
        self._settle_all(
            [Outcome(row.line, part.phone_of(row), UNKNOWN_RESULT, False, reason=why) for row, why in held]
        )
        self._tell_spellings(part.rows, part.sent_as)

    def _split(self, batch: Batch, aside: Mapping[int, Outcome]) -> Batch | None:
        """Settle the rows set aside; the batch's others as a batch of their own (None: none left)."""
        self._settle_all(list(aside.values()))
        fresh = [row for row in batch.rows if row.line not in aside]
        return Batch(self.earlier.new_id(batch.id), batch.kind, fresh, resend=batch.resend) if fresh else None

    async def _put_aside(self, batch: Batch, aside: Mapping[int, Outcome]) -> Batch | None:
        """A real run's batch some rows of which are set aside: those settled and, when done
        (SENT_EARLIER), journaled as its answer (one not sent is judged again by each run), the
        batch closed; its other rows, to send as a batch of their own."""
        rest = self._split(batch, aside)
        self.sent.requests -= 1  # nothing went out for it
        self.sent.rows -= len(batch.rows)
        first, last = batch.first_line, batch.last_line
        done = [item.journal_row() for item in aside.values() if item.result == SENT_EARLIER]
        if done:
            await self.journal.answered(batch.id, first, last, done)
        else:
            await self.journal.ended(batch.id, FAILED, first, last, len(batch.rows), "its rows set aside")
        return rest

    async def _worker(self, receive: anyio.abc.ObjectReceiveStream[Batch]) -> None:
        async with receive:
            async for batch in receive:
                if self.failure is not None:
                    continue  # the run is ending: what is queued is not sent
                try:
                    if self.stop_reason is not None:
                        reason = f"not sent: the upload stopped after {self.stop_reason}"
                        for row in batch.rows:
                            self._settle(Outcome(row.line, row.phone, NOT_SENT, False, reason=reason))
                        self._tell_spellings(batch.rows, {})
                    else:
                        await self._send(batch)
                except OutputError as exc:
                    self._fail(exc)
                await self._report()

    async def _send(self, batch: Batch) -> None:
        # Shielded, so that a cancellation lands after the line is down, where it is marked below.
        with anyio.CancelScope(shield=True):
            await self.journal.sent(batch.id, [row.line for row in batch.rows])  # if not written, not sent
        self.sent.requests += 1
        self.sent.rows += len(batch.rows)
        try:
            sent = await self._sent(batch)
        finally:
            self._leave(batch)
        if isinstance(sent, Batch):  # some rows set aside: the others go as a batch of their own
            await self._send(sent)
            return
        if sent is None:
            return
        with anyio.CancelScope(shield=True):
            if sent.repeat_of_s is not None:
                await self._sent_earlier(batch, sent)
            else:
                await self._answered(batch, list(sent.answer))
                self._tell_spellings(batch.rows, batch.sent_as)  # only rows that went out count

    def _respelt(self, batch: Batch, write: plans.Write, held: Mapping[str, str]) -> plans.Write:
        """The batch as it goes out, once its claim is won: numbers an earlier upload sent to this
        campaign in another spelling (`held`, read in the claim's transaction) go out in that one,
        so Ameyo finds its customer rather than adding a second record (and its callback dials
        it). The rows keep the file's spelling: the write keeps the identity it was claimed under;
        the spelling sent is the batch's `sent_as`, which the result file and the notes show."""
        rows = self._spelt_as_held(batch, held)
        if rows is None:  # new numbers, or sent as spelt before: the usual batch
            return write
        return replace(write, request=self._plan(batch, rows).request)

    @staticmethod
    def _spelt_as_held(batch: Batch, held: Mapping[str, str]) -> list[Prepared] | None:
        """The batch's rows as they go out, numbers Ameyo holds in another spelling (`held`, by
        identity) in that one, noted in `batch.sent_as`; None when none is. The dry run's batch
        goes through here too, so that it says the spelling its run sends."""
        batch.sent_as = {}
        if not held:
            return None
        rows: list[Prepared] = []
        for row in batch.rows:
            spelling = held.get(row.identity) if row.identity is not None else None
            sent = row.record[PRIMARY_COLUMN]
            if spelling is not None and spelling != sent:
                callback = row.callback
                if callback is not None and callback.call_back_phone == sent:
                    callback = callback.model_copy(update={"call_back_phone": spelling})
                batch.sent_as[row.line] = spelling
                row = replace(row, record={**row.record, PRIMARY_COLUMN: spelling}, callback=callback)
            rows.append(row)
        return rows if batch.sent_as else None

    def _tell_spellings(self, rows: Sequence[Prepared], sent_as: Mapping[int, str]) -> None:
        """Count rows for the notes on phone1's spelling (`Spellings`) as they are told: those that
        went out (or would, or may have) in the spelling sent, `sent_as` by line where it is not
        the file's; those not sent as the file has them (`sent_as` empty), which the validator
        counts as rewritten too, so that one of them is the rewritten note's example when every
        rewritten row that went out was sent as Ameyo holds it."""
        spelt, validator = self.spelt, self.validator
        if not sent_as and (spelt.rewritten_example is not None or not validator or not validator.rewritten):
            return  # the usual rows: nothing more to learn from them
        for row in rows:
            spelt.tell(row, sent_as.get(row.line))

    async def _indexed_spellings(self, rows: Sequence[Prepared]) -> Mapping[str, str]:
        """phone1 as Ameyo holds it, by identity, for the rows whose number the campaign's index
        knows as a customer's phone1 (`WritePath.indexed_spellings`): as their do-not-call check
        read it (`Prepared.held_as`), which made the same index look-up and live read a batch
        (a plain file's rows, judged too, paid both); read now for rows no check read."""
        if any(row.held_as is None for row in rows):
            return await self.writes.indexed_spellings(self.target.campaign.campaign_id, self._numbers(rows))
        return {row.identity: row.held_as for row in rows if row.identity is not None and row.held_as}

    @staticmethod
    def _numbers(rows: Sequence[Prepared]) -> list[tuple[str, str]]:
        """(identity, phone1) of the rows whose phone1 the phone rule accepted: what the ledger and
        the index know a number by, and how the file spells it."""
        return [(row.identity, row.record[PRIMARY_COLUMN]) for row in rows if row.identity is not None]

    def _plan(self, batch: Batch, rows: list[Prepared]) -> plans.Write:
        """The batch, its records as `rows` hold them, as a write of the one write path (which
        audits it with this context). Its identity is its rows' in file order: a copy of the file
        makes the same batches, and makes them in the same order."""
        options, target = self.options, self.target
        server = self.ameyo.settings.base_url
        context = {
            "file": str(self.path),
            "batch": batch.id,
            "lines": [batch.first_line, batch.last_line],
            "into_lead": self.target.lead_id,
        }
        numbers = self._numbers(rows)
        if batch.kind == PLAIN:
            write = plans.plan_upload(
                server,
                target.campaign,
                target.lead_id,
                [row.record for row in rows],
                status=self.status,
                attempts=options.attempts,
                update_existing=options.update_existing,
                migrate_existing=options.migrate_existing,
                context=context,
                numbers=numbers,
                file_batch=True,
            )
        else:
            write = plans.plan_upload_with_callbacks(
                server,
                target.campaign,
                target.lead_id,
                [(row.record, row.callback) for row in rows if row.callback is not None],
                update_existing=options.update_existing,
                migrate_existing=options.migrate_existing,
                region=self.ameyo.settings.phone_region,
                context=context,
                numbers=numbers,
                file_batch=True,
            )
        # A file's rows are the ledger's for as long as it keeps them: a copy, a link or a rename of
        # the file, or another journal, finds them there and sends nothing twice; rows of unknown
        # outcome only when this upload resends its own on purpose (retry_unknown on what its journal
        # holds unknown). Another upload's are that upload's to resend: retry_unknown here does not,
        # whether its batches hold them as this one does (`EarlierOutcomeUnknown`) or cut otherwise.
        return replace(write, lasting=True, resend_unknown=batch.resend)

    async def _sent(self, batch: Batch) -> plans.Sent | Batch | None:
        """The batch through the write path: its answer; or None when it failed or was held back
        (journaled and settled here); or, when other writes hold some of its rows' callbacks, its
        other rows as a batch of their own to send (those rows journaled and settled here)."""
        write: plans.Write | None = None
        try:
            # Numbers the campaign's index knows as a customer's phone1 in another spelling go out
            # in Ameyo's (the ledger's spellings, read in the claim, come first).
            write = self._plan(batch, batch.rows)
            indexed = await self._indexed_spellings(batch.rows)
            if indexed:  # the claim keeps, for later uploads, the spelling that goes out
                going = tuple((number, indexed.get(number, spelt)) for number, spelt in write.numbers)
                write = replace(write, numbers=going)
            return await self._send_once_more(batch, write, indexed)
        except HeldBack as held:
            with anyio.CancelScope(shield=True):
                await self._not_sent(batch, held.reason)
        except RowsSent as sent:
            with anyio.CancelScope(shield=True):
                assert write is not None  # (planned before the claim that found them)
                return await self._put_aside(batch, self.earlier.aside(batch, write, sent.rows, {}))
        except EarlierOutcomeUnknown as exc:
            # Another upload sent this very batch and never learnt the outcome: its rows are held
            # back as that upload's rows in other batches are (`RowsSent`), and as the dry run said.
            # Not a failure of Ameyo's that the next batch may meet too: the run goes on.
            with anyio.CancelScope(shield=True):
                if exc.entry is None:
                    await self._batch_failed(batch, exc)
                    return None
                return await self._put_aside(batch, self.earlier.same_write_unknown(batch, exc.entry))
        except CallbackScheduled as exc:
            with anyio.CancelScope(shield=True):
                assert write is not None
                holding = await self.writes.held_callbacks(write)
                aside = self.earlier.aside(batch, write, await self.writes.rows_held(write), holding)
                if not aside:  # no longer held, or not by a settled write: the batch is refused
                    await self._batch_failed(batch, exc)
                    return None
                return await self._put_aside(batch, aside)
        except (AmeyoError, WriteError) as exc:
            with anyio.CancelScope(shield=True):
                await self._batch_failed(batch, exc)
        except BaseException:
            # Cancelled, or stopped: the answer will never be read. Say so before leaving.
            with anyio.CancelScope(shield=True):
                if batch.let_out:
                    await self._unanswered(batch)
                else:
                    await self._not_sent(batch, "not sent: the upload was stopped before it went out")
            raise
        return None

    @asynccontextmanager
    async def _window(self, batch: Batch) -> AsyncIterator[None]:
        """A place among the requests in flight, for a batch claimed and ready to leave; refused
        (nothing is sent) when the run stopped sending meanwhile. A request that failed keeps its
        place until `_send` has judged it: no batch leaves before the run knows whether to stop."""
        if not batch.place:  # (a batch sent once more still holds it)
            await self.wire.acquire()
            batch.place = True
        if self.failure is not None:
            raise HeldBack(None)
        if self.stop_reason is not None:
            raise HeldBack(f"not sent: the upload stopped after {self.stop_reason}")
        batch.let_out = True
        yield
        self._leave(batch)  # answered: the next batch may leave while this one is settled

    def _leave(self, batch: Batch) -> None:
        if batch.place:
            batch.place = False
            self.wire.release()

    async def _send_once_more(
        self, batch: Batch, write: plans.Write, indexed: Mapping[str, str]
    ) -> plans.Sent:
        retried = False
        while True:
            try:
                # A batch resent after an unknown outcome is meant to be sent again (retry_unknown).
                return await self.writes.send(
                    write,
                    allow_repeat=batch.resend,
                    approval=self.approval,
                    keep_answer=False,
                    respell=lambda held: self._respelt(batch, write, {**indexed, **held}),
                    window=lambda: self._window(batch),
                    in_place=True,
                )
            except UpstreamUnavailable as exc:
                # Not even connected: Ameyo certainly did not run it, so one more try is safe.
                if exc.outcome_unknown or retried:
                    raise
                retried = True
                await anyio.sleep(RETRY_DELAY_S)

    async def _sent_earlier(self, batch: Batch, sent: plans.Sent) -> None:
        """A batch whose very rows an earlier upload sent (this file under another name, a copy,
        or a run whose journal was lost): not sent again, and said where they went."""
        reason = sent_earlier_reason(sent.earlier, sent.repeat_of_s or 0)
        note = f"Rows of batch {batch.id} (lines {batch.first_line}-{batch.last_line}) were {reason}."
        if len(self.notes) < _EARLIER_NOTES:
            self.notes.append(note)
        settled = await self._told_sent_earlier(batch, reason, sent.repeat_of_s or 0)
        await self.journal.answered(
            batch.id, batch.first_line, batch.last_line, [item.journal_row() for item in settled]
        )
        self.sent.requests -= 1  # nothing went out for it
        self.sent.rows -= len(batch.rows)
        self._settle_all(settled)

    async def _told_sent_earlier(self, batch: Batch, reason: str, seconds: float) -> list[Outcome]:
        """A batch whose very rows went out before and were answered, row by row: sent earlier, but
        the rows that answer left out, of unknown outcome still (a copy of the file had told them
        answered)."""
        left = await self.writes.unanswered(self._plan(batch, batch.rows))
        if not self.options.dry_run:  # (their note, as for the rows the answer left out in this run)
            self.earlier.left_out += sum(row.identity in left for row in batch.rows)
        why = (
            f"outcome unknown: these same rows went out {ago_text(seconds)} and Ameyo's answer left this "
            "one out; not sent again"
        )
        return [
            Outcome(row.line, row.phone, UNKNOWN_RESULT, False, reason=why)
            if row.identity in left
            else Outcome(row.line, row.phone, SENT_EARLIER, True, reason=reason)
            for row in batch.rows
        ]

    async def _answered(self, batch: Batch, results: list[RecordResult]) -> None:
        zone = self.ameyo.settings.zone
        answered = len(results)
        lead = await lead_of(self.ameyo, self.target, results, migrate=self.options.migrate_existing)
        settled: list[Outcome] = []
        for index, row in enumerate(batch.rows):
            answer = results[index] if index < answered else None
            if answer is not None and type(answer) is RecordResult and answer.result_type in SAVED:
                # The common case, decided as `outcome` decides it, without its per-row text work.
                settled.append(
                    Outcome(row.line, batch.phone_of(row), answer.result_type, True, answer.customer_id)
                )
                continue
            phone = batch.phone_of(row)
            settled.append(outcome(row.line, phone, answer, zone, lead=lead))
        self.earlier.left_out += max(len(batch.rows) - answered, 0)
        if batch.kind == PLAIN and self.options.update_existing:
            # uploadContacts gives a customer it updates the request's status and attempts.
            self.requeued += sum(effect(item.result) == "updated" for item in settled)
        if batch.resend:
            for item in settled:
                self._judge_resent(batch, item)
        # The spelling sent is kept where it is not the file's: a later run tells the row in it.
        sent_as = batch.sent_as
        rows = [item.journal_row(bool(sent_as) and item.position in sent_as) for item in settled]
        try:
            await self.journal.answered(batch.id, batch.first_line, batch.last_line, rows)
        except OutputError:
            self.sent.unknown += len(batch.rows)  # its sent line stands: the next run counts it unknown
            raise
        self.sent.answered += len(batch.rows)
        self.tally.sent_now += len(settled)
        self._settle_all(settled)
        self._name_by_id(batch.rows, settled)

    def _name_by_id(self, rows: Sequence[Prepared], told: Sequence[Outcome] | None = None) -> None:
        """Keep the first rows by line (batches settle in any order) that give a customer id among
        their fields, with Ameyo's answer to each (`told`, by row), and count them all."""
        if not self.ids_given:
            return
        for i, row in enumerate(rows):
            named = named_by_id(row.line, row.record, told[i] if told is not None else None)
            if named is None:
                continue
            self.named_rows += 1
            if len(self.named) < NAMED_SHOWN or named.position < self.named[-1].position:
                insort(self.named, named, key=lambda n: n.position)
                del self.named[NAMED_SHOWN:]

    def _judge_resent(self, batch: Batch, item: Outcome) -> None:
        """A row sent again after an unknown outcome: the earlier run may have saved it already."""
        if batch.kind == PLAIN:
            if item.result == DUPLICATE:
                item.ok, item.reason = True, SAVED_EARLIER
            return
        # A duplicate whose callback was scheduled is done already: `outcome` said so.
        self.resent_callbacks.append(item.position)
        item.reason = f"{MAY_DUPLICATE}; {item.reason}" if item.reason else MAY_DUPLICATE

    async def _unanswered(self, batch: Batch) -> None:
        """Mark a batch whose answer will never be read; best effort, as the run is ending."""
        reason = "the upload was stopped before Ameyo answered"
        self.sent.unknown += len(batch.rows)
        # If the journal cannot take it, the batch's sent line stands: a resume counts it unknown too.
        with suppress(OutputError):
            await self.journal.ended(
                batch.id, UNKNOWN, batch.first_line, batch.last_line, len(batch.rows), reason
            )
        with suppress(OutputError):
            for row in batch.rows:
                self._settle(Outcome(row.line, batch.phone_of(row), UNKNOWN_RESULT, False, reason=reason))
        self._tell_spellings(batch.rows, batch.sent_as)  # its request may have gone out, in that spelling

    async def _not_sent(self, batch: Batch, reason: str | None) -> None:
        """A batch journaled and claimed, but held back before its request left: the next run sends
        it. Its rows are NOT_SENT for `reason` (None: the run is failing, with no result to give)."""
        self.sent.requests -= 1
        self.sent.rows -= len(batch.rows)
        with suppress(OutputError):  # best effort, as the run is ending; a resume counts it unknown
            await self.journal.ended(
                batch.id, FAILED, batch.first_line, batch.last_line, len(batch.rows), reason or "not sent"
            )
        if reason is not None:
            with suppress(OutputError):  # nothing went out: told as the file has it, as the notes count it
                for row in batch.rows:
                    self._settle(Outcome(row.line, row.phone, NOT_SENT, False, reason=reason))
            self._tell_spellings(batch.rows, {})

    async def _batch_failed(self, batch: Batch, exc: AmeyoError | WriteError) -> None:
        held = isinstance(exc, CallbackScheduled)
        if isinstance(exc, AmeyoError):
            reason = await self.ameyo.explain(exc, self.target.campaign)
            unknown = exc.outcome_unknown
        elif held:  # the ledger holds a callback of the batch: every run is refused it alike
            reason = f"{exc.message} {HELD_CALLBACK_STEP}"
            unknown = False
            self.earlier.held_by_ledger += len(batch.rows)
        else:  # refused by the write path before sending, or sent and not answered usably
            reason = str(exc)
            unknown = isinstance(exc, OutcomeUnknown | EarlierOutcomeUnknown)
        # A batch resent after an unknown outcome that Ameyo did not run: its rows' earlier sending
        # is still of unknown outcome (the ledger puts it back), not a failure to resend blindly.
        still_unknown = batch.resend and not unknown and not held
        if still_unknown:
            reason = (
                f"outcome unknown: resent as asked, but {reason} (Ameyo did not run it), so whether its "
                "earlier sending saved these rows is still unknown"
            )
        status = UNKNOWN if unknown or still_unknown else FAILED
        if status == UNKNOWN:
            self.sent.unknown += len(batch.rows)
            if unknown and not isinstance(exc, EarlierOutcomeUnknown):  # out in this run, unanswered
                self.tally.sent_now += len(batch.rows)
        await self.journal.ended(batch.id, status, batch.first_line, batch.last_line, len(batch.rows), reason)
        # Ameyo's answer is a failure only when Ameyo gave it: a batch refused before it left (the
        # ledger, the audit, no connection) is not sent, and is not among "Ameyo's answers".
        result = (
            UNKNOWN_RESULT
            if status == UNKNOWN
            else FAILED_RESULT
            if isinstance(exc, CommandFailed)
            else NOT_SENT
        )
        if isinstance(exc, CommandFailed) and not unknown:
            # Sent in this run, and Ameyo's answer refused it whole: counted nowhere, its rows read
            # as "of unknown outcome since an earlier sending (not resent)" beside "sent in this run
            # 0", whether they fail or, resent by retry_unknown, stay of the earlier sending's
            # unknown outcome.
            self.tally.sent_now += len(batch.rows)
        tail = "" if status == UNKNOWN or held else " (Ameyo did not run it: the next run resends it)"
        # A row told in the spelling it went out in, and counted so; one not sent as the file has it.
        went = result != NOT_SENT
        for row in batch.rows:
            phone = batch.phone_of(row) if went else row.phone
            self._settle(Outcome(row.line, phone, result, False, reason=reason + tail))
        self._tell_spellings(batch.rows, batch.sent_as if went else {})
        # A held callback is this batch's alone, and every run meets it alike: stopping there would
        # hold back the rest of the file on every run. Anything else (Ameyo refusing, no answer)
        # may be the next batch's lot too, and stops the run.
        if self.stop_reason is None and not held:
            self.stop_reason = (
                f"batch {batch.id} (lines {batch.first_line}-{batch.last_line}) failed: {reason}"
            )

    # -- accounting -------------------------------------------------------------------------

    def _settle(self, row: Outcome) -> None:
        self._settle_all((row,))

    def _settle_all(self, rows: Sequence[Outcome]) -> None:
        assert self.result is not None
        self.result.write_all(rows)
        self.tally.add_all(rows)

    def _settle_answered(self, batch: Batch, rows: list[JournalRow]) -> None:
        by_line = {int(r[0]): r for r in rows}
        for row in batch.rows:
            self._settle(self.earlier.journaled(by_line[row.line], row))

    def _explain_outcomes(self) -> None:
        counts = self.tally.counts
        left_out, held_callbacks = self.earlier.left_out, self.earlier.held_callbacks
        held_by_ledger = self.earlier.held_by_ledger
        if self.tally.from_earlier_runs:
            self.notes.append(
                f"Resumed from the journal: {counted(self.tally.from_earlier_runs, 'row')} Ameyo answered in "
                f"earlier runs {agreeing(self.tally.from_earlier_runs, 'was', 'were')} not sent again."
            )
        # Rows another upload sent without learning the outcome have a note of their own: this file
        # does not resend them.
        unknown = counts[UNKNOWN_RESULT] - left_out - self.earlier.unknown_elsewhere
        if left_out:
            self.notes.append(
                f"{counted(left_out, 'row')} {agreeing(left_out, 'was', 'were')} left out of "
                "Ameyo's answer to their batch, so their outcome is "
                "unknown; retry_unknown does not resend them (their batch was answered), nor does another "
                "file holding them while the write ledger keeps their outcome unknown. Check them (their "
                "lines are in the result file) and send those that are missing with ameyo_upload_contacts "
                "and allow_repeat=true."
            )
        if unknown and unknown > held_callbacks:
            self.notes.append(
                f"{counted(unknown, 'row')} {agreeing(unknown, 'is', 'are')} {UNKNOWN_RESULT}: their batch "
                "was sent but no answer came, so Ameyo "
                "may have saved them. They are NOT resent automatically: check a few with "
                "ameyo_get_contacts, then run again with retry_unknown=true (CLI: --retry-unknown) to "
                f"resend those without a callback (a {DUPLICATE} answer then means the earlier run saved "
                "the row, and counts as saved)."
            )
        self.notes += self.earlier.unknown_elsewhere_notes()
        if held_callbacks:
            self.notes.append(
                f"{counted(held_callbacks, 'row')} of unknown outcome "
                f"{agreeing(held_callbacks, 'has callbacks and was', 'have callbacks and were')} "
                "not resent: Ameyo "
                "may already have scheduled those callbacks. Only resend_callbacks_may_duplicate=true "
                "(CLI: --resend-callbacks-may-duplicate) resends them, accepting that a callback may "
                "then be scheduled twice."
            )
        if self.resent_callbacks:
            lines = sorted(self.resent_callbacks)
            shown = ", ".join(str(n) for n in lines[:_LINES_SHOWN])
            more = f" and {len(lines) - _LINES_SHOWN} more" if len(lines) > _LINES_SHOWN else ""
            self.notes.append(
                f"Resent with their callbacks after an unknown outcome, as asked, so a callback may now "
                f"be scheduled twice: lines {shown}{more} (each is marked in the result file)."
            )
        if self.stop_reason is not None:
            self.notes.append(f"Stopped sending after {self.stop_reason.rstrip('.')}.")
        self.notes += self.earlier.held_callbacks_notes()
        resend = counts[NOT_SENT] + counts[FAILED_RESULT] - held_by_ledger
        if resend > 0:
            self.notes.append(
                f"{counted(resend, 'row')} {agreeing(resend, 'was', 'were')} not saved "
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
        message = f"{done:,} of {counted(total, 'row')} "
        message += "checked" if self.options.dry_run else f"settled: {self.tally.settled_words()}"
        await self.progress(done, total, message)

    def summary(self, elapsed: float) -> BulkUploadOut:
        tally = self.tally
        notes = list(self.notes)
        spelt, dry = self.spelt, self.options.dry_run
        if self.validator is not None:
            rewritten, example = spelt.rewritten(self.validator.rewritten, self.validator.first_rewritten)
            if note := rewritten_note(rewritten, example, self.validator.rule, dry_run=dry):
                notes.append(note)
        if note := held_numbers_note(spelt.held, spelt.held_example, dry_run=dry):
            notes.append(note)
        if self.reader.legacy_lines:
            lines = self.reader.legacy_lines
            notes.append(
                f"{counted(lines, 'line')} of the file {agreeing(lines, 'was', 'were')} not UTF-8 and "
                f"{agreeing(lines, 'was', 'were')} read as Windows-1252 (Latin-1), as Excel saves CSV, "
                f"starting at line {self.reader.first_legacy_line}: check a name with accents there; if "
                'it reads wrong, save the file as "CSV UTF-8" and upload it again.'
            )
        if not self.target.lead_enabled:
            counts = None if self.options.dry_run else dict(tally.counts)
            if note := disabled_lead_note(self.target.lead_id, counts):
                notes.append(note)
        if self.options.update_existing:
            updated = None if self.options.dry_run else self.requeued
            if note := requeued_note(self.status, self.options.attempts, updated):
                notes.append(note)
        token = None
        # Only for a client that cannot ask the person: one that can asks them when the rows are sent.
        if self.options.dry_run and self.ask is None and self.writes.needs_confirmation(self._left()):
            token = self.writes.dry_run_token(self.identity())
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
            would_schedule=self.first_callbacks if dry else None,
            result_file=str(self.result_path),
            journal_file=None if self.options.dry_run else str(self.journal.path),
            notes=notes,
            elapsed_s=round(elapsed, 2),
            confirm_token=token,
        )
