"""The `ameyo-mcp` command: serve over stdio or HTTP, try the settings, receive Ameyo's pushes, or run
the simulator."""

from __future__ import annotations

import argparse
import gc
import logging
import shlex
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from .. import __version__
from ..config import Settings, load_settings, malloc_arenas_given, timezone_warning
from ..errors import AmeyoMcpError, SettingsError, explain
from ..logs import setup_logging
from ..writes.bulk.limits import DEFAULT_BATCH, DEFAULT_CONCURRENCY, MAX_BATCH, MAX_CONCURRENCY
from .allocator import fewer_arenas

if TYPE_CHECKING:
    from ..writes.bulk.options import BulkOptions

log = logging.getLogger(__name__)


def _shared(*, top: bool, demo: bool = True) -> argparse.ArgumentParser:
    """--demo and --env-file, accepted before or after the command's name. Not `demo`: a command
    that refuses --demo (`_NO_DEMO`), which its help then leaves out."""
    # Below the top level the defaults are suppressed, so that a value given before the command's
    # name is not overwritten by the subcommand's own default.
    default_demo: object = False if top else argparse.SUPPRESS
    # None: the default `.env`, read when present; a file named with --env-file must exist.
    default_env: object = None if top else argparse.SUPPRESS
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument(
        "--demo",
        action="store_true",
        default=default_demo,
        help="use the embedded Ameyo simulator and its sample data" if demo else argparse.SUPPRESS,
    )
    shared.add_argument("--env-file", default=default_env, help="settings file (default .env, if present)")
    return shared


