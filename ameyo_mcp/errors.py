"""The one error tree: every exception the package raises, and what a person or model reads of it.

Every class derives from `AmeyoMcpError`, which carries what happened (`message`), what to do
about it (`next_step`) and whether a write may or may not have been applied (`outcome_unknown`).
Most messages say what to do themselves ("…: check AMEYO_BASE_URL"); a message that does not is
raised with its `next_step`, which `str()` then adds. Each class also names the step for its kind
of failure, for text that replaces the message (Ameyo's own message keys, put into words).
`explain` turns any exception, of the tree or not, into the sentence a person or model reads.

Every message is built only from values that are safe to show: never a password, hash key, session
id or token.

    AmeyoMcpError
    ├── SettingsError                 a setting is missing or malformed
    │   └── CannotListen              the address or port to serve on cannot be had
    ├── AmeyoError                    talking to Ameyo: its message key and arguments
    │   ├── AuthenticationFailed, InvalidSession
    │   ├── CommandFailed ── NotFound
    │   └── UpstreamUnavailable ── UpstreamTimeout
    ├── StoreError                    the index, call history and write ledger database
    │   ├── StoreBusy, StoreFailed, StoreUnreachable
    ├── SyncError                     the index cannot be brought in step with Ameyo
    │   ├── SyncBusy, SyncLeaseLost
    ├── InputError (a ValueError)     a value we were given cannot be used
    │   ├── PhoneError, TimeInputError, PushRejected, FileFormatError, PathRefused
    ├── WriteError                    a write was not done as asked
    │   ├── NeedsConfirmation, NotConfirmed, AuditUnavailable, EarlierOutcomeUnknown,
    │   ├── CallbackScheduled, OutcomeUnknown, LedgerUnavailable, Respelled, RowsSent
    ├── UploadRefused ── OutputRefused, UploadBusy, JournalDamaged
    ├── UploadStopped, OutputError, HeldBack   a file's upload
    └── SimulatorError                the stand-in Ameyo's own
        └── SimulatedFailure, SimulatedRefusal, DeliberateDrop

The round trip that asks the person a question (2026-07-28) is not an exception: it ends the tool
call by cancelling it (see `server/tools/common.py`), which no `except Exception` can take for a
failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


class AmeyoMcpError(Exception):
    """Root of every exception of the package.

    `message` says what happened; `next_step` what a person or model should do. Given apart,
    `next_step` is added to the message by `str()`; otherwise the message says it already and
    `next_step` is the class's step for its kind of failure. `outcome_unknown`: a write was sent
    and Ameyo may or may not have applied it.
    """

    next_step: str = "Try again; if it fails the same way, tell whoever runs the server."

    def __init__(self, message: str, *, next_step: str | None = None, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self._step_given = next_step is not None
        if next_step is not None:
            self.next_step = next_step
        self.outcome_unknown = outcome_unknown

    def __str__(self) -> str:
        return with_step(self.message, self.next_step) if self._step_given else self.message

    def step_instead(self, next_step: str) -> None:
        """Say `next_step` instead: a layer above knows better what to do (what to look up in Ameyo
        about a write whose outcome is unknown depends on what the write was)."""
        self.next_step = next_step
        self._step_given = True


def as_clause(text: str) -> str:
    """A message to go on after a colon ("…: the index database … is damaged"); a name stays as it
    is ("…: Ameyo answered …", "…: AMEYO_BASE_URL …")."""
    first = text.split(" ", 1)[0]
    if first in _NAMES or not first[1:].islower():
        return text
    return text[:1].lower() + text[1:]


_NAMES = frozenset({"Ameyo", "PostgreSQL", "SQLite"})


def with_step(text: str, step: str) -> str:
    """`text` followed by the sentence `step`, each ending as a sentence ends."""
    text = text.rstrip()
    if not step:
        return text
    return f"{text if text.endswith(('.', '!', '?')) else text + '.'} {step}"


# -- settings -----------------------------------------------------------------------------------------


class SettingsError(AmeyoMcpError):
    """A setting is missing or malformed; the message names the variable to fix."""

    next_step = "Fix that setting (in the environment or the .env file) and start ameyo-mcp again."


class CannotListen(SettingsError):
    """The address or port a command was told to serve on cannot be had (taken, not this machine's,
    privileged); the message names the option to change."""

    next_step = "Choose another --host or --port and start it again."


# -- talking to Ameyo -----------------------------------------------------------------------------------


class AmeyoError(AmeyoMcpError):
    """A failure talking to Ameyo.

    `key` and `args_` keep Ameyo's own message key and arguments (e.g.
    `CustomerManager.lead.not.in.camp.11`, `(2, 1)`) so that callers can explain them.
    """

    next_step = "Try again in a moment; if it keeps failing, tell the person that Ameyo seems unavailable."

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        args: Sequence[object] = (),
        outcome_unknown: bool = False,
        next_step: str | None = None,
    ) -> None:
        super().__init__(message, next_step=next_step, outcome_unknown=outcome_unknown)
        self.key = key
        self.args_ = tuple(args)


class AuthenticationFailed(AmeyoError):
    """Ameyo refused the credentials (login answered `null`, or the hash key was rejected)."""

    next_step = "Ask whoever runs the server to check the Ameyo credentials (AMEYO_USER_ID, AMEYO_PASSWORD)."


class InvalidSession(AmeyoError):
    """Ameyo no longer knows the session: it did not run the command, so it is safe to retry."""

    next_step = "Try again: the server logs in again by itself."


class CommandFailed(AmeyoError):
    """Ameyo ran the command and refused it (bad lead, unknown campaign, bad time, …)."""

    next_step = "Ameyo changed nothing: correct the request and try again."


class NotFound(CommandFailed):
    """A name or id the caller gave does not exist in Ameyo; the message lists what does."""

    next_step = "Use one that exists: ameyo_list_campaigns and ameyo_get_leads list them."


class UpstreamUnavailable(AmeyoError):
    """Ameyo could not be reached, or answered with something that is not its API (HTML, garbage)."""


class UpstreamTimeout(UpstreamUnavailable):
    """No answer within the timeout."""


# -- the store ------------------------------------------------------------------------------------------


class StoreError(AmeyoMcpError):
    """The index database (contacts index, call history, write ledger) cannot be opened or used."""

    next_step = "Check the database AMEYO_DATABASE_URL names, then try again."


class StoreBusy(StoreError):
    """Another thread of this process is using the store (asked not to wait for it)."""

    next_step = "Try again in a moment."


class StoreFailed(StoreError):
    """The store could not commit a pushed call event; nothing of it was kept."""

    next_step = "Send the push again."


class StoreUnreachable(StoreError):
    """The database cannot be reached now (PostgreSQL is down, restarting, or ended the connection):
    the next call opens a new connection by itself."""

    next_step = "Check that PostgreSQL is running and that AMEYO_DATABASE_URL names it, then try again."


class StoreTooNew(StoreError):
    """A newer ameyo-mcp migrated the store past the schema this one knows: it cannot use it."""

    next_step = "Upgrade ameyo-mcp, or point AMEYO_DATABASE_URL elsewhere."


class SyncError(AmeyoMcpError):
    """A sync cannot go on; the message says why and what to do."""

    next_step = "Deal with what the message names, then run ameyo-mcp sync again."


class SyncBusy(SyncError):
    """Another process is syncing the campaign (it holds its sync lease): this one skips it.

    `holder` names that process (`host:pid`), `since` is when it took the lease (seconds since the
    epoch)."""

    next_step = (
        "Nothing to do: that sync brings the index up to date; if it stopped, its hold ends by itself."
    )

    def __init__(self, campaign_id: int, holder: str, since: float) -> None:
        super().__init__(f"Another process ({holder}) is syncing campaign {campaign_id}")
        self.campaign_id = campaign_id
        self.holder = holder
        self.since = since


class SyncLeaseLost(SyncError):
    """This sync held the campaign past its lease without a page (paused, or starved), and another
    process took the campaign over: this one stops, the other completes the pass."""

    next_step = "Nothing to do: the process that took it over completes the pass."


# -- values we were given -------------------------------------------------------------------------------


class InputError(AmeyoMcpError, ValueError):
    """A value we were given (an argument, a file, a push) cannot be used; the message says why.

    Also a ValueError: the checks of a record or a row catch ValueError around the rules they run."""

    next_step = "Correct the value and try again."


class PhoneError(InputError):
    """A text that cannot be used as a phone number; the message says why in one sentence.

    The message quotes the text (the caller's own words); `why` says the same without it ("not a
    complete phone number: it has no area code"), for refusals that must not quote what they refuse.
    It is None when the text is empty or is not made of what a number is written with."""

    next_step = "Give the whole number, with its area code (and country code when it is abroad)."

    def __init__(self, message: str, why: str | None = None) -> None:
        super().__init__(message)
        self.why = why


class TimeInputError(InputError):
    """The text is not a time we can schedule; the message says what to send instead."""

    next_step = "Send an ISO 8601 time with its date and time of day: YYYY-MM-DDTHH:MM:SS."


class PushRejected(InputError):
    """A push we cannot use; `status` is the HTTP answer and the message says why, in one line."""

    next_step = "Correct the push and send it again."

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class FileFormatError(InputError):
    """The file as a whole cannot be read (no header, no phone1 column); nothing was sent."""

    next_step = "Correct the file (a header row that names phone1) and run the upload again."


class PathRefused(InputError):
    """The path is outside the allowed folders, or not a readable file; the message says which."""

    next_step = "Give a contact file inside the folders AMEYO_UPLOAD_DIRS names."


# -- the write path -------------------------------------------------------------------------------------


class WriteError(AmeyoMcpError):
    """A write was not done as asked; the message says what happened and what to do next."""


class NeedsConfirmation(WriteError):
    """Too many records to send without the person's confirmation."""

    next_step = (
        "Run the same call with dry_run=true, and call again with its confirm_token once the person agrees."
    )


class NotConfirmed(WriteError):
    """The person was asked and said no."""

    next_step = "Nothing was sent; ask the person what they want instead."


class AuditUnavailable(WriteError):
    """The audit trail cannot be written, so nothing was sent."""

    next_step = "Free the disk or fix AMEYO_AUDIT_FILE, then try again."


class EarlierOutcomeUnknown(WriteError):
    """The same write was sent before and its outcome is unknown. `entry`: the ledger's entry of
    that sending, from which a file upload tells its rows as a dry run of it told them."""

    next_step = "Check whether it happened in Ameyo; repeat it with allow_repeat=true only if it did not."

    def __init__(self, message: str, *, next_step: str | None = None, entry: Any = None) -> None:
        super().__init__(message, next_step=next_step)
        self.entry = entry


class CallbackScheduled(WriteError):
    """The same callback was scheduled moments ago by another write."""

    next_step = "Check it in Ameyo, and pass allow_repeat=true only if a second callback is meant."


class OutcomeUnknown(WriteError):
    """This write was sent and no usable answer came: Ameyo may or may not have applied it."""

    next_step = "Check with ameyo_get_contacts before sending it again."

    def __init__(self, message: str, *, next_step: str | None = None) -> None:
        super().__init__(message, next_step=next_step, outcome_unknown=True)


class LedgerUnavailable(WriteError):
    """The store's write ledger cannot be used, so nothing was sent."""

    next_step = "Try again when the database is back."


class Respelled(WriteError):
    """Numbers of an upload were sent earlier, by a write committed first, in another spelling:
    nothing was sent; plan the write again with `spellings` (phones.identity → phone1). Not a
    failure a person sees: the tool plans the write again."""

    def __init__(self, spellings: dict[str, str]) -> None:
        super().__init__("numbers already uploaded in another spelling: plan the write again with it")
        self.spellings = spellings


class RowsSent(WriteError):
    """Records of an upload that other uploads sent (a copy of a file cut into other batches, the
    same record through a tool): nothing was claimed; the upload goes without them. `rows`:
    phones.identity → the ledger entry of the write that sent it. Not a failure a person sees."""

    def __init__(self, rows: dict[str, Any]) -> None:
        super().__init__("records of this upload were sent by another upload: set them aside")
        self.rows = rows


# -- a file's upload ------------------------------------------------------------------------------------


class UploadRefused(AmeyoMcpError):
    """Nothing was sent; the message says why and what to do."""

    next_step = "Nothing was sent: deal with what the message names, then run the upload again."


class OutputRefused(UploadRefused):
    """An output path would overwrite something that is not ours; nothing was written."""


class UploadBusy(UploadRefused):
    """Another run holds the journal's lock."""


class JournalDamaged(UploadRefused):
    """A journal line is cut short before it says which batch it is about."""


class UploadStopped(AmeyoMcpError):
    """The upload ended early (a file could not be written, or it was asked to stop).

    `cause` says why; `account` what was sent in this run and how to continue. Every batch that
    was sent is in the journal, answered or marked outcome-unknown, so the same upload resumes.
    """

    next_step = "Run the same upload again: it continues from its journal."

    def __init__(self, cause: str, account: str, *, requested: bool = False) -> None:
        super().__init__(f"{cause}. {account}")
        self.cause = cause
        self.account = account
        self.requested = requested  # stopped on request (a signal), not by a failure


class OutputError(AmeyoMcpError):
    """An output file could not be written (full disk, unwritable folder, file size limit)."""

    next_step = "Free the disk or choose another folder, then run the upload again."

    def __init__(self, path: Path, error: OSError) -> None:
        self.path = path
        self.reason = error.strerror or type(error).__name__
        super().__init__(f"could not write {path}: {self.reason}")


class HeldBack(AmeyoMcpError):
    """A batch ready to leave, kept back because the run stopped sending meanwhile (the bulk
    engine's own signal, never shown as such)."""

    def __init__(self, reason: str | None) -> None:
        super().__init__(reason or "held back")
        self.reason = reason


# -- the simulator (the stand-in Ameyo) -------------------------------------------------------------------


class SimulatorError(AmeyoMcpError):
    """The simulator's own: how it answers a command it refuses, or cuts a response on purpose."""


class SimulatedFailure(SimulatorError):
    """The whole command failed, as Ameyo says it: ``{"result":"Failed.","comment":[key, *args]}``."""

    def __init__(self, key: str, *args: object) -> None:
        super().__init__(key)
        self.comment: list[object] = [key, *args]


class SimulatedRefusal(SimulatorError):
    """A command-specific refusal whose body is not the generic Failed comment."""

    def __init__(self, payload: object) -> None:
        super().__init__("refused")
        self.payload = payload


class DeliberateDrop(SimulatorError):
    """Raised to cut a response when no aborter is available; runners silence its log line."""


# -- what a person or model reads -------------------------------------------------------------------------


def explain(exc: BaseException) -> str:
    """The sentence a person or model reads about `exc`: what happened and what to do.

    An error of the tree says it itself. Of any other exception only its kind is named: its text
    may hold anything (a path, a value, a secret), and where it came from is for the log."""
    if isinstance(exc, AmeyoMcpError):
        return str(exc)
    if isinstance(exc, ImportError):
        return (
            "This part of ameyo-mcp could not be loaded: its installed files changed while the server "
            "was running (the package was reinstalled or upgraded). Restart the server "
            "(in Claude Desktop: quit and reopen it) so that it runs the installed version."
        )
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        if exc.filename:
            return (
                f"{exc.filename} could not be read or written ({reason}). Check the disk and the "
                "folder's permissions, then try again."
            )
        return f"The system refused ({reason}). Check the disk, the network and the permissions, then retry."
    return (
        f"Something unexpected went wrong ({type(exc).__name__}). Try again; if it fails the same "
        "way, tell whoever runs the server (its log has the details)."
    )
