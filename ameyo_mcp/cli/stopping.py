"""Long CLI work ended cleanly by SIGINT (Ctrl-C) or SIGTERM (kill, a service manager): the work is
told to stop and ends at its next safe point, the command says where it stopped, and it exits as
the signal would have (130, 143). A second signal ends the process the usual way."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio


@asynccontextmanager
async def stop_on_signals(stop: Callable[[], None]) -> AsyncIterator[list[str]]:
    """Within, the first SIGINT or SIGTERM calls `stop`; yields the names of the signals caught."""
    caught: list[str] = []

    async def watch() -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for number in signals:
                caught.append(signal.Signals(number).name)
                stop()
                return  # a second signal ends the process the usual way

    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            yield caught
        finally:
            group.cancel_scope.cancel()


def signal_words(name: str) -> str:
    """A signal as the person who sent it knows it."""
    return "Ctrl-C (SIGINT)" if name == "SIGINT" else name


def exit_status(name: str) -> int:
    """The status a process ended by signal `name` exits with, as shells report it."""
    return 128 + int(signal.Signals[name])
