"""One thread writes every push to the store, many at a time: a commit per batch, not per push.

Requests wait on a future that resolves only after their batch is committed, so a 200 always
means durable; meanwhile the pushes that arrive during one commit make up the next batch, which is
how a single SQLite file keeps up with hundreds of pushes a second. The pushes of one turn of an
event loop are handed over together: handed one by one, the thread woke for the first of a burst
and committed it alone, a commit (and a disk flush) more for every burst. The same thread prunes
old events now and then, so nothing else needs a schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import StoreError, StoreFailed, StoreUnreachable
from ..store.records import CallEvent

log = logging.getLogger(__name__)

MAX_BATCH = 500
PRUNE_EVERY_S = 3600.0

WriteBatch = Callable[[Sequence[CallEvent]], list[bool]]
Prune = Callable[[], int]


@dataclass
class _Job:
    event: CallEvent
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[bool]


class BatchWriter:
    """`await writer.add(event)` → True when stored now, False when it was stored before."""

    def __init__(
        self, write: WriteBatch, prune: Prune | None = None, *, prune_every_s: float = PRUNE_EVERY_S
    ):
        self._write = write
        self._prune = prune
        self._prune_every_s = prune_every_s
        self._jobs: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        # Each event loop's pushes of its current turn, handed over at the end of the turn. Only
        # that loop's thread touches its entry.
        self._turn: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._next_prune = time.monotonic()
        self._refused = 0  # pushes refused since the store last committed

    async def add(self, event: CallEvent) -> bool:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        jobs = self._turn.get(loop)
        if jobs is None:
            jobs = self._turn[loop] = []
            loop.call_soon(self._hand_over, loop)
        jobs.append(_Job(event, loop, future))
        return await future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        jobs = self._turn.pop(loop)
        self.start()
        self._jobs.put(jobs)

    def close(self) -> None:
        """Finish the batches already queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout=30)

    def start(self) -> None:
        """Start the thread now (it also starts with the first push): pruning runs from here on."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                # A daemon: a process that is stopping does not wait for pushes nobody was told
                # were stored.
                self._thread = threading.Thread(target=self._run, name="ameyo-receiver-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                first = self._jobs.get(timeout=self._idle_wait())
            except queue.Empty:
                self._maybe_prune()
                continue
            if first is None:
                return
            batch = first
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    jobs = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if jobs is None:
                    stop = True
                    break
                batch.extend(jobs)
            for start in range(0, len(batch), MAX_BATCH):
                self._commit(batch[start : start + MAX_BATCH])
            self._maybe_prune()
            if stop:
                return

    def _idle_wait(self) -> float | None:
        if self._prune is None:
            return None
        return max(1.0, self._next_prune - time.monotonic())

    def _commit(self, batch: list[_Job]) -> None:
        try:
            results = self._write([job.event for job in batch])
        except StoreUnreachable as exc:
            # No event is to blame, and each try would wait for the database again: the batch is
            # refused at once (503), and the next push tries a new connection.
            self._failed(len(batch), exc)
            _settle_all(batch, [StoreFailed("the store could not commit the push")] * len(batch))
            return
        except Exception as exc:
            if len(batch) == 1:
                self._failed(1, exc)
                _settle_all(batch, [StoreFailed("the store could not commit the push")])
                return
            # One bad event must not cost the others: halve the batch until it stands alone (a
            # few commits more, not one per push).
            half = len(batch) // 2
            self._commit(batch[:half])
            self._commit(batch[half:])
            return
        if self._refused:
            log.warning("storing pushed call events again (%d were refused meanwhile)", self._refused)
            self._refused = 0
        _settle_all(batch, results)

    def _failed(self, count: int, exc: Exception) -> None:
        """Say once that pushes are being refused, not once per push while the store is down."""
        if not isinstance(exc, StoreError):
            log.exception("could not store a pushed call event")
        elif not self._refused:
            log.warning("could not store pushed call events; answering 503 until it works again: %s", exc)
        self._refused += count

    def _maybe_prune(self) -> None:
        if self._prune is None or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + self._prune_every_s
        try:
            removed = self._prune()
        except Exception:
            log.exception("could not prune old call events")
            return
        if removed:
            log.info("pruned %d call events past the retention", removed)


def _settle_all(batch: list[_Job], outcomes: Sequence[bool | BaseException]) -> None:
    """Tell each request of a batch its outcome: one wake-up of each event loop for the whole
    batch, not one per push (each is a write to the loop's self-pipe)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, bool | BaseException]]] = {}
    for job, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(job.loop, []).append((job, outcome))

    def deliver(settled: list[tuple[_Job, bool | BaseException]]) -> None:
        for job, outcome in settled:
            if job.future.done():  # a request cancelled (client gone) has nobody to tell
                continue
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)

    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: the requests are gone
            loop.call_soon_threadsafe(deliver, settled)
