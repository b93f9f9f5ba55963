"""Logging to stderr only (on stdio, stdout belongs to the protocol), with secrets masked."""

from __future__ import annotations

import logging
import sys

from .client import quiet_http_loggers
from .redact import RedactingFilter


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
