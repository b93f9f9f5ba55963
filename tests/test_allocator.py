"""A serving process keeps at most two glibc arenas however many threads allocate, unless
MALLOC_ARENA_MAX says otherwise. Each case runs in a process of its own: arenas are the process's."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc"
)

# Eight threads allocate at the same moment, then glibc says how many arenas the process has.
THREADS = """
import ctypes, sys, threading
from ameyo_mcp.cli.allocator import fewer_arenas
from ameyo_mcp.config import malloc_arenas_given

if sys.argv[1] == "serving":
    fewer_arenas(given_by_environment=malloc_arenas_given())
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
together = threading.Barrier(8)

def allocate():
    together.wait()
    held = [libc.malloc(1000) for _ in range(200)]
    together.wait()

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.malloc_stats()
"""


def arenas(how: str, **env: str) -> int:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    environment["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", THREADS, how], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_a_serving_process_keeps_two_arenas_where_glibc_would_make_one_a_thread() -> None:
    assert arenas("plain") > 2  # the eight threads' arenas, as glibc makes them
    assert arenas("serving") == 2


def test_malloc_arena_max_in_the_environment_stands() -> None:
    assert arenas("serving", MALLOC_ARENA_MAX="4") == 4
