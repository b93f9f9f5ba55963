"""`ameyo-mcp` with a look inside, for `bench_soak.py --probe`: the same command, plus a thread that
writes a JSON line to FILE every few seconds with what Python holds (pymalloc blocks, objects the
collector tracks, pymalloc's arenas, tracemalloc's count when PYTHONTRACEMALLOC is set, and glibc's
malloc: in use, free but kept, mapped apart) beside the process's RSS, and
that calls glibc's `malloc_trim(0)` every `SOAK_TRIM_S` seconds when that is set (the RSS before and
after each trim is in the line), so that a growing RSS can be told apart as Python objects or as
memory the allocator keeps.

    python bench/soak_probe.py FILE [ameyo-mcp arguments]
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in [
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        ]
    ]


def pymalloc() -> dict[str, int]:
    """pymalloc's arenas and the bytes in blocks in use, in KiB, from `sys._debugmallocstats`,
    which writes to the C stderr: it is pointed at a file for the moment."""
    import tempfile

    found: dict[str, int] = {}
    with tempfile.TemporaryFile() as out:
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        for line in out.read().decode(errors="replace").splitlines():
            if " arenas * " in line and "bytes/arena" in line:
                found["pymalloc_arenas_kib"] = int(line.split("=")[1].replace(",", "")) // 1024
            elif line.startswith("# bytes in allocated blocks"):
                found["pymalloc_used_kib"] = int(line.split("=")[1].replace(",", "")) // 1024
    return found


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def probe(out: Path, every_s: float, trim_every_s: float) -> None:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    trimmed_at = time.monotonic()
    while True:
        time.sleep(every_s)
        line: dict[str, object] = {"t": time.time(), "rss_kib": rss_kib(), "blocks": sys.getallocatedblocks()}
        # glibc's own count, all arenas: in use, free but kept, and large blocks mapped on their own.
        info = libc.mallinfo2()
        line |= {
            "malloc_used_kib": info.uordblks // 1024,
            "malloc_free_kib": info.fordblks // 1024,
            "malloc_mapped_kib": info.hblkhd // 1024,
        } | pymalloc()
        if tracemalloc.is_tracing():
            line["traced_kib"] = tracemalloc.get_traced_memory()[0] // 1024
        objects = gc.get_objects()
        line["objects"] = len(objects)
        line["top_types"] = Counter(type(o).__name__ for o in objects).most_common(12)
        del objects
        if trim_every_s > 0 and time.monotonic() - trimmed_at >= trim_every_s:
            before = rss_kib()
            libc.malloc_trim(0)
            line["trim_kib"] = before - rss_kib()
            trimmed_at = time.monotonic()
        with out.open("a") as file:
            file.write(json.dumps(line) + "\n")


def main() -> None:
    out = Path(sys.argv[1])
    every_s = float(os.environ.get("SOAK_PROBE_S", "10"))
    trim_every_s = float(os.environ.get("SOAK_TRIM_S", "0"))
    threading.Thread(target=probe, args=(out, every_s, trim_every_s), daemon=True, name="soak-probe").start()
    from ameyo_mcp.cli.main import main as ameyo_main

    sys.exit(ameyo_main(sys.argv[2:]))


if __name__ == "__main__":
    main()
