"""An option the command accepts does something, or the command refuses it before it starts
anything: a person who gave it believes it did."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_transports import run_cli


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        # The demo's index is throwaway: a demo server syncs its own, and this would fill another.
        (["sync", "--demo"], "ameyo-mcp sync: --demo has no index to fill"),
        (["--demo", "sync", "--campaign", "1"], "ameyo-mcp sync: --demo has no index to fill"),
        # The demo reads no AMEYO_PUSH_TOKEN: it was refused as not set, which no setting could fix.
        (["receiver", "--demo"], "ameyo-mcp receiver: --demo has no pushes to receive"),
    ],
)
def test_demo_is_refused_where_it_would_do_nothing(tmp_path: Path, argv: list[str], said: str) -> None:
    done = run_cli(tmp_path, *argv)
    err = done.stderr
    assert done.returncode == 2 and said in err and done.stdout == "", err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "demo mode" not in err, err  # refused before the demo's simulator starts


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        # The receiver listened on its own default, 8010, as if no port had been given.
        (["--port", "33790", "receiver"], "ameyo-mcp receiver: --port before the command's name"),
        (
            ["--host", "0.0.0.0", "simulator", "--port", "33791"],
            "ameyo-mcp simulator: --host before the command's name",
        ),
        (["--transport", "http", "check"], "ameyo-mcp check: --transport before the command's name"),
        # Over stdio the server listens on no port.
        (["--port", "33790"], "ameyo-mcp: --port is for --transport http"),
        (["--host", "0.0.0.0", "--demo"], "ameyo-mcp: --host is for --transport http"),
    ],
)
def test_the_servers_own_options_are_refused_where_nothing_reads_them(
    tmp_path: Path, argv: list[str], said: str
) -> None:
    done = run_cli(tmp_path, *argv)
    err = done.stderr
    assert done.returncode == 2 and said in err and done.stdout == "", err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not any(word in err for word in ("demo mode", "receiving", "listening")), err


@pytest.mark.parametrize(
    "argv",
    [
        ["--demo", "--env-file", "prod.env"],
        ["config", "--demo", "--env-file", "prod.env"],
        ["--env-file", "prod.env", "check", "--demo"],
    ],
)
def test_a_settings_file_is_refused_with_the_demo_which_reads_none(tmp_path: Path, argv: list[str]) -> None:
    """The demo's settings are the simulator's: a settings file named with it was never read, and
    `config` printed an entry without it, as if it had been taken."""
    (tmp_path / "prod.env").write_text("AMEYO_BASE_URL=https://ameyo.example.com\n", encoding="utf-8")
    done = run_cli(tmp_path, *argv)
    err = done.stderr
    assert done.returncode == 2 and "--env-file is not read with --demo" in err and done.stdout == "", err
    assert len(err.strip().splitlines()) == 1 and "demo mode" not in err, err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        # The simulator dials and pushes only with a URL to push to: these were taken and ignored.
        (["simulator", "--port", "33952", "--push-rate", "5"], "--push-rate is for --push-url"),
        (
            ["simulator", "--port", "33952", "--push-shape", "json", "--push-rate", "2"],
            "--push-rate and --push-shape are for --push-url",
        ),
        # With --demo, check logs in (the demo has no AMEYO_HASH_KEY): --campaign went unread.
        (["check", "--demo", "--campaign", "3"], "--campaign is read only with AMEYO_HASH_KEY"),
    ],
)
def test_an_option_read_only_with_another_is_refused_without_it(
    tmp_path: Path, argv: list[str], said: str
) -> None:
    done = run_cli(tmp_path, *argv)
    err = done.stderr
    assert done.returncode == 2 and f"ameyo-mcp {argv[0]}: {said}" in err and done.stdout == "", err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not any(word in err for word in ("demo mode", "login of", "listening")), err


def test_check_refuses_a_campaign_it_would_not_read(tmp_path: Path) -> None:
    """Without AMEYO_HASH_KEY check logs in and lists every campaign: the campaign given was passed
    over, and the check's lines read as if it had been looked at."""
    (tmp_path / "prod.env").write_text(
        "AMEYO_BASE_URL=http://127.0.0.1:9\nAMEYO_USER_ID=u\nAMEYO_PASSWORD=p-123456\n", encoding="utf-8"
    )
    done = run_cli(tmp_path, "check", "--env-file", "prod.env", "--campaign", "3")
    err = done.stderr
    assert done.returncode == 2 and done.stdout == "", (done.stdout, err)
    assert (
        "ameyo-mcp check: --campaign is read only with AMEYO_HASH_KEY" in err and "set AMEYO_HASH_KEY" in err
    )
    assert len(err.strip().splitlines()) == 1, err
