"""Warnings logged while a tool runs, passed on to the client as MCP log notifications (as well as
to stderr), at or above the level the client set with `logging/setLevel`.

A logging handler cannot await, so records are collected per call (a context variable follows the
call into every task it starts) and sent when the tool returns, before its answer.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, get_args

from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import LoggingLevel

from ..rules.redact import RedactingFilter

LEVELS: tuple[str, ...] = get_args(LoggingLevel)
MAX_PER_CALL = 20
PACKAGE_LOGGER = "ameyo_mcp"

_pending: ContextVar[list[tuple[LoggingLevel, str, str]] | None] = ContextVar(
    "ameyo_client_log", default=None
)


def _level(levelno: int) -> LoggingLevel:
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    return "info" if levelno >= logging.INFO else "debug"


def at_least(level: str, threshold: str) -> bool:
    return LEVELS.index(level) >= LEVELS.index(threshold) if threshold in LEVELS else True


SERVER_ONLY = {"server_only": True}
"""`extra` of a record that stays in the server's log: a traceback is for whoever runs the server,
not for the client."""


class ClientLogHandler(logging.Handler):
    """Collects the records of the running call (but those logged with `SERVER_ONLY`); outside a
    call it does nothing."""

    def __init__(self) -> None:
        super().__init__()
        # Secrets are masked before a record can leave the process this way too.
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        pending = _pending.get()
        if getattr(record, "server_only", False):
            return
        if pending is not None and len(pending) < MAX_PER_CALL:
            pending.append((_level(record.levelno), record.name, record.getMessage()))


def install() -> None:
    """Attach the handler to the package's logger once (every server in a process shares it)."""
    package = logging.getLogger(PACKAGE_LOGGER)
    if not any(isinstance(h, ClientLogHandler) for h in package.handlers):
        package.addHandler(ClientLogHandler())


@asynccontextmanager
async def forwarded(context: Any, threshold: str) -> AsyncIterator[None]:
    """Send what the package logs inside this block to the client of `context` (an MCP Context)."""
    token = _pending.set([])
    try:
        yield
    finally:
        entries = _pending.get() or []
        _pending.reset(token)
        for level, name, text in entries:
            if at_least(level, threshold):
                await _send(context, level, name, text)


async def _send(context: Any, level: LoggingLevel, name: str, text: str) -> None:
    try:
        with warnings.catch_warnings():
            # The SDK marks logging deprecated for the 2026 protocol, where it is a per-request
            # opt-in; clients of the earlier protocols still rely on it.
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await context.request_context.session.send_log_message(
                level=level, data=text, logger=name, related_request_id=context.request_id
            )
    except Exception:  # a log line must never turn an answer into a failure
        logging.getLogger(__name__).debug("could not send a log notification", exc_info=True)
