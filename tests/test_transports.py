"""The real processes: `ameyo-mcp --demo` over stdio and over streamable HTTP, and `ameyo-mcp check`."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from ameyo_mcp.cli.check import run_check
from ameyo_mcp.simulator import SimulatorThread
from tests.conftest import http_process, server_of, settings_for, text_of

# Other processes and real connections are what these tests are about.
pytestmark = [pytest.mark.anyio, pytest.mark.network]


def clean_env(tmp_path: Path) -> dict[str, str]:
    """No AMEYO_* settings at all: the demo must work without any."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")}
    env["HOME"] = str(tmp_path)
    return env


def run_cli(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """`ameyo-mcp ARGV` in a real process, in `tmp_path`, with no AMEYO_* settings."""
    return subprocess.run(
        [sys.executable, "-m", "ameyo_mcp", *argv],
        env=clean_env(tmp_path),
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def conversation(client: Client) -> None:
    names = {t.name for t in (await client.list_tools()).tools}
    assert "ameyo_get_contacts" in names
    busy = await client.call_tool("ameyo_get_contacts", {"campaign": "MoviStarSurvey", "status": ["BUSY"]})
    assert not busy.is_error and "BUSY" in text_of(busy)
    callback = await client.call_tool(
        "ameyo_add_callback", {"campaign": 1, "customer_id": 12458, "callback_time": "2031-01-02T15:00:00"}
    )
    assert not callback.is_error, text_of(callback)
    assert "2031-01-02 15:00 Asia/Kolkata" in text_of(callback)


async def test_demo_over_stdio_with_no_settings(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "ameyo_mcp", "--demo"], env=clean_env(tmp_path), cwd=str(tmp_path)
    )
    async with Client(params) as client:
        await conversation(client)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    with http_process(clean_env(tmp_path), tmp_path, "--demo") as (url, _):
        yield url


async def test_demo_over_streamable_http(http_server: str) -> None:
    async with Client(http_server) as client:
        await conversation(client)


def test_check_cli_against_the_demo(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "check", "--demo")
    assert done.returncode == 0, done.stderr
    assert "ok  login as CustomerManager" in done.stdout and "All checks passed." in done.stdout
    # The demo's index is throwaway and it reads no settings file: `ameyo-mcp sync` is no advice
    # for it (it would fill another throwaway index).
    assert "no campaign synced yet (a demo server builds its own" in done.stdout, done.stdout
    assert "ameyo-mcp sync" not in done.stdout


async def test_the_demo_starts_quietly_with_its_calls_from_the_first_second(tmp_path: Path) -> None:
    """Its dialer starts with it and pushes to the demo's own HTTP server: the pushes made while
    that server starts wait for it (no warnings, none lost), and its advice is the demo's."""
    with http_process(clean_env(tmp_path), tmp_path, "--demo") as (url, proc):
        async with Client(url) as client:
            # Within the first seconds the demo's server has not built its index yet.
            by_name = await client.call_tool("ameyo_call_history", {"name": "priya"})
            said = text_of(by_name)
            assert by_name.is_error and "ameyo-mcp sync" not in said, said
            assert "a demo server builds its own throwaway index" in said, said
            matched = 0
            deadline = time.monotonic() + 20
            while matched < 2:
                assert time.monotonic() < deadline, "the demo's call history stayed empty"
                await anyio.sleep(0.2)
                history = await client.call_tool("ameyo_call_history", {})
                assert not history.is_error, text_of(history)
                matched = (history.structured_content or {})["matched"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) is not None and proc.stderr is not None
        said = proc.stderr.read().decode()
    assert "WARNING" not in said and "push of call" not in said, said


def test_missing_settings_fail_with_one_line_each(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "check")
    assert done.returncode == 2 and done.stdout == ""
    first, *each = done.stderr.strip().splitlines()
    assert first == "ameyo-mcp: 3 settings need fixing:", done.stderr
    assert [line.split()[0] for line in each] == ["AMEYO_BASE_URL", "AMEYO_USER_ID", "AMEYO_PASSWORD"]
    assert all(" is not set: give " in line for line in each), done.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AMEYO_BASE_URL": "http://127.0.0.1:9"}, "unreachable URL"),
        ({"AMEYO_BASE_URL": "http://127.0.0.1:9"}, "(nothing listens at that port)"),
        ({"AMEYO_BASE_URL": "{tls}"}, "(the TLS handshake failed: an https:// URL for a port that speaks"),
        ({"AMEYO_PASSWORD": "not-the-password"}, "wrong user or password"),
        ({"AMEYO_HASH_KEY": "wrong-hash-key", "AMEYO_REQUESTING_HOST": "crm"}, "token rejected"),
        ({"AMEYO_BASE_URL": "{base}/ameyo"}, "AMEYO_BASE_URL has a path (/ameyo)"),
        ({"AMEYO_PHONE_REGION": "XQ"}, "AMEYO_PHONE_REGION 'XQ' is not a region"),
    ],
)
async def test_check_names_each_failure(
    simulator: SimulatorThread, tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    tls = simulator.base_url.replace("http://", "https://")
    env = {k: v.format(base=simulator.base_url, tls=tls) for k, v in env.items()}
    # An unknown region stops the server at start (test_config); `check` asks the library itself,
    # for an installation whose files the start-up look cannot read.
    region = env.pop("AMEYO_PHONE_REGION", None)
    settings = settings_for(simulator, tmp_path, **env)
    if region is not None:
        settings = dataclasses.replace(settings, phone_region=region)
    lines: list[str] = []
    ok = await run_check(settings, lines.append)
    assert not ok
    failures = [line for line in lines if "FAIL" in line]
    assert len(failures) == 1 and expected in failures[0], lines
    assert "tell the person" not in "\n".join(lines)  # a model's next step, not the person's
    assert "not-the-password" not in "\n".join(lines) and "wrong-hash-key" not in "\n".join(lines)


def test_env_file_and_demo_work_before_or_after_the_command(tmp_path: Path) -> None:
    env_file = tmp_path / "unreachable.env"
    env_file.write_text("AMEYO_BASE_URL=http://127.0.0.1:9\nAMEYO_USER_ID=u\nAMEYO_PASSWORD=p-123456\n")
    for argv in (["check", "--env-file", str(env_file)], ["--env-file", str(env_file), "check"]):
        done = run_cli(tmp_path, *argv)
        assert done.returncode == 1 and "unreachable URL" in done.stdout, (argv, done.stdout, done.stderr)
    for argv in (["--demo", "check"], ["check", "--demo"]):
        done = run_cli(tmp_path, *argv)
        assert done.returncode == 0 and "All checks passed." in done.stdout, (argv, done.stderr)


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_demo_upload_of_a_file_in_the_current_folder_is_refused(tmp_path: Path, where: str) -> None:
    """Its journal and result file stayed beside the file, for an upload to a simulator gone when the
    command ended: "run the same upload again to continue" resumed nothing (the next demo's
    simulator is another server), or, on the same port, took rows as answered that it never held."""
    (tmp_path / "today.csv").write_text("phone1,name\n9123400001,Asha\n9123400002,Ravi\n,Nobody\n")
    upload = ["upload", "today.csv", "--campaign", "1", "--lead", "21"]
    done = run_cli(tmp_path, *(["--demo", *upload] if where == "before" else [*upload, "--demo"]))
    err = done.stderr
    assert done.returncode == 2 and "ameyo-mcp upload: --demo has no lead to upload into" in err, err
    assert "ameyo-mcp --demo" in err and len(err.strip().splitlines()) == 1 and done.stdout == "", err
    assert "demo mode" not in err, err  # refused before the demo's simulator starts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["today.csv"], "nothing is left beside the file"


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_sigterm_ends_the_demo_and_removes_its_throwaway_folder(tmp_path: Path, transport: str) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    said = tmp_path / "stderr.txt"
    with said.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ameyo_mcp", "--demo", "--transport", transport]
            + (["--port", "0"] if transport == "http" else []),  # (over stdio it listens on no port)
            env=clean_env(tmp_path) | {"TMPDIR": str(scratch)},
            cwd=str(tmp_path),
            stdin=subprocess.PIPE,  # stdio: a client that is still connected
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 60
        # The demo's line is printed once its folder exists and is looked after.
        while b"demo mode" not in said.read_bytes():
            assert time.monotonic() < deadline and proc.poll() is None, said.read_text()
            time.sleep(0.1)
        assert list(scratch.glob("ameyo-demo-*"))
        proc.terminate()
        assert proc.wait(timeout=30) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not list(scratch.glob("ameyo-demo-*")), "the demo's folder (audit trail, index) was left behind"


async def test_a_region_the_phone_rule_lacks_is_named_not_blamed_on_the_rows(
    simulator: SimulatorThread, tmp_path: Path
) -> None:
    settings = dataclasses.replace(settings_for(simulator, tmp_path), phone_region="XQ")
    async with Client(server_of(simulator, settings)) as client:
        tried = await client.call_tool(
            "ameyo_upload_contacts",
            {"campaign": 1, "lead_id": 21, "dry_run": True, "records": [{"phone1": "+91 98765 43219"}]},
        )
    assert tried.is_error and "AMEYO_PHONE_REGION 'XQ' is not a region" in text_of(tried), text_of(tried)
    assert "digits" not in text_of(tried)
