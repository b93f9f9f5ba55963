"""How an upload ends early: refused before anything was sent, or stopped part way with an account."""

from __future__ import annotations


class UploadRefused(ValueError):
    """Nothing was sent; the message says why and what to do."""


class UploadStopped(Exception):
    """The upload ended early (a file could not be written, or it was asked to stop).

    `cause` says why; `account` what was sent in this run and how to continue. Every batch that
    was sent is in the journal, answered or marked outcome-unknown, so the same upload resumes.
    """

    def __init__(self, cause: str, account: str, *, requested: bool = False) -> None:
        super().__init__(f"{cause}. {account}")
        self.cause = cause
        self.account = account
        self.requested = requested  # stopped on request (a signal), not by a failure
