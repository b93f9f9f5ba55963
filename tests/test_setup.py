"""Set-up as a new user meets it, through the real `ameyo-mcp` process: --version, the Claude
Desktop entry, a missing settings file, an unset server zone, whole-number settings."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from ameyo_mcp import __version__
from ameyo_mcp.simulator import SimulatorThread
from tests.test_transports import clean_env, run_cli


def sim_env_file(simulator: SimulatorThread, folder: Path, *extra: str) -> Path:
    """A `.env` in `folder` for the simulator, without AMEYO_TIMEZONE unless given in `extra`."""
    lines = [
        f"AMEYO_BASE_URL={simulator.base_url}",
        f"AMEYO_USER_ID={simulator.state.config.user_id}",
        f"AMEYO_PASSWORD={simulator.state.config.password}",
        "AMEYO_SESSION_FILE=none",
        f"AMEYO_AUDIT_FILE={folder / 'audit.jsonl'}",
        *extra,
    ]
    path = folder / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_version(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ameyo-mcp {__version__}"


@pytest.mark.anyio
async def test_desktop_config_starts_from_anywhere_without_path(tmp_path: Path) -> None:
    """The printed entry works as Claude Desktop runs it: another folder, and no PATH at all."""
    done = run_cli(tmp_path, "config", "--demo")
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)["mcpServers"]["ameyo"]
    assert Path(entry["command"]).is_absolute() and "--demo" in entry["args"]
    assert "claude_desktop_config.json" in done.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"HOME": str(tmp_path)}  # no PATH: only an absolute command can start
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=env, cwd=str(elsewhere))
    async with Client(params) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "ameyo_get_contacts" in names


def test_desktop_config_names_the_settings_file_by_absolute_path(tmp_path: Path) -> None:
    missing = run_cli(tmp_path, "config")
    assert missing.returncode == 2 and str(tmp_path / ".env") in missing.stderr and not missing.stdout
    (tmp_path / "prod.env").write_text(
        "AMEYO_BASE_URL=http://127.0.0.1:9\nAMEYO_USER_ID=CustomerManager\nAMEYO_PASSWORD=pw\n"
    )
    done = run_cli(tmp_path, "config", "--env-file", "prod.env")
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)["mcpServers"]["ameyo"]
    assert entry["args"][-2:] == ["--env-file", str(tmp_path / "prod.env")]


def test_desktop_config_refuses_a_settings_file_the_server_would_refuse(tmp_path: Path) -> None:
    """Claude Desktop shows a server that will not start only as disconnected: the entry is not
    printed, and the exit status says so, for settings the server itself would stop at."""
    (tmp_path / "prod.env").write_text(
        "AMEYO_BASE_URL=http://127.0.0.1:9\nAMEYO_USER_ID=CustomerManager\nAMEYO_CONFIRM_OVER=abc\n"
    )
    server = run_cli(tmp_path, "--env-file", "prod.env")
    assert server.returncode == 2, server.stderr
    done = run_cli(tmp_path, "config", "--env-file", "prod.env")
    assert done.returncode == 2 and not done.stdout, (done.returncode, done.stdout)
    assert "AMEYO_PASSWORD is not set" in done.stderr and "AMEYO_CONFIRM_OVER" in done.stderr


def uvx_environment(tmp_path: Path, *, from_index: bool) -> tuple[Path, Path]:
    """An environment laid out as uvx lays one out, in a uv cache of `tmp_path`, that runs this
    checkout; with `from_index`, recorded as installed from the package index (no direct URL).
    Returns its python and the uvx beside a uv, as uv names it to what it runs (`UV`)."""
    here = Path(sysconfig.get_paths()["purelib"])
    env = tmp_path / "uv-cache" / "archive-v0" / "AbC123xyz"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=60)
    site = Path(
        subprocess.run(
            [str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    )
    (site / "_checkout.pth").write_text(f"import site; site.addsitedir({str(here)!r})\n")
    if from_index:
        record = site / f"ameyo_mcp-{__version__}.dist-info"
        record.mkdir()
        (record / "METADATA").write_text(f"Metadata-Version: 2.1\nName: ameyo-mcp\nVersion: {__version__}\n")
    tools = tmp_path / "uv-bin"
    tools.mkdir()
    for name in ("uv", "uvx"):
        (tools / name).write_text("#!/bin/sh\nexit 0\n")
        (tools / name).chmod(0o755)
    return env / "bin" / "python", tools / "uvx"


@pytest.mark.parametrize("from_index", [False, True])
def test_desktop_config_under_uvx_names_uvx_and_the_package_not_the_cache(
    tmp_path: Path, from_index: bool
) -> None:
    python, uvx = uvx_environment(tmp_path, from_index=from_index)
    env = clean_env(tmp_path) | {"UV": str(uvx.with_name("uv")), "PATH": "/usr/bin:/bin"}

    def config_demo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), "-m", "ameyo_mcp", "config", "--demo"],
            env=env,
            cwd=str(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = config_demo()
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)["mcpServers"]["ameyo"]
    checkout = str(Path(__file__).resolve().parents[1])
    spec = f"ameyo-mcp=={__version__}" if from_index else checkout
    assert entry == {"command": str(uvx), "args": ["--from", spec, "ameyo-mcp", "--demo"]}
    assert "uv-cache" not in done.stdout
    # Not run by uv, and no uvx on PATH: the bare name, and what to do about it.
    del env["UV"]
    bare = config_demo()
    assert json.loads(bare.stdout)["mcpServers"]["ameyo"]["command"] == "uvx"
    assert "uvx is not on PATH here: write its full path in the entry" in bare.stderr


@pytest.mark.parametrize("command", [[], ["check"]])
def test_a_missing_env_file_is_named(tmp_path: Path, command: list[str]) -> None:
    done = run_cli(tmp_path, *command, "--env-file", "nope.env")
    assert done.returncode == 2
    assert "--env-file nope.env: no such file" in done.stderr and "AMEYO_BASE_URL" not in done.stderr


@pytest.mark.network
def test_check_warns_when_the_server_zone_is_not_set(simulator: SimulatorThread, tmp_path: Path) -> None:
    sim_env_file(simulator, tmp_path)
    done = run_cli(tmp_path, "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warn AMEYO_TIMEZONE is not set" in done.stdout
    assert "All checks passed, with the warnings above." in done.stdout
    sim_env_file(simulator, tmp_path, "AMEYO_TIMEZONE=Asia/Kolkata")
    clean = run_cli(tmp_path, "check").stdout
    assert "AMEYO_TIMEZONE" not in clean and clean.rstrip().endswith("All checks passed.")
    # A name in the settings file that is no setting is a warning too: the setting meant is unset.
    sim_env_file(simulator, tmp_path, "AMEYO_TIMEZONE=Asia/Kolkata", "AMEYO_AUDIT_DIR=audit")
    typo = run_cli(tmp_path, "check")
    assert "AMEYO_AUDIT_DIR" in typo.stderr, typo.stderr
    assert typo.stdout.rstrip().endswith("All checks passed, with the warnings above."), typo.stdout


@pytest.mark.network
def test_a_failed_check_names_the_command_with_its_settings_file(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    """`ameyo-mcp check` again, as it said, would read `.env`, another file than the one checked."""
    named = tmp_path / "simulator.env"
    sim_env_file(simulator, tmp_path, "AMEYO_TIMEZONE=Asia/Kolkata").rename(named)
    named.write_text(named.read_text().replace(simulator.state.config.password, "not-the-password-4f1a"))
    done = run_cli(tmp_path, "check", "--env-file", "simulator.env")
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stdout.rstrip().splitlines()[-1]
    assert (
        last
        == "Check failed: fix what is named above and run `ameyo-mcp check --env-file simulator.env` again."
    )


def test_server_warns_at_start_when_the_server_zone_is_not_set(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    sim_env_file(simulator, tmp_path)
    # The stdio server, whose input ends at once: it starts, warns, and stops.
    done = subprocess.run(
        [sys.executable, "-m", "ameyo_mcp"],
        env=clean_env(tmp_path),
        cwd=str(tmp_path),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "warning: AMEYO_TIMEZONE is not set" in done.stderr
    assert done.stdout == ""  # stdout belongs to the protocol


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("AMEYO_CONFIRM_OVER=lots", "AMEYO_CONFIRM_OVER must be a whole number, not 'lots'"),
        ("AMEYO_CONFIRM_OVER=2.7", "AMEYO_CONFIRM_OVER must be a whole number, not '2.7'"),
        ("AMEYO_MAX_REQUEST_BYTES=1e6", "AMEYO_MAX_REQUEST_BYTES must be a whole number"),
        ("AMEYO_TIMEOUT_S=soon", "AMEYO_TIMEOUT_S must be a number of seconds"),
    ],
)
def test_whole_number_settings_refuse_other_values(
    simulator: SimulatorThread, tmp_path: Path, setting: str, expected: str
) -> None:
    sim_env_file(simulator, tmp_path, "AMEYO_TIMEZONE=Asia/Kolkata", setting)
    done = run_cli(tmp_path, "check")
    assert done.returncode == 2 and expected in done.stderr, done.stderr


@pytest.mark.network
def test_seconds_settings_take_decimals(simulator: SimulatorThread, tmp_path: Path) -> None:
    sim_env_file(simulator, tmp_path, "AMEYO_TIMEZONE=Asia/Kolkata", "AMEYO_TIMEOUT_S=2.5")
    done = run_cli(tmp_path, "check")
    assert done.returncode == 0 and "All checks passed." in done.stdout, done.stdout + done.stderr


def test_every_bad_setting_is_told_at_once_and_misspelt_names_are_pointed_out(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "AMEYO_BASE_URL=http://127.0.0.1:9\n"
        "AMEYO_USER_ID=CustomerManager\n"
        "AMEYO_PASSWORD=pw-the-right-one-77\n"
        "AMEYO_TIMEOUT_S=soon\n"
        "AMEYO_LOG_LEVEL=chatty\n"
        "AMEYO_CALLING_HOURS=9-5pm\n"
        "AMEYO_SECRET_KEY=too-short-secret-31\n"
        "AMEYO_TYPO_SETTING=1\n"
        "AMEO_PASSWORD=misplaced-secret-42\n"
    )
    done = run_cli(tmp_path, "check")
    assert done.returncode == 2 and done.stdout == "", done.stderr
    said = done.stderr
    for name in ("AMEYO_TIMEOUT_S", "AMEYO_LOG_LEVEL", "AMEYO_CALLING_HOURS", "AMEYO_SECRET_KEY"):
        assert name in said, said
    assert "4 settings" in said, said
    warnings = [line for line in said.splitlines() if "warning:" in line]
    assert len(warnings) == 2, said
    assert any("AMEYO_TYPO_SETTING" in w and "unknown" in w for w in warnings), said
    assert any("AMEO_PASSWORD" in w and "did you mean AMEYO_PASSWORD?" in w for w in warnings), said
    for secret in ("pw-the-right-one-77", "too-short-secret-31", "misplaced-secret-42"):
        assert secret not in said


class _NotAmeyo(BaseHTTPRequestHandler):
    """Another web server on the port AMEYO_BASE_URL names: Not Found for everything."""

    def do_POST(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.network
def test_a_404_is_explained_by_the_url_actually_configured(tmp_path: Path) -> None:
    web = ThreadingHTTPServer(("127.0.0.1", 0), _NotAmeyo)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{web.server_address[1]}"
    try:
        (tmp_path / ".env").write_text(
            f"AMEYO_BASE_URL={base}\nAMEYO_USER_ID=CustomerManager\nAMEYO_PASSWORD=pw-123456\n"
            "AMEYO_TIMEZONE=Asia/Kolkata\nAMEYO_SESSION_FILE=none\n"
        )
        done = run_cli(tmp_path, "check")
    finally:
        web.shutdown()
        web.server_close()
    assert done.returncode == 1, done.stdout + done.stderr
    failure = next(line for line in done.stdout.splitlines() if "FAIL" in line)
    # The URL has no path to remove: what answered is not Ameyo, or not on that port.
    assert "without a path" not in failure and "has a path" not in failure, failure
    assert f"{base}/ameyowebaccess/command answered 404" in failure and "host and port" in failure, failure


def desktop_config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ameyo_mcp", "config", "--env-file", "prod.env"],
        env=clean_env(tmp_path) | env,
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_desktop_config_judges_the_file_alone_as_the_server_desktop_starts_reads_it(tmp_path: Path) -> None:
    """The entry names the file alone: a password in this shell is not the server's, and a file
    without one is refused here, saying so."""
    (tmp_path / "prod.env").write_text("AMEYO_BASE_URL=http://127.0.0.1:9\nAMEYO_USER_ID=CustomerManager\n")
    done = desktop_config(tmp_path, AMEYO_PASSWORD="from-my-shell")
    entry = json.loads(done.stdout)["mcpServers"]["ameyo"] if done.stdout.strip() else None
    assert entry is None or "env" in entry, (done.returncode, done.stdout)
    assert done.returncode == 2 and "AMEYO_PASSWORD is not set" in done.stderr, (done.returncode, done.stderr)
    assert "this shell's environment is not passed on" in done.stderr, done.stderr


def test_desktop_config_takes_a_good_file_whatever_the_shell_holds(tmp_path: Path) -> None:
    (tmp_path / "prod.env").write_text(
        "AMEYO_BASE_URL=http://127.0.0.1:9\nAMEYO_USER_ID=CustomerManager\nAMEYO_PASSWORD=pw\n"
    )
    done = desktop_config(tmp_path, AMEYO_CONFIRM_OVER="abc")
    assert done.returncode == 0, done.stderr