def _whole(low: int, high: int) -> Callable[[str], int]:
    """An argument type for a whole number from `low` to `high`: anything else is refused by
    argparse in one line, never clamped in silence (the file tool refuses the same values)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from {low} to {high}")
        return value

    return parse


_PORT = _whole(0, 65535)  # 0: any free port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ameyo-mcp",
        description="MCP server for the Ameyo Customer Manager API",
        parents=[_shared(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"ameyo-mcp {__version__}")
    # The server's own: None when not given (`_server_options`), and apart from the receiver's and
    # the simulator's --host and --port, whose defaults would overwrite them.
    parser.add_argument("--transport", choices=("stdio", "http"), default=None, help="default: stdio")
    parser.add_argument(
        "--host",
        dest="server_host",
        metavar="HOST",
        default=None,
        help="HTTP bind address (default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        dest="server_port",
        metavar="PORT",
        type=_PORT,
        default=None,
        help="HTTP port (default 8000)",
    )
    sub = parser.add_subparsers(dest="command")
    shared = _shared(top=False)
    no_demo = _shared(top=False, demo=False)
    check = sub.add_parser(
        "check",
        help="log in, ping, list campaigns, log out, and report",
        description="Try the settings against Ameyo: log in, ping, list campaigns and log out (with "
        "AMEYO_HASH_KEY, token authentication: read one campaign's leads), and say what to fix; then "
        "the store, the index and the write ledger (writes of unknown outcome are listed).",
        parents=[shared],
    )
    check.add_argument(
        "--campaign",
        type=int,
        default=None,
        help="with AMEYO_HASH_KEY (token authentication, no login to list campaigns): the campaign "
        "whose leads to read (default 1)",
    )
    sub.add_parser(
        "config",
        parents=[shared],
        help="print a claude_desktop_config.json entry that starts this installation",
        description="Print the claude_desktop_config.json entry that starts this installation's "
        "server over stdio, with the settings file (--env-file, default .env) by its absolute path.",
    )
    _upload_parser(sub, no_demo)
    receiver = sub.add_parser(
        "receiver",
        parents=[no_demo],
        help="receive Ameyo's call-outcome pushes at /ameyo/status into the store (needs AMEYO_PUSH_TOKEN)",
        description="Serve only the URL Ameyo pushes each call's outcome to (/ameyo/status, with "
        "AMEYO_PUSH_TOKEN), storing every push in the store the servers read the call history from.",
    )
    receiver.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    receiver.add_argument("--port", type=_PORT, default=8010, help="port (default 8010)")
    sync = sub.add_parser(
        "sync",
        parents=[no_demo],
        help="bring the local index of contacts up to date with Ameyo (resumes an interrupted sync)",
        description="Read every contact of the campaigns into the store's index, which lookups by "
        "number or name read at any size; an interrupted sync resumes where it stopped.",
    )
    sync.add_argument(
        "--campaign", action="append", default=[], help="campaign name or id (repeatable; default: all)"
    )
    sync.add_argument("--restart", action="store_true", help="start a fresh pass instead of resuming")
    simulator = sub.add_parser(
        "simulator",
        help="run the Ameyo simulator over HTTP",
        description="Serve a stand-in for an Ameyo server's Customer Manager API (its campaigns, leads, "
        "contacts and callbacks, seeded from the vendor document's samples) for demos and tests: point "
        "AMEYO_BASE_URL at it and log in with --user and --password.",
    )
    simulator.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    simulator.add_argument("--port", type=_PORT, default=8888, help="port (default 8888)")
    simulator.add_argument("--user", default="CustomerManager", help="login user (default CustomerManager)")
    simulator.add_argument("--password", default="simulator", help="login password (default simulator)")
    simulator.add_argument(
        "--contacts",
        type=int,
        default=300,
        help="customers in MoviStarSurvey besides the document's customer 112 (default 300; above 10,000 "
        "they are generated as asked for, up to 10,000,000)",
    )
    simulator.add_argument(
        "--names",
        choices=("varied", "few-first"),
        default="varied",
        help="names of generated customers: varied (default), or few-first: one of six first names "
        'and a number ("Sofia 4595"), the hard case of a name search',
    )
    simulator.add_argument(
        "--push-url",
        default=None,
        help="dial contacts and push each call's outcome to this URL (a ?token=... in it is kept)",
    )
    # None when not given: refused without --push-url (`_unread_options`), else the config's default.
    simulator.add_argument(
        "--push-rate", type=float, default=None, help="calls pushed per second with --push-url (default 1)"
    )
    simulator.add_argument(
        "--push-shape",
        default=None,
        choices=("mixed", "get", "form", "json", "text"),
        help="how pushes are sent: GET query, form POST, JSON POST, JSON as text/plain, or mixed (default)",
    )
    return parser


def _upload_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], shared: argparse.ArgumentParser
) -> None:
    upload = sub.add_parser(
        "upload",
        parents=[shared],
        help="upload a contact file (CSV with a header row, or .jsonl) into a lead, resumably",
        description="Rows are checked, sent in batches, and every row's outcome is written to a result "
        "file. Run the same command again after an interruption: it continues from the journal.",
    )
    upload.add_argument("file", help="CSV file with a header row (phone1 required), or a .jsonl file")
    upload.add_argument("--campaign", required=True, help="campaign id or name")
    upload.add_argument("--lead", required=True, type=int, help="lead id")
    upload.add_argument(
        "--map", action="append", default=[], metavar="OLD=NEW", help="rename a column, e.g. Mobile=phone1"
    )
    upload.add_argument(
        "--status",
        default="NOT_TRIED",
        help="status of the customers sent: new ones, and with --update those updated (default NOT_TRIED)",
    )
    upload.add_argument("--attempts", type=int, default=0, help="attempts already made (default 0)")
    upload.add_argument("--update", action="store_true", help="update customers that already exist")
    upload.add_argument("--migrate", action="store_true", help="move existing customers into this lead")
    upload.add_argument(
        "--batch-size",
        type=_whole(1, MAX_BATCH),
        default=DEFAULT_BATCH,
        help=f"rows per request (default {DEFAULT_BATCH}, at most {MAX_BATCH:,})",
    )
    upload.add_argument(
        "--concurrency",
        type=_whole(1, MAX_CONCURRENCY),
        default=DEFAULT_CONCURRENCY,
        help=f"requests in flight (default {DEFAULT_CONCURRENCY}, at most {MAX_CONCURRENCY})",
    )
    upload.add_argument("--dry-run", action="store_true", help="check every row and write the report only")
    upload.add_argument(
        "--retry-unknown",
        action="store_true",
        help="resend rows without callbacks whose outcome an earlier run never learnt",
    )
    upload.add_argument(
        "--resend-callbacks-may-duplicate",
        action="store_true",
        help="with --retry-unknown, resend rows with callbacks too, accepting that Ameyo may then "
        "schedule such a callback twice",
    )
    upload.add_argument(
        "--outside-calling-hours",
        action="store_true",
        help="schedule the file's callbacks at their times even outside AMEYO_CALLING_HOURS",
    )
    upload.add_argument(
        "--despite-do-not-call",
        action="store_true",
        help="the person confirmed calling customers whose last disposition is do-not-call (a callback, "
        "an update, a move into this lead, or a new customer on their line)",
    )
    upload.add_argument(
        "--result",
        default=None,
        help="result CSV, beside FILE if relative (default FILE.lead-N.ameyo-result.csv, or "
        "FILE.lead-N.ameyo-check.csv for a dry run); an existing file is replaced only if it is a "
        "result file",
    )
    upload.add_argument(
        "--journal", default=None, help="journal, beside FILE if relative (default FILE.ameyo-journal)"
    )


# The commands --demo would leave doing nothing that lasts, and why, refused before the demo starts.
_NO_DEMO = {
    "sync": "--demo has no index to fill: a demo server (ameyo-mcp --demo) builds its own throwaway "
    "index a few seconds after it starts, and this would fill another, removed when it ends. Run it "
    "without --demo to sync the index of the Ameyo your settings name.",
    "receiver": "--demo has no pushes to receive: a demo server (ameyo-mcp --demo) receives its "
    "simulator's calls itself. Run it without --demo, with AMEYO_PUSH_TOKEN set, to receive a real "
    "Ameyo's pushes.",
    "upload": "--demo has no lead to upload into that lasts: its simulator is gone when the command "
    "ends, while the upload's journal and result file would stay beside the file, to resume an upload "
    "no Ameyo holds. Try a file upload with a demo server (ameyo-mcp --demo: its file tool reads a "
    "throwaway folder holding sample-contacts.csv), or run it without --demo.",
}
# check --campaign is read with token authentication alone (AMEYO_HASH_KEY): a login lists them all.
_CAMPAIGN_UNREAD = (
    "--campaign is read only with AMEYO_HASH_KEY (token authentication, which reads that campaign's "
    "leads); a login, as here, lists every campaign the user has."
)


def main(argv: Sequence[str] | None = None) -> int:
    """The command; a failure ends it with one or two sentences on stderr (what happened, what to
    do) and a non-zero status, never a traceback: 2 for a setting to fix, 1 otherwise."""
    args = _parser().parse_args(argv)
    name = f"ameyo-mcp {args.command}" if args.command else "ameyo-mcp"
    if args.demo and args.command in _NO_DEMO:
        print(f"{name}: {_NO_DEMO[args.command]}", file=sys.stderr)
        return 2
    if args.demo and args.env_file is not None:
        # (`demo_settings` reads the environment, less the settings that would point it elsewhere.)
        print(
            f"{name}: --env-file is not read with --demo, which runs on the embedded simulator's "
            "settings: leave out one or the other.",
            file=sys.stderr,
        )
        return 2
    unread = _server_options(args) or _unread_options(args)
    if unread is not None:
        print(f"{name}: {unread}", file=sys.stderr)
        return 2
    try:
        if args.command == "simulator":
            return _simulator(args)
        if args.command == "check":
            return _check(args)
        if args.command == "config":
            return _desktop_config(args)
        if args.command == "upload":
            return _upload(args)
        if args.command == "receiver":
            return _receiver(args)
        if args.command == "sync":
            return _sync(args)
        return _serve(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return _failed(name, exc)


def _unread_options(args: argparse.Namespace) -> str | None:
    """Why a command's options given go unread, or None: the simulator's push options without a URL
    to push to, and check's --campaign with --demo (whose settings have no AMEYO_HASH_KEY; without
    --demo, `_check` judges it once the settings are read)."""
    if args.command == "simulator" and args.push_url is None:
        given = [
            flag
            for flag, value in (("--push-rate", args.push_rate), ("--push-shape", args.push_shape))
            if value is not None
        ]
        if given:
            return (
                f"{' and '.join(given)} {'is' if len(given) == 1 else 'are'} for --push-url: without a "
                "URL to push to, the simulator dials no one and pushes nothing. Give --push-url URL too, "
                f"or leave {'it' if len(given) == 1 else 'them'} out."
            )
    if args.command == "check" and args.campaign is not None and args.demo:
        return f"{_CAMPAIGN_UNREAD} Leave it out with --demo, which logs in."
    return None


def _server_options(args: argparse.Namespace) -> str | None:
    """Why the server's --transport, --host or --port given go unread, or None, with the server's
    defaults filled in (`args.transport`, `args.host`, `args.port`, as the receiver's are named):
    before another command's name no command reads them (the receiver's and the simulator's own
    come after it), and over stdio the server listens on no port."""
    given = [
        flag
        for flag, value in (
            ("--transport", args.transport),
            ("--host", args.server_host),
            ("--port", args.server_port),
        )
        if value is not None
    ]
    if args.command is not None:
        if not given:
            return None
        own = [
            f"{flag} {value}"
            for flag, value in (("--host", args.server_host), ("--port", args.server_port))
            if value is not None
        ]
        listens = args.command in ("receiver", "simulator") and own
        instead = (
            f"; give its own after the name (ameyo-mcp {args.command} {' '.join(own)})" if listens else ""
        )
        return (
            f"{' and '.join(given)} before the command's name {'is' if len(given) == 1 else 'are'} the "
            f"MCP server's (ameyo-mcp --transport http --port N), which {args.command} does not read"
            f"{instead}."
        )
    args.transport = args.transport or "stdio"
    args.host = args.server_host or "127.0.0.1"
    args.port = 8000 if args.server_port is None else args.server_port
    on_a_port = [flag for flag in given if flag != "--transport"]
    if args.transport == "stdio" and on_a_port:
        return (
            f"{' and '.join(on_a_port)} {'is' if len(on_a_port) == 1 else 'are'} for --transport http: "
            "over stdio (the default) the server listens on no port."
        )
    return None


def _failed(name: str, exc: BaseException) -> int:
    """Say why the command ended, in its own words for an error of ours; for anything else only its
    kind, with the traceback logged for whoever looks at a debug log."""
    # A task group (anyio) hands back its one failure wrapped in a group.
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, SettingsError):
        print(f"ameyo-mcp: {exc}", file=sys.stderr)
        return 2
    text = explain(exc)
    if not isinstance(exc, AmeyoMcpError | OSError):
        log.debug("%s failed", name, exc_info=exc)
        text = (
            f"Something unexpected went wrong ({type(exc).__name__}). Run it again with "
            "AMEYO_LOG_LEVEL=DEBUG to see where, and tell whoever maintains ameyo-mcp."
        )
    print(f"{name}: {text}", file=sys.stderr)
    return 1


@contextmanager
def _settings(args: argparse.Namespace) -> Iterator[Settings]:
    """The settings file's and environment's settings, or the embedded simulator's with --demo."""
    if args.demo:
        from .demo import demo_settings

        # Serving, the demo dials: its call history fills from the first minute.
        serving = args.command is None
        http_url = (
            f"http://{_connectable(args.host)}:{args.port}" if serving and args.transport == "http" else None
        )
        with demo_settings(dial=serving, http_url=http_url, warn=_warn) as settings:
            yield settings
    else:
        yield load_settings(env_file=_env_file(args), warn=_warn)


