"""One SQLite store shared by processes that come and go: the server (its store, and the watch of
today's calls on a connection of its own) keeps running while a CLI command opens the same file and
closes it again. What the server stores afterwards must reach every other process."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from ameyo_mcp.store import CallEvent, Store

COUNT = """
import sys
from ameyo_mcp.store import CallQuery, Store
with Store(sys.argv[1]) as store:
    print(store.call_history(CallQuery(limit=1)).total)
"""


def counted_elsewhere(database: Path) -> int:
    done = subprocess.run(
        [sys.executable, "-c", COUNT, str(database)], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_what_the_server_stores_after_a_cli_command_came_and_went_reaches_other_processes(
    tmp_path: Path,
) -> None:
    database = tmp_path / "index.db"
    now = datetime.now(UTC)
    with Store(str(database)) as server, Store(str(database), name="ameyo-mcp calls watch") as watch:
        server.add_calls([CallEvent(received_at=now, call_id="before")])
        watch.calls_changed(0)  # a first subscriber: the watch opens its connection
        assert counted_elsewhere(database) == 1  # a CLI command: opens the store, reads, closes
        server.add_calls([CallEvent(received_at=now, call_id="after")])
        assert counted_elsewhere(database) == 2
