"""The `todo-agent` command line: serve, mcp, worker, user, token, events.

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration (one line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import DBAPIError

from server.config import ConfigError, Settings, load_settings
from server.errors import TodoError
from server.observability import configure_logging
from server.services import Services, build_services

logger = logging.getLogger(__name__)

Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]


class UsageError(Exception):
    """Bad usage detected after parsing; exits with code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="todo-agent",
        description="Manage tasks by talking to an AI agent; the same tasks as MCP tools.",
        epilog="Configuration comes from the environment or .env (see .env.example).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve", help="HTTP API, web chat at /, MCP at /mcp, and the background workers"
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument(
        "--no-workers", action="store_true", help="do not run the scheduler and consumers here"
    )
    serve.set_defaults(handler=_serve)

    mcp = commands.add_parser("mcp", help="MCP over stdio for desktop clients (Claude Desktop)")
    mcp.add_argument("--user", default="me", help="act as this user (default: me)")
    mcp.set_defaults(handler=_mcp)

    worker = commands.add_parser(
        "worker", help="outbox relay, deadline scheduler and consumers only (scale-out)"
    )
    worker.set_defaults(handler=_worker)

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", metavar="ACTION", required=True
    )
    user_add = user.add_parser("add", help="create a user")
    user_add.add_argument("name", help="user name: letters, digits and _ . @ -")
    user_add.add_argument("--email", help="where notification emails go")
    user_add.add_argument(
        "--timezone", default="UTC", help="IANA timezone such as Europe/Paris (default UTC)"
    )
    user_add.set_defaults(handler=_user_add)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="token_command", metavar="ACTION", required=True
    )
    token_create = token.add_parser("create", help="print a new API token for a user (once)")
    token_create.add_argument("name", help="the user the token acts as")
    token_create.set_defaults(handler=_token_create)
    token_revoke = token.add_parser("revoke", help="revoke tokens by their first characters")
    token_revoke.add_argument("prefix", help="the token's first 12 or more characters")
    token_revoke.set_defaults(handler=_token_revoke)

    _add_event_commands(commands)
    return parser


def _add_event_commands(commands: argparse._SubParsersAction) -> None:
    try:
        from server.events.cli import add_commands
    except ImportError:  # the events commands land with the workers
        return
    add_commands(commands)


async def _with_services(settings: Settings, action: Callable[[Services], Awaitable[int]]) -> int:
    services = build_services(settings)
    try:
        await services.db.migrate()
        return await action(services)
    finally:
        await services.db.dispose()


async def _user_add(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        user = await services.users.create_user(
            name=args.name, email=args.email, timezone=args.timezone
        )
        print(f"created user {user.name} (timezone {user.timezone})")
        print(f"next: todo-agent token create {user.name}")
        return 0

    return await _with_services(settings, action)


async def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        print(await services.users.create_token(name=args.name))
        print("store it now: it is not shown again", file=sys.stderr)
        return 0

    return await _with_services(settings, action)


async def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        count = await services.users.revoke_token(prefix=args.prefix)
        print(f"revoked {count} token(s)")
        return 0

    return await _with_services(settings, action)


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from server.app import create_app

    if not 0 < args.port < 65536:
        raise UsageError(f"--port: must be between 1 and 65535 (got {args.port})")
    services = build_services(settings)
    await services.db.migrate()
    await _first_start(services, args.host, args.port)
    app = create_app(settings, workers=not args.no_workers, services=services)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        lifespan="on",
        proxy_headers=True,
        # Open live-event streams (GET /api/events) never end by themselves: on shutdown they
        # are cut after this, and the browser's EventSource reconnects to another replica.
        timeout_graceful_shutdown=10,
    )
    await uvicorn.Server(config).serve()
    return 0


async def _first_start(services: Services, host: str, port: int) -> None:
    """With no users yet, create `me` and print a URL that signs straight in."""
    if await services.users.count_users() > 0:
        return
    user = await services.users.create_user(name="me")
    token = await services.users.create_token(name=user.name)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(
        f"\nCreated user 'me'. Open the chat:\n\n  http://{shown}:{port}/#token={token}\n\n"
        f"API token (shown once): {token}\n",
        flush=True,
    )


async def _mcp(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_tools.stdio import run_stdio

    return await run_stdio(settings, user_name=args.user)


async def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from server.workers.runner import run_worker_process

    return await run_worker_process(settings)


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
    except TodoError as exc:
        print(f"todo-agent: {exc.message}", file=sys.stderr)
        return 2 if exc.status in (400, 404, 409, 422) else 1
    except OSError as exc:
        print(f"todo-agent: {exc}", file=sys.stderr)
        return 1
    except DBAPIError as exc:  # e.g. an SQLite path in a missing directory
        print(f"todo-agent: database unavailable: {exc.orig}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
