"""The audit trail on real files: a file a UTC day, lines that reach the disk as the write path
promises across the turn of a day, old days deleted, and processes sharing one folder without losing
or mixing a line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mcp import Client

from ameyo_mcp.simulator import SimulatorThread
from ameyo_mcp.writes.audit import AuditLog, day_file, read_trail, trail_files
from tests.conftest import server_of, settings_for, text_of

MIDNIGHT = datetime(2026, 12, 7, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fsynced(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What `os.fsync` was given, by the path of the descriptor (the flush itself still happens)."""
    paths: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    yield paths


def test_each_line_goes_to_the_file_of_its_utc_day_and_is_read_back_across_them(tmp_path: Path) -> None:
    clock = Clock(MIDNIGHT - timedelta(milliseconds=1))
    trail = AuditLog(tmp_path / "audit.jsonl", ameyo="http://ameyo", clock=clock)
    trail.append("intent", call_id="a")
    trail.write("result", call_id="a")
    clock.now = MIDNIGHT
    trail.append("intent", call_id="b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit-2026-12-06.jsonl", "audit-2026-12-07.jsonl"]
    before, after = (day_file(tmp_path / "audit.jsonl", day) for day in ("2026-12-06", "2026-12-07"))
    assert [json.loads(line)["event"] for line in before.read_text().splitlines()] == ["intent", "result"]
    assert json.loads(after.read_text())["ts"] == "2026-12-07T00:00:00.000+00:00"
    assert [(e["event"], e["call_id"]) for e in read_trail(tmp_path / "audit.jsonl")] == [
        ("intent", "a"),
        ("result", "a"),
        ("intent", "b"),
    ]
    assert oct(after.stat().st_mode & 0o777) == "0o600"


def test_a_result_of_yesterday_reaches_the_disk_with_the_first_intent_of_today(
    tmp_path: Path, fsynced: list[str]
) -> None:
    """An intent flushes the results before it, even those in yesterday's file, and the folder entry
    of a day file it made: a power cut after it loses neither."""
    clock = Clock(MIDNIGHT - timedelta(seconds=5))
    trail = AuditLog(tmp_path / "audit.jsonl", ameyo="http://ameyo", clock=clock)
    trail.append("intent", call_id="a")
    fsynced.clear()
    trail.write("result", call_id="a")  # not flushed on its own: a bulk upload writes many
    assert fsynced == []
    clock.now = MIDNIGHT
    trail.append("intent", call_id="b")
    yesterday, today = (str(day_file(tmp_path / "audit.jsonl", d)) for d in ("2026-12-06", "2026-12-07"))
    assert sorted(fsynced) == sorted([today, str(tmp_path), yesterday])
    fsynced.clear()
    trail.append("intent", call_id="c")
    assert fsynced == [today]  # nothing else was left to flush


def test_days_older_than_the_kept_ones_are_deleted_on_the_first_line_of_a_day(tmp_path: Path) -> None:
    name = tmp_path / "audit.jsonl"
    for back in range(6):  # the 1st to the 6th of December
        day_file(name, (MIDNIGHT - timedelta(days=back + 1)).date().isoformat()).write_text("{}\n")
    others = [
        tmp_path / "audit-notes.jsonl",
        tmp_path / "audit-2026-13-45.jsonl",
        tmp_path / "other-2020-01-01.jsonl",
    ]
    for other in others:
        other.write_text("kept\n")
    name.write_text('{"event": "intent"}\n')  # the single file of earlier versions, last written 10 days ago
    ten_days_ago = (MIDNIGHT - timedelta(days=10)).timestamp()
    os.utime(name, (ten_days_ago, ten_days_ago))
    clock = Clock(MIDNIGHT + timedelta(hours=9))
    AuditLog(name, ameyo="http://ameyo", days=3, clock=clock).append("intent", call_id="a")
    # Today (the 7th) and the three days before it are kept: no line younger than 3 days is deleted.
    days = [p.name for p in trail_files(name)]
    assert days == [f"audit-2026-12-0{d}.jsonl" for d in (4, 5, 6, 7)]
    assert all(other.exists() for other in others)
    # The file of earlier versions stays while it holds a line younger than the kept days.
    name.write_text('{"event": "intent"}\n')
    clock.now += timedelta(days=1)
    AuditLog(name, ameyo="http://ameyo", days=3, clock=clock).append("intent", call_id="b")
    assert [p.name for p in trail_files(name)][:2] == ["audit.jsonl", "audit-2026-12-05.jsonl"]


@pytest.mark.anyio
async def test_the_setting_keeps_the_days_of_the_servers_trail(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """A write through the server goes to today's file, and deletes days older than AMEYO_AUDIT_DAYS."""
    today = datetime.now(UTC).date()
    old = tmp_path / f"audit-{today - timedelta(days=3)}.jsonl"
    kept = tmp_path / f"audit-{today - timedelta(days=2)}.jsonl"
    old.write_text("{}\n")
    kept.write_text("{}\n")
    settings = settings_for(simulator, tmp_path, AMEYO_AUDIT_DAYS="2")
    assert settings.audit_days == 2

    async with Client(server_of(simulator, settings)) as client:
        done = await client.call_tool(
            "ameyo_add_callback",
            {"campaign": 1, "customer_id": 12001, "callback_time": "2031-05-01T11:00:00"},
        )
        assert not done.is_error, text_of(done)
    assert not old.exists() and kept.exists()
    lines = (tmp_path / f"audit-{today}.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["intent", "result"]


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from ameyo_mcp.writes.audit import AuditLog

    name, who, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    start = datetime(2026, 12, 7, tzinfo=UTC) - timedelta(milliseconds=count // 2)
    n = 0

    def clock() -> datetime:
        return start + timedelta(milliseconds=n)

    trail = AuditLog(name, ameyo="http://ameyo", clock=clock)
    padding = "x" * 3000  # longer lines than a pipe's atomic write: only O_APPEND keeps them whole
    for n in range(count):
        (trail.append if n % 10 == 0 else trail.write)("result", who=who, n=n, padding=padding)
    """
)


def test_processes_sharing_a_folder_lose_and_mix_no_line_across_midnight(tmp_path: Path) -> None:
    name, count = tmp_path / "audit.jsonl", 1500
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(name), who, str(count)], env=env)
        for who in ("server", "cli")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    seen: dict[str, list[int]] = {"server": [], "cli": []}
    for file in trail_files(name):
        day = file.name.removeprefix("audit-").removesuffix(".jsonl")
        for line in file.read_text().splitlines():
            entry = json.loads(line)  # a line mixed with another would not parse
            assert entry["ts"].startswith(day), (file.name, entry["ts"])
            seen[entry["who"]].append(entry["n"])
    assert [p.name for p in trail_files(name)] == ["audit-2026-12-06.jsonl", "audit-2026-12-07.jsonl"]
    assert seen == {"server": list(range(count)), "cli": list(range(count))}


def test_a_trail_that_cannot_be_written_is_an_oserror_and_names_its_file(tmp_path: Path) -> None:
    (tmp_path / "trail").write_text("")  # a file where the trail's folder should be
    trail = AuditLog(tmp_path / "trail" / "audit.jsonl", ameyo="http://ameyo", clock=Clock(MIDNIGHT))
    with pytest.raises(OSError):
        trail.append("intent", call_id="a")
    assert trail.current == tmp_path / "trail" / "audit-2026-12-07.jsonl"
    trail.write("result", call_id="a")  # only logged: the write was sent and is still reported