_WARNED: list[str] = []  # this process's warnings, for check's last line


def _warn(line: str) -> None:
    _WARNED.append(line)
    print(f"ameyo-mcp: warning: {line}", file=sys.stderr, flush=True)


def _env_file(args: argparse.Namespace) -> Path:
    """The settings file to read: the one named (which must exist), else `.env` when present."""
    if args.env_file is None:
        return Path(".env")
    path = Path(args.env_file).expanduser()
    if not path.is_file():
        raise SettingsError(f"--env-file {args.env_file}: no such file ({path.resolve()})")
    return path


def _warn_about(settings: Settings) -> None:
    if not settings.timezone_given:
        _warn(timezone_warning(settings))


def _connectable(host: str) -> str:
    """Where the demo's dialer reaches a server bound to `host`."""
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _serve(args: argparse.Namespace) -> int:
    if args.transport == "stdio":
        with _settings(args) as settings:
            _run_server(settings, args, None)
        return 0
    # First of all: a port in use is told before anything starts (the demo's simulator) or claims
    # to serve.
    with _bound(args.host, args.port) as sock:
        args.port = sock.getsockname()[1]
        with _settings(args) as settings:
            _run_server(settings, args, sock)
    return 0


@contextmanager
def _bound(host: str, port: int) -> Iterator[socket.socket]:
    from ..listener import server_socket

    sock = server_socket(host, port)
    try:
        yield sock
    finally:
        sock.close()


