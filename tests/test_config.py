"""Settings: one clear line naming the variable, and secrets that never print."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from ameyo_mcp import config
from ameyo_mcp.config import load_settings
from ameyo_mcp.errors import SettingsError

BASE = {
    "AMEYO_BASE_URL": "http://10.10.2.176:8888",
    "AMEYO_USER_ID": "CustomerManager",
    "AMEYO_PASSWORD": "pw-1234",
}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"AMEYO_BASE_URL": ""}, "AMEYO_BASE_URL is not set"),
        ({"AMEYO_BASE_URL": "10.10.2.176:8888"}, "AMEYO_BASE_URL must look like http://host:port"),
        ({"AMEYO_BASE_URL": "http://u:p@host:1"}, "AMEYO_BASE_URL must not carry a user"),
        ({"AMEYO_USER_ID": ""}, "AMEYO_USER_ID is not set"),
        ({"AMEYO_PASSWORD": ""}, "AMEYO_PASSWORD is not set"),
        ({"AMEYO_TIMEZONE": "Mars/Olympus"}, "AMEYO_TIMEZONE must be an IANA zone"),
        ({"AMEYO_TIMEOUT_S": "soon"}, "AMEYO_TIMEOUT_S must be a number"),
        ({"AMEYO_READ_ONLY": "maybe"}, "AMEYO_READ_ONLY must be true or false"),
        ({"AMEYO_HASH_KEY": "k" * 20, "AMEYO_USER_ID": ""}, "AMEYO_REQUESTING_HOST is not set"),
        ({"AMEYO_HTTP_TOKEN": "short"}, "AMEYO_HTTP_TOKEN must be at least 16"),
        ({"AMEYO_PUSH_TOKEN": "short"}, "AMEYO_PUSH_TOKEN must be at least 16 printable ASCII"),
        ({"AMEYO_PUSH_TOKEN": "long-enough-but-has space"}, "AMEYO_PUSH_TOKEN must be at least 16"),
        # The URL Ameyo calls cannot carry these as written: every push was answered 401.
        ({"AMEYO_PUSH_TOKEN": "long-enough&token=x"}, "AMEYO_PUSH_TOKEN holds &, which the URL"),
        ({"AMEYO_PUSH_TOKEN": "long-enough#50%-token"}, "AMEYO_PUSH_TOKEN holds # %, which the URL"),
        ({"AMEYO_HISTORY_DAYS": "forever"}, "AMEYO_HISTORY_DAYS must be a number"),
        ({"AMEYO_HISTORY_DAYS": "0"}, "AMEYO_HISTORY_DAYS must be at least 1"),
        ({"AMEYO_AUDIT_DAYS": "a month"}, "AMEYO_AUDIT_DAYS must be a number of days"),
        ({"AMEYO_AUDIT_DAYS": "0.5"}, "AMEYO_AUDIT_DAYS must be at least 1"),
        ({"AMEYO_PHONE_REGION": "India"}, "AMEYO_PHONE_REGION must be a two-letter ISO country code"),
        ({"AMEYO_PHONE_REGION": "xx"}, "AMEYO_PHONE_REGION 'XX' is not a region libphonenumber knows"),
        ({"AMEYO_PHONE_FORMAT": "+91"}, "AMEYO_PHONE_FORMAT must be one of national, trunk"),
        ({"AMEYO_DATABASE_URL": "mysql://db/x"}, "AMEYO_DATABASE_URL must be postgresql://"),
        ({"AMEYO_DATABASE_URL": "sqlite://rel.db"}, "AMEYO_DATABASE_URL 'sqlite://rel.db' names no file"),
        # A password in a URL setting is never quoted back.
        ({"AMEYO_DATABASE_URL": "sqlite://u:pw-9@host/x.db"}, "AMEYO_DATABASE_URL a URL with a user or"),
        ({"AMEYO_BASE_URL": "http://[x"}, "AMEYO_BASE_URL must look like http://host:port, not 'http://[x'"),
        ({"AMEYO_SYNC_INTERVAL_S": "-1"}, "AMEYO_SYNC_INTERVAL_S must be at least 0"),
        ({"AMEYO_SYNC_PAGES_IN_FLIGHT": "0"}, "AMEYO_SYNC_PAGES_IN_FLIGHT must be at least 1"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, **env}, env_file=None)
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_env_file_and_environment(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AMEYO_BASE_URL=http://file:1/ameyowebaccess/command\nAMEYO_USER_ID=fromfile\n")
    settings = load_settings({"AMEYO_PASSWORD": "pw-from-env", "AMEYO_USER_ID": "fromenv"}, env_file=env_file)
    assert settings.base_url == "http://file:1"  # the pasted command URL is trimmed to the base
    assert settings.user_id == "fromenv"  # the environment wins
    assert "pw-from-env" not in repr(settings) and "pw-from-env" not in str(dataclasses.asdict(settings))


def test_the_secret_key_never_prints() -> None:
    settings = load_settings(
        {**BASE, "AMEYO_SECRET_KEY": "lease-key-0123456789-0123456789-0123"}, env_file=None
    )
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "lease-key-0123456789-0123456789-0123"
    assert "lease-key" not in repr(settings) and "lease-key" not in str(dataclasses.asdict(settings))


def test_session_file_is_per_server_and_user() -> None:
    one = load_settings(BASE, env_file=None).resolved_session_file()
    other = load_settings({**BASE, "AMEYO_USER_ID": "other"}, env_file=None).resolved_session_file()
    assert one is not None and other is not None and one != other
    assert (
        load_settings({**BASE, "AMEYO_SESSION_FILE": "none"}, env_file=None).resolved_session_file() is None
    )


def test_phone_settings() -> None:
    default = load_settings(BASE, env_file=None)
    assert (default.phone_region, default.phone_format) == ("IN", "national")
    chosen = load_settings({**BASE, "AMEYO_PHONE_REGION": "es", "AMEYO_PHONE_FORMAT": "E164"}, env_file=None)
    assert (chosen.phone_region, chosen.phone_format) == ("ES", "e164")


def test_the_index_is_a_sqlite_file_per_ameyo_server_unless_a_url_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    one = load_settings(BASE, env_file=None).resolved_database_url()
    other = load_settings({**BASE, "AMEYO_BASE_URL": "http://10.0.0.9:8888"}, env_file=None)
    assert one.startswith(str(tmp_path / "ameyo-mcp" / "index-")) and one.endswith(".db")
    assert other.resolved_database_url() != one
    given = load_settings({**BASE, "AMEYO_DATABASE_URL": "postgresql://ameyo@db/index"}, env_file=None)
    assert given.resolved_database_url() == "postgresql://ameyo@db/index"
    defaults = load_settings(BASE, env_file=None)
    assert (defaults.sync_interval_s, defaults.sync_page_size) == (3600, 500)
    assert defaults.sync_pages_in_flight == 2


def test_the_settings_known_are_the_ones_read_and_documented() -> None:
    """A setting added without its name in NAMES would be warned about as unknown; one missing
    from the README's table would be undocumented."""
    source = (Path(config.__file__)).read_text()
    read = set(re.findall(r'"(AMEYO_[A-Z_]+)"', source))
    readme = (Path(config.__file__).parents[1] / "README.md").read_text()
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`(AMEYO_[A-Z_]+)`", row.split("|")[1])
    }
    assert read == set(config.NAMES) == documented


