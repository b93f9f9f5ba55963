"""The `ameyo-mcp` command: serve over stdio or HTTP, try the settings, or run the simulator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from .config import Settings, load_settings
from .errors import SettingsError
from .logs import setup_logging


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ameyo-mcp", description="MCP server for the Ameyo Customer Manager API"
    )
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    parser.add_argument(
        "--demo", action="store_true", help="use the embedded Ameyo simulator and its sample data"
    )
    parser.add_argument("--env-file", default=".env", help="settings file (default .env)")
    sub = parser.add_subparsers(dest="command")
    check = sub.add_parser("check", help="log in, ping, list campaigns, log out, and report")
    check.add_argument("--demo", action="store_true", help="check against the embedded simulator")
    check.add_argument("--campaign", type=int, default=None, help="campaign id to try (token auth)")
    simulator = sub.add_parser("simulator", help="run the Ameyo simulator over HTTP")
    simulator.add_argument("--host", default="127.0.0.1")
    simulator.add_argument("--port", type=int, default=8888)
    simulator.add_argument("--user", default="CustomerManager")
    simulator.add_argument("--password", default="simulator")
    simulator.add_argument("--contacts", type=int, default=300, help="sample contacts in MoviStarSurvey")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "simulator":
            return _simulator(args)
        if args.command == "check":
            return _check(args)
        return _serve(args)
    except SettingsError as exc:
        print(f"ameyo-mcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(env_file=getattr(args, "env_file", ".env"))


def _serve(args: argparse.Namespace) -> int:
    if args.demo:
        from .demo import demo_settings

        with demo_settings() as settings:
            _run_server(settings, args)
        return 0
    settings = _settings(args)
    _run_server(settings, args)
    return 0


def _run_server(settings: Settings, args: argparse.Namespace) -> None:
    from .server import create_server

    setup_logging(settings.log_level)
    server = create_server(settings)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        import uvicorn

        from .http import http_app

        app = http_app(server, settings, args.host, args.port)
        print(f"ameyo-mcp: serving streamable HTTP at http://{args.host}:{args.port}/mcp", file=sys.stderr)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


def _check(args: argparse.Namespace) -> int:
    from .check import run_check

    def say(line: str) -> None:
        print(line, flush=True)  # a CLI report for a person: never runs under stdio

    if args.demo:
        from .demo import demo_settings

        with demo_settings() as settings:
            setup_logging(settings.log_level)
            return 0 if anyio.run(lambda: run_check(settings, say, campaign_id=args.campaign)) else 1
    settings = _settings(args)
    setup_logging(settings.log_level)
    return 0 if anyio.run(lambda: run_check(settings, say, campaign_id=args.campaign)) else 1


def _simulator(args: argparse.Namespace) -> int:
    from .simulator import SimulatorConfig, serve

    setup_logging("INFO")
    serve(
        SimulatorConfig(user_id=args.user, password=args.password, contacts=args.contacts),
        host=args.host,
        port=args.port,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
