"""The one error tree for everything that can go wrong between us and Ameyo.

Every message here is written for the person (or model) who must act on it, and is built only from
values that are safe to show: never a password, hash key or session id.
"""

from __future__ import annotations

from collections.abc import Sequence


class AmeyoError(Exception):
    """Base of every failure talking to Ameyo.

    `key` and `args_` keep Ameyo's own message key and arguments (e.g.
    `CustomerManager.lead.not.in.camp.11`, `(2, 1)`) so that callers can explain them.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        args: Sequence[object] = (),
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.args_ = tuple(args)
        self.outcome_unknown = outcome_unknown

    def __str__(self) -> str:
        return self.message


class SettingsError(AmeyoError):
    """A setting is missing or malformed; the message names the variable to fix."""


class AuthenticationFailed(AmeyoError):
    """Ameyo refused the credentials (login answered `null`, or the hash key was rejected)."""


class InvalidSession(AmeyoError):
    """Ameyo no longer knows the session: it did not run the command, so it is safe to retry."""


class CommandFailed(AmeyoError):
    """Ameyo ran the command and refused it (bad lead, unknown campaign, bad time, …)."""


class UpstreamUnavailable(AmeyoError):
    """Ameyo could not be reached, or answered with something that is not its API (HTML, garbage)."""


class UpstreamTimeout(UpstreamUnavailable):
    """No answer within the timeout."""