def test_names_close_to_a_setting_are_pointed_out_and_other_names_only_in_the_file() -> None:
    found = config.unknown_names(
        {"AMEYO_PASWORD": "x", "ameyo_timezone": "x", "AMEYO_SERVICE_HOST": "x", "HOME": "x"},
        where="the environment",
        all_unknown=False,
    )
    assert found == [
        "AMEYO_PASWORD in the environment is not a setting of ameyo-mcp: did you mean AMEYO_PASSWORD?",
        "ameyo_timezone in the environment is not a setting of ameyo-mcp: did you mean AMEYO_TIMEZONE?",
    ]
    in_file = config.unknown_names({"AMEYO_SERVICE_HOST": "x", "OTHER": "x"}, where=".env", all_unknown=True)
    assert in_file == [
        "AMEYO_SERVICE_HOST in .env is an unknown setting and is ignored (the README lists them)"
    ]


def test_relative_paths_in_a_settings_file_are_beside_it_whatever_the_working_folder(tmp_path: Path) -> None:
    """Claude Desktop starts the server in a folder of its own: rel.db in the settings file made a
    store there (/rel.db), apart from the one `ameyo-mcp sync` run beside the file used."""
    import os
    import subprocess
    import sys

    from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread

    (tmp_path / "settings").mkdir()
    (tmp_path / "elsewhere").mkdir()
    env_file = tmp_path / "settings" / "r.env"
    with SimulatorThread(SimulatorConfig(contacts=20)) as sim:
        env_file.write_text(
            f"AMEYO_BASE_URL={sim.base_url}\nAMEYO_USER_ID={sim.state.config.user_id}\n"
            f"AMEYO_PASSWORD={sim.state.config.password}\nAMEYO_TIMEZONE=Asia/Kolkata\n"
            "AMEYO_DATABASE_URL=rel.db\nAMEYO_AUDIT_FILE=logs/audit.jsonl\nAMEYO_UPLOAD_DIRS=uploads\n",
            encoding="utf-8",
        )
        clean = {k: v for k, v in os.environ.items() if not k.startswith("AMEYO_")} | {"HOME": str(tmp_path)}
        done = subprocess.run(
            [sys.executable, "-m", "ameyo_mcp", "sync", "--env-file", str(env_file), "--campaign", "1"],
            cwd=tmp_path / "elsewhere",
            env=clean,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "settings" / "rel.db").exists() and not (tmp_path / "elsewhere" / "rel.db").exists()
    settings = load_settings({}, env_file=env_file)
    assert settings.upload_dirs == ((tmp_path / "settings" / "uploads").resolve(),)
    assert settings.audit_file == tmp_path / "settings" / "logs" / "audit.jsonl"
    # "none" is no file, wherever it is written.
    none_file = tmp_path / "settings" / "none.env"
    none_file.write_text("AMEYO_SESSION_FILE=none\n", encoding="utf-8")
    assert load_settings(BASE, env_file=none_file).resolved_session_file() is None
    # The environment's own relative paths stay the working folder's, as a shell's do.
    assert load_settings({"AMEYO_DATABASE_URL": "env.db"}, env_file=env_file).database_url == "env.db"
