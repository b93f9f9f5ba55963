"""Logging to stderr only (on stdio, stdout belongs to the protocol), with secrets masked."""

from __future__ import annotations

import logging
import sys

from .redact import RedactingFilter


def quiet_http_loggers() -> None:
    """httpx logs every request's full URL at INFO; keep it (and httpcore's DEBUG chatter) out."""
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def setup_logging(level: str = "WARNING") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_http_loggers()
