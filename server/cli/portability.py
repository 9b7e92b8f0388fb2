"""`todo-agent export NAME [--output FILE]` and `todo-agent import NAME FILE`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from server.cli.common import UsageError, with_services
from server.cli.progress import ProgressBar
from server.config import Settings
from server.services import Services


def add_commands(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="write everything of a user as JSON (stdout, or --output)",
        description="Write a user's profile, settings, projects, tasks (subtasks, reminders, "
        "comments, recurrence, tags; deleted ones too) as JSON, format 'todo-agent' version 1, "
        "which 'todo-agent import' reads back.",
    )
    export.add_argument("name", help="the user to export")
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE, not stdout")
    export.set_defaults(handler=_export)

    imp = commands.add_parser(
        "import",
        help="read a todo-agent export (JSON) or a Todoist CSV into a user",
        description="Add a file's projects, tasks and comments to a user, in one transaction: "
        "a bad or cut-short file changes nothing and names the row or field (exit code 2). "
        "A project named like one of the user's is merged into it; the file's Inbox is the "
        "user's Inbox. A Todoist CSV becomes a project named after the file.",
    )
    imp.add_argument("name", help="the user to import into")
    imp.add_argument("file", help="a todo-agent export (.json) or a Todoist CSV export (.csv)")
    imp.set_defaults(handler=_import)


async def _export(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        user = await services.users.get_user(name=args.name)
        text = (await services.portability.export(user=user)).model_dump_json(indent=2) + "\n"
        if args.output is None:
            sys.stdout.write(text)
            return 0
        output = Path(args.output)
        # Written aside, then renamed: never a half-written export under the wanted name.
        partial = output.with_name(output.name + ".partial")
        await asyncio.to_thread(partial.write_text, text, encoding="utf-8")
        await asyncio.to_thread(partial.replace, output)
        print(f"exported user {user.name} to {output}", file=sys.stderr)
        return 0

    return await with_services(settings, action)


async def _import(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start})") from None

    async def action(services: Services) -> int:
        user = await services.users.get_user(name=args.name)
        bar = ProgressBar(f"importing {path.name}")
        try:
            summary = await services.portability.import_file(
                user=user, text=text, filename=path.name, progress=bar
            )
        finally:
            bar.close()
        print(f"{summary} into user {user.name}")
        return 0

    return await with_services(settings, action)
