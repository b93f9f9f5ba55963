"""What the benchmarks share: the machine, statistics, the simulator's settings, server processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mcp.client.stdio import StdioServerParameters

from ameyo_mcp.config import Settings, load_settings
from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
# Both servers start the same way: the interpreter running a module or a script, nothing else.
AMEYO_CMD: tuple[str, ...] = (PYTHON, "-m", "ameyo_mcp")
BARE_CMD: tuple[str, ...] = (PYTHON, str(BENCH / "bare_server.py"))
LOOPBACK = "127.0.0.1"


# -- the machine and the figures ----------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, {platform.system()}"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def header(title: str) -> None:
    print(f"== {title}")
    print(f"   machine: {machine()}")


def table(rows: Sequence[Sequence[object]], head: Sequence[str]) -> None:
    cells = [[str(c) for c in head], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    for n, row in enumerate(cells):
        print(
            "   "
            + "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("   " + "  ".join("-" * w for w in widths))


# -- the simulator ----------------------------------------------------------------------------------


def simulator(config: SimulatorConfig | None = None) -> SimulatorThread:
    """A simulator on a loopback port, to use as a context manager (`with simulator(...) as sim`)."""
    return SimulatorThread(config or SimulatorConfig(), host=LOOPBACK)


# -- settings pointing at a simulator started in this process -------------------------------------


def ameyo_env(sim: SimulatorThread, workdir: Path, **extra: str) -> dict[str, str]:
    """AMEYO_* variables for a server process (no `.env` is read: the process runs in `workdir`)."""
    cfg = sim.state.config
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    env.update(
        HOME=str(workdir),
        AMEYO_BASE_URL=sim.base_url,
        AMEYO_USER_ID=cfg.user_id,
        AMEYO_PASSWORD=cfg.password,
        AMEYO_TIMEZONE=cfg.timezone,
        AMEYO_SESSION_FILE="none",
        AMEYO_TIMEOUT_S="10",
        AMEYO_AUDIT_FILE=str(workdir / "audit.jsonl"),
        AMEYO_DATABASE_URL=str(workdir / "index.db"),
    )
    env.update(extra)
    return env


def ameyo_settings(sim: SimulatorThread, workdir: Path, **extra: str) -> Settings:
    env = {k: v for k, v in ameyo_env(sim, workdir, **extra).items() if k.startswith("AMEYO_")}
    return load_settings(env, env_file=None)


def bare_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    env["HOME"] = str(workdir)
    return env


def stdio_params(cmd: Sequence[str], env: Mapping[str, str], workdir: Path) -> StdioServerParameters:
    return StdioServerParameters(command=cmd[0], args=list(cmd[1:]), env=dict(env), cwd=str(workdir))


# -- server processes -------------------------------------------------------------------------------


def free_port() -> int:
    """A free loopback port: the system's pick, or one of BENCH_PORTS (e.g. `30500-30999`) on a
    machine whose users are each given a range."""
    low, _, high = os.environ.get("BENCH_PORTS", "").partition("-")
    for port in range(int(low), int(high) + 1) if low and high else [0]:
        with socket.socket() as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no free port in BENCH_PORTS={os.environ['BENCH_PORTS']}")


def wait_for_port(proc: subprocess.Popen[bytes], port: int, *, what: str, timeout_s: float = 30) -> None:
    """Until `proc` accepts connections on `port`; its stderr (when piped) in the error if it dies."""
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as sock:
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{what} did not start: {err[-2000:]}")
        time.sleep(0.02)


class SimulatorProcess:
    """A simulator in its own process with `contacts` contacts in campaign 1; its base URL.
    BENCH_SIMULATOR_PATH runs another build of it (e.g. the source tree of another branch)."""

    def __init__(self, contacts: int, password: str, *extra: str, timeout_s: float = 600) -> None:
        self.contacts, self.password, self.timeout_s = contacts, password, timeout_s
        self.extra = extra  # more of `ameyo-mcp simulator`'s options, e.g. "--names", "few-first"

    def __enter__(self) -> str:
        self.port = free_port()
        command = [PYTHON, "-m", "ameyo_mcp", "simulator", "--port", str(self.port)]
        command += ["--contacts", str(self.contacts), "--password", self.password, *self.extra]
        env = dict(os.environ)
        if os.environ.get("BENCH_SIMULATOR_PATH"):
            env["PYTHONPATH"] = os.environ["BENCH_SIMULATOR_PATH"]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for_port(self.process, self.port, what="the simulator", timeout_s=self.timeout_s)
        return f"http://{LOOPBACK}:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


def server_env(base_url: str, password: str, folder: Path, **extra: str) -> dict[str, str]:
    """This process's environment without its AMEYO_* settings, for a server of ours against the
    simulator process at `base_url`, its files in `folder`; `extra` adds or replaces settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    env.update(
        HOME=str(folder),
        AMEYO_BASE_URL=base_url,
        AMEYO_USER_ID="CustomerManager",
        AMEYO_PASSWORD=password,
        AMEYO_TIMEZONE="Asia/Kolkata",
        AMEYO_AUDIT_FILE=str(folder / "audit.jsonl"),
        AMEYO_SYNC_INTERVAL_S="0",
        AMEYO_TIMEOUT_S="30",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def http_server(cmd: Sequence[str], env: Mapping[str, str], workdir: Path) -> Iterator[tuple[str, int]]:
    """Start a server with `--transport http` on a free loopback port; yield its URL and pid."""
    port = free_port()
    proc = subprocess.Popen(
        [*cmd, "--transport", "http", "--host", LOOPBACK, "--port", str(port)],
        env=dict(env),
        cwd=str(workdir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(proc, port, what=f"{' '.join(cmd)} serving HTTP")
        yield f"http://{LOOPBACK}:{port}/mcp", proc.pid
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate, and kill what does not end within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def children() -> set[int]:
    """Pids of this process's live children (the stdio client starts its server as one)."""
    me = os.getpid()
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                found.add(int(entry.name))
    return found


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak RSS) of a process, in KiB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def first_leaf(exc: BaseException) -> BaseException:
    """The first real error inside nested exception groups (anyio task groups wrap them deeply)."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def run_async(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.run(main())
    except BaseExceptionGroup as group:
        raise first_leaf(group) from None
