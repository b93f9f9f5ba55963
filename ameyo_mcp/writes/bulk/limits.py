"""Batch limits, kept apart from the engine so the tool's schema can name them without loading it."""

from __future__ import annotations

DEFAULT_BATCH = 500
DEFAULT_CONCURRENCY = 4
MAX_BATCH = 5000
MAX_CONCURRENCY = 16  # the client's connection pool