def _run_server(settings: Settings, args: argparse.Namespace, sock: socket.socket | None) -> None:
    from ..server.app import create_server

    fewer_arenas(given_by_environment=malloc_arenas_given())
    setup_logging(settings.log_level)
    _warn_about(settings)
    server = create_server(settings, stateless_http=sock is not None and settings.http_stateless)
    if sock is None:
        server.run("stdio")
    else:
        from ..server.http import serve_http

        serve_http(server, settings, args.host, sock)


def _check(args: argparse.Namespace) -> int:
    from .check import run_check

    def say(line: str) -> None:
        print(line, flush=True)  # a CLI report for a person: never runs under stdio

    with _settings(args) as settings:
        if args.campaign is not None and not settings.token_auth:
            said = f"{_CAMPAIGN_UNREAD} Leave it out, or set AMEYO_HASH_KEY."
            print(f"ameyo-mcp check: {said}", file=sys.stderr)
            return 2
        setup_logging(settings.log_level)
        # The same settings file again: without it, the command would read another one (.env).
        again = "ameyo-mcp check" + (f" --env-file {shlex.quote(args.env_file)}" if args.env_file else "")
        passed = anyio.run(
            lambda: run_check(settings, say, campaign_id=args.campaign, warned=bool(_WARNED), again=again)
        )
        return 0 if passed else 1


