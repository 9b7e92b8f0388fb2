"""The `todo-agent` command line: serve, mcp, worker, user, token, events, export, import,
eval.

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration (one line on stderr).
Each command module adds its subcommands (`add_commands`) and opens the runtime
(server/runtime.py) it needs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from server.cli import accounts, evals, events, portability, serve
from server.cli.common import UsageError
from server.config import ConfigError, load_settings
from server.errors import TodoError, Unavailable
from server.observability import configure_logging


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="todo-agent",
        description="Manage tasks by talking to an AI agent; the same tasks as MCP tools.",
        epilog="Configuration comes from the environment or .env (see .env.example).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (serve, accounts, events, portability, evals):
        module.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"todo-agent: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        return asyncio.run(args.handler(args, settings))
    except KeyboardInterrupt:
        return 0
    except UsageError as exc:
        print(f"todo-agent: {exc}", file=sys.stderr)
        return 2
    except Unavailable as exc:  # e.g. an SQLite path in a missing directory
        cause = getattr(exc.__cause__, "orig", exc.__cause__)
        print(f"todo-agent: database unavailable: {cause or exc.message}", file=sys.stderr)
        return 1
    except TodoError as exc:
        print(f"todo-agent: {exc.message}", file=sys.stderr)
        return 2 if exc.status in (400, 404, 409, 422) else 1
    except OSError as exc:
        print(f"todo-agent: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
