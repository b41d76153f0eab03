"""``pilegate``: the gateway and the operator's command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version

from gateway.config import ConfigError, GatewayConfig, load_config

Handler = Callable[[argparse.Namespace], int]


def package_version() -> str:
    try:
        return version("pilegate")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pilegate",
        description="Charge-point gateway for EV charging piles.",
    )
    parser.add_argument("--version", action="version", version=f"pilegate {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway until SIGTERM/SIGINT")
    serve.add_argument("--config", metavar="FILE", help="TOML file (default config/gateway.toml)")
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="database schema")
    db.add_argument("--config", metavar="FILE", help="TOML file (default config/gateway.toml)")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser("upgrade", help="apply the migrations").set_defaults(handler=_db)
    db_commands.add_parser("current", help="show the schema revision").set_defaults(handler=_db)

    demo = commands.add_parser("demo", help="run the main job: a short demonstration")
    demo.add_argument("--piles", type=int, default=4, help="simulated piles (default 4)")
    demo.add_argument(
        "--seconds", type=float, default=60.0, help="how long the demo runs (default 60)"
    )
    demo.add_argument("--codec", action="store_true", help="only show every message encoded")
    demo.set_defaults(handler=_run_demo)

    from gateway import cli_operator

    cli_operator.register(commands)
    return parser


def _config(args: argparse.Namespace) -> GatewayConfig:
    try:
        return load_config(getattr(args, "config", None))
    except ConfigError as exc:
        print(f"pilegate: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _database_unusable(url: str | None, exc: Exception) -> int:
    """One line naming the database (password hidden) and the cause, instead of the
    traceback of a connection attempt; other errors are bugs and keep theirs."""
    from gateway.storage.engine import connect_failure, resolve_url

    line = connect_failure(resolve_url(url or None), exc)
    if line is None:
        raise exc
    print(f"pilegate: {line}", file=sys.stderr)
    return 1


def _serve(args: argparse.Namespace) -> int:
    from gateway.serve import run, serve

    config = _config(args)
    try:
        return run(serve(config))
    except Exception as exc:
        return _database_unusable(config.database.url, exc)


def _db(args: argparse.Namespace) -> int:
    import asyncio

    from gateway.storage.engine import resolve_url
    from gateway.storage.migrate import current_revision, head_revision, upgrade

    configured = _config(args).database.url or None
    url = resolve_url(configured)
    try:
        if args.db_command == "upgrade":
            asyncio.run(upgrade(url))
            print(f"database at revision {head_revision()}")
            return 0
        current = asyncio.run(current_revision(url))
    except Exception as exc:
        return _database_unusable(configured, exc)
    print(f"database revision {current or 'none'}; this pilegate needs {head_revision()}")
    return 0 if current == head_revision() else 1


def _run_demo(args: argparse.Namespace) -> int:
    from gateway.adapters.pilegate.showcase import codec_demo

    if args.codec:
        return codec_demo()
    from gateway.demo import main_job

    return main_job(piles=args.piles, seconds=args.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
