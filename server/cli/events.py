"""`todo-agent events dead-letters` and `todo-agent events retry ID`."""

from __future__ import annotations

import argparse
import sys

from server.cli.common import with_services
from server.config import Settings
from server.events.consumer import Delivery
from server.events.dead_letters import get_dead_letter, list_dead_letters, mark_retried
from server.events.models import DeadLetter
from server.services import Services
from server.workers.consumers import build_consumers


def add_commands(commands: argparse._SubParsersAction) -> None:
    events = commands.add_parser("events", help="inspect and replay events").add_subparsers(
        dest="events_command", metavar="ACTION", required=True
    )
    dead = events.add_parser("dead-letters", help="list events a consumer gave up on")
    dead.add_argument("--limit", type=int, default=100, help="how many, newest first")
    dead.set_defaults(handler=_dead_letters)
    retry = events.add_parser("retry", help="replay a dead letter to the consumer that failed")
    retry.add_argument("id", type=int, help="the dead letter's ID (see events dead-letters)")
    retry.set_defaults(handler=_retry)


async def _dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        letters = await list_dead_letters(services.db, limit=max(1, args.limit))
        if not letters:
            print("no dead letters")
            return 0
        print(
            f"{'ID':>5}  {'CONSUMER':<14} {'EVENT':<22} {'TRIES':>5}  {'PARKED':<20} STATE / ERROR"
        )
        for letter in letters:
            print(describe(letter))
        return 0

    return await with_services(settings, action)


def describe(letter: DeadLetter) -> str:
    state = f"retried {letter.retried_at:%Y-%m-%d %H:%M:%S}" if letter.retried_at else "parked"
    error = letter.error.splitlines()[0] if letter.error else ""
    event_type = str(letter.envelope.get("type", "?"))
    return (
        f"{letter.id:>5}  {letter.consumer:<14} {event_type:<22} {letter.attempts:>5}  "
        f"{letter.created_at:%Y-%m-%d %H:%M:%S}  {state}: {error[:120]}\n"
        f"       event {letter.event_id} on {letter.topic}"
    )


async def _retry(args: argparse.Namespace, settings: Settings) -> int:
    async def action(services: Services) -> int:
        letter = await get_dead_letter(services.db, dead_letter_id=args.id)
        consumers = {consumer.name: consumer for consumer in build_consumers(services)}
        consumer = consumers.get(letter.consumer)
        if consumer is None:
            print(
                f"todo-agent: consumer {letter.consumer!r} of dead letter {letter.id} is not "
                f"configured here (known: {', '.join(sorted(consumers))})",
                file=sys.stderr,
            )
            return 2
        handled = await Delivery(db=services.db, consumer=consumer).deliver(letter.envelope)
        await mark_retried(services.db, dead_letter_id=letter.id)
        if not handled:
            print(
                f"event {letter.event_id} failed again in {letter.consumer} and was parked "
                "again (see: todo-agent events dead-letters)",
                file=sys.stderr,
            )
            return 1
        print(f"replayed event {letter.event_id} to {letter.consumer}: done")
        return 0

    return await with_services(settings, action)
