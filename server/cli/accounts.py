"""`todo-agent user add` and `todo-agent token create | revoke`."""

from __future__ import annotations

import argparse
import sys

from server.cli.common import with_services
from server.config import Settings
from server.services import Services


def add_commands(commands: argparse._SubParsersAction) -> None:
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


async def _user_add(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        user = await services.users.create_user(
            name=args.name, email=args.email, timezone=args.timezone
        )
        print(f"created user {user.name} (timezone {user.timezone})")
        print(f"next: todo-agent token create {user.name}")
        return 0

    return await with_services(settings, action)


async def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        print(await services.users.create_token(name=args.name))
        print("store it now: it is not shown again", file=sys.stderr)
        return 0

    return await with_services(settings, action)


async def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        count = await services.users.revoke_token(prefix=args.prefix)
        print(f"revoked {count} token(s)")
        return 0

    return await with_services(settings, action)
