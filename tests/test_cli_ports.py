"""A port already in use, met by the commands that listen (the HTTP server, the demo, the receiver,
the simulator): each says so before it claims to serve, and ends without a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_transports import clean_env


@pytest.mark.network
def test_a_taken_port_is_named_before_anything_claims_to_serve(tmp_path: Path) -> None:
    env = clean_env(tmp_path) | {
        "AMEYO_BASE_URL": "http://127.0.0.1:9",
        "AMEYO_USER_ID": "CustomerManager",
        "AMEYO_PASSWORD": "pw-not-used-here",
        "AMEYO_TIMEZONE": "Asia/Kolkata",
        "AMEYO_DATABASE_URL": str(tmp_path / "index.db"),
        "AMEYO_PUSH_TOKEN": "push-token-0123456789",
    }
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        commands = {
            "demo": ["--demo", "--transport", "http", "--port", port],
            "server": ["--transport", "http", "--port", port],
            "receiver": ["receiver", "--port", port],
            "simulator": ["simulator", "--port", port],
        }
        # At once: each process costs its start-up time, not the sum of them.
        running = {
            name: subprocess.Popen(
                [sys.executable, "-m", "ameyo_mcp", *argv],
                env=env,
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, argv in commands.items()
        }
        ended = {name: (p.communicate(timeout=60), p.returncode) for name, p in running.items()}
    for name, ((out, err), code) in ended.items():
        said = f"{name}: {code} {err!r}"
        assert code != 0 and out == "", said
        assert f"port {port} on 127.0.0.1 is already in use" in err.lower() and "--port" in err, said
        assert len(err.strip().splitlines()) <= 2 and "Traceback" not in err, said
        # Nothing claims to serve, nor starts the demo's simulator, before the port is known free.
        assert not any(word in err for word in ("serving", "receiving", "listening", "demo mode")), said


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--port", "99999"], "argument --port: '99999' is not a whole number from 0 to 65535"),
        (["receiver", "--port", "-1"], "argument --port: '-1' is not a whole number from 0 to 65535"),
        (["upload", "f.csv", "--campaign", "1", "--lead", "21", "--batch-size", "0"], "--batch-size: '0'"),
        (["upload", "f.csv", "--campaign", "1", "--lead", "21", "--concurrency", "-1"], "from 1 to 16"),
    ],
)
def test_numbers_out_of_range_are_refused_not_clamped(tmp_path: Path, argv: list[str], said: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ameyo_mcp", *argv],
        env=clean_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