def _desktop_config(args: argparse.Namespace) -> int:
    """Claude Desktop starts servers from its own folder with its own PATH: the entry names this
    installation's executable (or, for one uvx made, uvx and the package) and the settings file by
    absolute paths."""
    import json

    if args.demo:
        server_args = ["--demo"]
    else:
        env_file = _env_file(args).resolve()
        if not env_file.is_file():
            raise SettingsError(
                f"{env_file} does not exist: create it with AMEYO_BASE_URL, AMEYO_USER_ID and AMEYO_PASSWORD "
                "(see .env.example in the project) or name one with --env-file"
            )
        # Claude Desktop shows a server that will not start only as "disconnected": settings the
        # server would refuse are told here, before the entry is pasted. Judged as that server will
        # read them, from the file alone: Claude Desktop does not pass this shell's environment on.
        try:
            load_settings({}, env_file=env_file, warn=_warn)
        except SettingsError as exc:
            raise SettingsError(
                f"{env_file}, read alone as the server Claude Desktop starts will read it (this shell's "
                f'environment is not passed on; settings in the entry\'s "env" object are not seen '
                f"here): {exc.message}"
            ) from None
        server_args = ["--env-file", str(env_file)]
    from .desktop import command

    entry = command(server_args)
    # The entry for a person to paste: this command never runs the stdio server.
    print(json.dumps({"mcpServers": {"ameyo": entry}}, indent=2))
    if not Path(str(entry["command"])).is_absolute():
        print(
            f"ameyo-mcp: {entry['command']} is not on PATH here: write its full path in the entry "
            "(Claude Desktop does not search your shell's PATH)",
            file=sys.stderr,
        )
    print(
        "ameyo-mcp: add this to claude_desktop_config.json (Claude Desktop: Settings > Developer > "
        "Edit Config; macOS ~/Library/Application Support/Claude/, Windows %APPDATA%\\Claude\\) "
        "and restart Claude Desktop",
        file=sys.stderr,
    )
    return 0


def _upload(args: argparse.Namespace) -> int:
    from ..errors import FileFormatError
    from ..writes.bulk.options import BulkOptions
    from ..writes.bulk.reader import parse_column_map

    path = Path(args.file).expanduser().resolve()
    if not path.is_file():
        print(f"ameyo-mcp upload: {args.file} is not a file", file=sys.stderr)
        return 2
    try:
        options = BulkOptions(
            campaign=args.campaign,
            lead_id=args.lead,
            column_map=parse_column_map(args.map),
            status=args.status,
            attempts=args.attempts,
            update_existing=args.update,
            migrate_existing=args.migrate,
            batch_size=args.batch_size,
            concurrency=args.concurrency,
            dry_run=args.dry_run,
            retry_unknown=args.retry_unknown,
            resend_callbacks_may_duplicate=args.resend_callbacks_may_duplicate,
            outside_calling_hours=args.outside_calling_hours,
            despite_do_not_call=args.despite_do_not_call,
            # A relative path is read beside the contact file, not the current folder.
            result_path=Path(args.result) if args.result else None,
            journal_path=Path(args.journal) if args.journal else None,
        )
    except FileFormatError as exc:
        print(f"ameyo-mcp upload: {exc}", file=sys.stderr)
        return 2
    with _settings(args) as settings:
        setup_logging(settings.log_level)
        return anyio.run(_upload_run, settings, path, options)


