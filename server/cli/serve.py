"""`todo-agent serve`, `todo-agent worker` and `todo-agent mcp`: the long-running processes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from urllib.parse import urlsplit

from server.cli.common import UsageError
from server.config import Settings
from server.runtime import open_runtime
from server.services import Services

logger = logging.getLogger(__name__)


def add_commands(commands: argparse._SubParsersAction) -> None:
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


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from server.app import create_app
    from server.http.connections import ConnectionLimits

    if not 0 < args.port < 65536:
        raise UsageError(f"--port: must be between 1 and 65535 (got {args.port})")
    settings = settings.with_public_url(args.host, args.port)
    _warn_about_public_url(settings)
    async with open_runtime(settings, workers=not args.no_workers) as runtime:
        await _first_start(runtime.services)
        config = uvicorn.Config(
            create_app(runtime),
            host=args.host,
            port=args.port,
            log_config=None,
            lifespan="on",
            proxy_headers=True,
            # Open live-event streams (GET /api/events) never end by themselves: on shutdown
            # they are cut after this, and the browser's EventSource reconnects elsewhere.
            timeout_graceful_shutdown=10,
            **ConnectionLimits.from_settings(settings).uvicorn_options(),
        )
        await uvicorn.Server(config).serve()
    return 0


def _warn_about_public_url(settings: Settings) -> None:
    """Remote connectors (Claude, ChatGPT) sign in only over https."""
    parsed = urlsplit(settings.public_origin)
    if parsed.scheme != "https" and parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "PUBLIC_URL is %s: remote MCP connectors need https; behind a TLS proxy set "
            "PUBLIC_URL=https://your.host",
            settings.public_origin,
        )


async def _first_start(services: Services) -> None:
    """With no users yet, create `me` and print a URL that signs straight in."""
    if await services.users.count_users() > 0:
        return
    user = await services.users.create_user(name="me")
    token = await services.users.create_token(name=user.name)
    print(
        f"\nCreated user 'me'. Open the chat:\n\n  {services.oauth.issuer}/#token={token}\n\n"
        f"API token (shown once): {token}\n",
        flush=True,
    )


async def _mcp(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_tools.stdio import run_stdio

    async with open_runtime(settings) as runtime:
        await run_stdio(runtime.mcp, runtime.services.users, user_name=args.user)
    return 0


async def _worker(args: argparse.Namespace, settings: Settings) -> int:
    """The workers alone, until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with open_runtime(settings, workers=True):
            logger.info("todo-agent worker ready")
            await stop.wait()
            logger.info("todo-agent worker stopping")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return 0
