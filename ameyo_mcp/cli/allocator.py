"""glibc's malloc in a process that serves for weeks: at most two arenas.

glibc gives threads arenas of their own, up to eight per core, and keeps the memory freed in each
for reuse there. A server's worker threads come and go (store calls run in them), so freed memory
piles up in arenas no thread is using: in `bench/bench_soak.py` the memory malloc kept free grew from
8 to 15 MiB in 15 minutes, and RSS with it, while Python's own memory stayed flat; with two arenas
it stayed at 5 MiB and RSS rose 2 MiB instead of 9, at no measurable cost in CPU or latency
(bench/README.md, "Memory under a soak"). The interpreter lock lets one thread run Python at a
time, so two arenas are rarely contended.
"""

from __future__ import annotations

ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def fewer_arenas(*, given_by_environment: bool) -> bool:
    """Limit glibc's arenas to `ARENAS` for the rest of the process (those made so far stay), unless
    MALLOC_ARENA_MAX already set them; whether it did. Elsewhere than glibc (musl, macOS), nothing."""
    if given_by_environment:
        return False
    import ctypes  # here: a command that does not serve does not pay for it

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, ARENAS))
