"""CPU seconds of processes (Linux /proc), and the rate a machine's cores allow at a given cost.

Imported by benches' child processes too: nothing heavy here."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_s(pid: int) -> float:
    """User and system CPU seconds of process `pid` so far."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS


def children_cpu_s() -> float:
    """User and system CPU seconds of this process's children that were waited for."""
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def postgres_cpu_s(pgdata: Path) -> float:
    """CPU seconds of the PostgreSQL server of `pgdata` so far: the postmaster, the backends it
    has reaped (its children's time) and those still running. Counted before and after a run, the
    difference is what the server spent on it, connections that closed meanwhile included."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            fields = _stat(pid)
        except OSError:  # it ended meanwhile: its time is in the postmaster's children's now
            continue
        if pid == postmaster or int(fields[1]) == postmaster:
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICKS


def ceiling(cpu_per_unit_s: float, cores: int | None = None) -> float:
    """Units a second the machine's cores allow when the processes need `cpu_per_unit_s` of CPU
    in all per unit: every core busy all the time, nothing waiting. No run does better."""
    return (cores or os.cpu_count() or 1) / cpu_per_unit_s