async def _upload_run(settings: Settings, path: Path, options: BulkOptions) -> int:
    """The upload, stopped cleanly by SIGTERM or Ctrl-C: the batches in flight are journaled as
    outcome-unknown before the command ends, with one line saying what was sent."""
    from .stopping import stop_on_signals

    stop = anyio.Event()
    async with stop_on_signals(stop.set) as caught:
        return await _upload_once(settings, path, options, stop, caught)


async def _upload_once(
    settings: Settings, path: Path, options: BulkOptions, stop: anyio.Event, caught: list[str]
) -> int:
    from ..ameyo.service import Ameyo
    from ..errors import AmeyoError, FileFormatError, UploadRefused, UploadStopped, WriteError
    from ..writes.bulk.engine import upload_file
    from ..writes.bulk.report import bulk_text
    from ..writes.path import WritePath
    from .progress import Progress
    from .stopping import exit_status, signal_words

    shown = Progress(settings.progress_every_s)

    async def progress(done: int, total: int | None, message: str) -> None:
        # The engine's words: how many of the rows settled were sent, and how many not.
        shown.step(path.name, done, total, words=message)

    def fail(message: str) -> None:
        shown.clear()
        print(f"ameyo-mcp upload: {message}", file=sys.stderr, flush=True)

    ameyo = Ameyo(settings)
    writes = WritePath.for_settings(ameyo, confirm=False)
    try:
        # The person running the command confirmed the upload by running it.
        out = await upload_file(writes, path, options, progress, stop)
    except AmeyoError as exc:
        fail(await ameyo.explain(exc))
        return 1
    except FileFormatError as exc:
        fail(f"{path.name}: {exc}")
        return 1
    except UploadStopped as exc:
        if exc.requested:
            fail(f"stopped by {signal_words(caught[0]) if caught else 'request'}. {exc.account}")
            return exit_status(caught[0]) if caught else 1
        fail(str(exc))
        return 1
    except (UploadRefused, WriteError) as exc:  # nothing was sent; the message says why
        fail(str(exc))
        return 1
    except OSError as exc:
        fail(f"{exc.filename or path}: {exc.strerror or exc}; nothing was sent")
        return 1
    finally:
        with anyio.CancelScope(shield=True):  # what Ameyo answered while the store was down
            await writes.finish(within=settings.drain_s)
        await ameyo.aclose()
    shown.clear()
    print(bulk_text(out), flush=True)  # the CLI's report for a person
    return 0 if out.ok == out.rows else 1


def _receiver(args: argparse.Namespace) -> int:
    from functools import partial

    from ..receiver.service import serve
    from ..server.page import receiver_page

    with _bound(args.host, args.port) as sock, _settings(args) as settings:
        fewer_arenas(given_by_environment=malloc_arenas_given())
        setup_logging(settings.log_level)
        page = partial(receiver_page, settings, args.host, int(sock.getsockname()[1]))
        serve(settings, args.host, sock, page=page)
    return 0


def _sync(args: argparse.Namespace) -> int:
    from .sync import sync_command

    with _settings(args) as settings:
        setup_logging(settings.log_level)
        # A pass makes thousands of short-lived containers per page (the answer's dicts, the
        # rows), so the cycle collector runs often, and each of its full collections walked every
        # object of start-up too (see bench/README.md, index sync): those are set aside for good.
        # (Running it less often instead kept more pages' garbage alive: a larger peak RSS.)
        gc.freeze()
        return anyio.run(lambda: sync_command(settings, args.campaign, restart=args.restart))


def _simulator(args: argparse.Namespace) -> int:
    from ..simulator import SimulatorConfig, serve

    try:
        pushes = {"push_rate": args.push_rate, "push_shape": args.push_shape}
        config = SimulatorConfig(
            user_id=args.user,
            password=args.password,
            contacts=args.contacts,
            names=args.names,
            push_url=args.push_url,
            **{name: value for name, value in pushes.items() if value is not None},
        )
    except ValueError as exc:
        print(f"ameyo-mcp simulator: {exc}", file=sys.stderr)
        return 2
    setup_logging("INFO")
    serve(config, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
