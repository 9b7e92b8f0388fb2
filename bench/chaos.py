"""Chaos: writers load todo-agent while its processes are SIGKILLed and the broker goes away;
then it counts what was lost or doubled. Every figure must be 0. A script, not a test.

    .venv/bin/python bench/chaos.py [--kafka] [--kills 5] [--seconds 60]
    .venv/bin/python bench/chaos.py --scale-out [--seconds 100] [--outage 25]

Single node (default): one `todo-agent serve` (SQLite; with --kafka, Kafka as well) under two
REST and two MCP writers is SIGKILLed --kills times and restarted; with --kafka the broker is
stopped for --outage seconds (default 30) and comes back empty. Counts: acknowledged writes
lost, duplicate tasks per idempotency key, events never published, duplicate notifications.

Scale-out (--scale-out): PostgreSQL, Kafka and SMTP; two `serve --no-workers` and two
`worker`; REST and MCP writers on both APIs and a live (SSE) client per user on each API.
Each worker and each API is SIGKILLed once (the first API stays down 7 s) and the broker
is stopped for --outage seconds (default 25). Counts: acknowledged writes lost, alerts
without a notification, notifications without their email, live events each replica's
clients missed (or got twice).

Everything runs on this machine; logs go to a temporary directory, printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.chaos_rig import (  # noqa: E402
    Agent,
    Ledger,
    LiveClient,
    mcp_writer,
    rest_writer,
    running,
    say,
)
from server.config import Settings  # noqa: E402
from server.events.live import to_live_event  # noqa: E402
from server.events.models import OutboxEvent  # noqa: E402
from server.notifications.models import Notification  # noqa: E402
from server.runtime import open_runtime  # noqa: E402
from server.services import Services  # noqa: E402
from server.tasks.models import Task, TaskAlert, TaskCreate  # noqa: E402
from testkit.kafka import Tansu  # noqa: E402
from testkit.servers import Postgres  # noqa: E402
from testkit.smtp import SmtpServer  # noqa: E402

WRITER_PAUSE = 0.1  # between one writer's creates: ~10 per second each
SETTLE_SECONDS = 240  # a stopped worker's half-sent email waits ~90 s to be taken over


async def main(args: argparse.Namespace) -> int:
    # Only the script's own progress on the terminal (the processes log to their files).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logs = Path(tempfile.mkdtemp(prefix="chaos-"))
    say(f"logs in {logs}")
    figures = await (scale_out(args, logs) if args.scale_out else single(args, logs))
    say(f"log lines over the whole run: {log_lines(logs)}")
    width = max(map(len, figures))
    print()
    for name, value in figures.items():
        print(f"  {name:<{width}}  {value}")
    bad = {name: value for name, value in figures.items() if value}
    print(f"\n{'ALL 0' if not bad else 'NOT ALL 0: ' + ', '.join(bad)}  (logs: {logs})")
    return 1 if bad else 0


def log_lines(logs: Path) -> str:
    return ", ".join(
        f"{log.stem} {len(log.read_bytes().splitlines())}" for log in sorted(logs.glob("*.log"))
    )


# -- single node ---------------------------------------------------------------------


async def single(args: argparse.Namespace, logs: Path) -> dict[str, int]:
    database_url = f"sqlite+aiosqlite:///{logs}/todo.db"
    env = {"DATABASE_URL": database_url, "SCHEDULER_INTERVAL_SECONDS": "1"}
    broker = Tansu() if args.kafka else None
    if broker is not None:
        broker.start()
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
    async with data_only(database_url) as services:
        accounts = await prepare(services, users=4)
        server = Agent("serve", ["serve"], env, logs)
        say(f"serve up in {await server.start():.1f}s")
        ledger, stop = Ledger(), asyncio.Event()
        writers = [
            *(rest_writer([server.url], t, f"r{i}", ledger, stop, WRITER_PAUSE) for i, (_, t) in
              enumerate(accounts[:2])),
            *(mcp_writer(server.url, t, f"m{i}", ledger, stop, WRITER_PAUSE) for i, (_, t) in
              enumerate(accounts[2:])),
        ]  # fmt: skip
        async with running(writers), running([report(ledger, [], stop)]):
            await chaos_single(args, server, broker)
            stop.set()
        say(f"writers stopped: {len(ledger.acked)} creates acknowledged, {ledger.retries} retries")
        await settle(services, emails=None, clients=[])
        figures = {
            "acknowledged writes lost": await lost_writes(services, ledger),
            "duplicate tasks per idempotency key": await duplicate_tasks(services),
            "events never published": await unpublished(services, ledger),
            "duplicate notifications": await duplicate_notifications(services),
        }
        if any(figures.values()):
            await explain(services, [])
        await server.stop()
    if broker is not None:
        broker.stop()
    return figures


async def chaos_single(args: argparse.Namespace, server: Agent, broker: Tansu | None) -> None:
    """Kills spread over the first half (all of it without a broker), then the outage."""
    span = args.seconds / 2 if broker is not None else args.seconds
    gap = span / (args.kills + 1)
    for n in range(args.kills):
        await asyncio.sleep(gap)
        await server.kill()
        say(f"SIGKILL serve ({n + 1}/{args.kills})")
        say(f"serve up again in {await server.start():.1f}s")
    await asyncio.sleep(gap)
    if broker is not None:
        await outage(broker, args.outage or 30)
        await asyncio.sleep(max(5.0, args.seconds / 2 - (args.outage or 30)))


# -- scale-out -----------------------------------------------------------------------


async def scale_out(args: argparse.Namespace, logs: Path) -> dict[str, int]:
    pg, broker, mailbox = Postgres(str(logs / "pg")), Tansu(), SmtpServer()
    broker.start()
    mailbox.start()
    database_url = pg.new_database_url()
    env = {
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "SCHEDULER_INTERVAL_SECONDS": "1",
        **{name.upper(): str(value) for name, value in mailbox.settings().items()},
    }
    try:
        async with data_only(database_url) as services:
            return await scale_out_on(args, logs, services, env, broker, mailbox)
    finally:
        broker.stop()
        mailbox.stop()
        pg.stop()


async def scale_out_on(
    args: argparse.Namespace,
    logs: Path,
    services: Services,
    env: dict[str, str],
    broker: Tansu,
    mailbox: SmtpServer,
) -> dict[str, int]:
    accounts = await prepare(services, users=4)
    workers = [Agent(f"worker-{n}", ["worker"], env, logs) for n in (1, 2)]
    apis = [Agent(f"api-{n}", ["serve", "--no-workers"], env, logs) for n in (1, 2)]
    started = await asyncio.gather(*(agent.start() for agent in (*workers, *apis)))
    say(f"2 workers and 2 APIs up in {max(started):.1f}s")
    await seed(services, accounts)
    urls = [api.url for api in apis]
    clients = [
        LiveClient(f"{api.name}/{user.name}", api.url, token, user.id)
        for api in apis
        for user, token in accounts
    ]
    ledger, stop = Ledger(), asyncio.Event()
    writers = [
        rest_writer(urls[i % 2 :] + urls[: i % 2], token, f"r{i}", ledger, stop, WRITER_PAUSE)
        for i, (_, token) in enumerate(accounts)
    ] + [mcp_writer(api.url, accounts[i][1], f"m{i}", ledger, stop, WRITER_PAUSE) for i, api in
         enumerate(apis)]  # fmt: skip
    live_stop = asyncio.Event()
    async with running([c.run(live_stop) for c in clients]):
        # Every client knows where it starts before the first write: all after is expected.
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), 30)
        async with running(writers), running([report(ledger, clients, stop)]):
            await chaos_scale_out(args, workers, apis, broker)
            stop.set()
        say(f"writers stopped: {len(ledger.acked)} creates acknowledged, {ledger.retries} retries")
        await settle(services, emails=mailbox, clients=clients)
        live_stop.set()
    figures = {
        "acknowledged writes lost": await lost_writes(services, ledger),
        "duplicate tasks per idempotency key": await duplicate_tasks(services),
        "alerts without a notification": await alerts_without_notification(services),
        "notifications without their email": await notifications_without_email(services, mailbox),
        "duplicate notifications": await duplicate_notifications(services),
    }
    for api in apis:
        ours = [c for c in clients if c.url == api.url]
        missed = [len(await missed_events(services, c)) for c in ours]
        figures[f"live events missed on {api.name}"] = sum(missed)
        figures[f"live events got twice on {api.name}"] = sum(c.duplicates() for c in ours)
    if any(figures.values()):
        await explain(services, clients)
    for agent in (*apis, *workers):
        await agent.stop()
    return figures


async def chaos_scale_out(
    args: argparse.Namespace, workers: list[Agent], apis: list[Agent], broker: Tansu
) -> None:
    origin = time.monotonic()

    async def at(fraction: float) -> None:
        """Wait until that fraction of the load time has passed."""
        await asyncio.sleep(max(0.0, origin + fraction * args.seconds - time.monotonic()))

    await at(0.12)
    await workers[0].kill()
    say("SIGKILL worker-1")
    say(f"worker-1 up again in {await workers[0].start():.1f}s")
    await at(0.25)
    await apis[0].kill()
    say("SIGKILL api-1; down for 7s (its live clients reconnect with Last-Event-ID)")
    await asyncio.sleep(7)
    say(f"api-1 up again in {await apis[0].start():.1f}s")
    await at(0.40)
    await outage(broker, args.outage or 25)
    await at(0.80)
    await workers[1].kill()
    say("SIGKILL worker-2")
    say(f"worker-2 up again in {await workers[1].start():.1f}s")
    await at(0.88)
    await apis[1].kill()
    say("SIGKILL api-2")
    say(f"api-2 up again in {await apis[1].start():.1f}s")
    await at(1.0)


# -- shared steps ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def data_only(database_url: str) -> AsyncIterator[Services]:
    """The services on the run's database (migrated), to arrange and to count; no bus."""
    settings = Settings(_env_file=None, database_url=database_url)
    async with open_runtime(settings, events=False) as runtime:
        yield runtime.services


async def prepare(services: Services, *, users: int) -> list:
    accounts = []
    for n in range(users):
        user = await services.users.create_user(name=f"chaos{n}", email=f"chaos{n}@example.com")
        accounts.append((user, await services.users.create_token(name=user.name)))
    return accounts


async def seed(services: Services, accounts: list) -> None:
    """One task each, published before the live clients connect: their starting point."""
    for user, _ in accounts:
        await services.tasks.create_task(user=user, data=TaskCreate(title="seed"))
    while True:
        if not await pending(services):
            return
        await asyncio.sleep(0.1)


async def outage(broker: Tansu, seconds: float) -> None:
    broker.stop()  # a kill: Tansu keeps nothing, it comes back empty
    say(f"broker stopped for {seconds:.0f}s")
    await asyncio.sleep(seconds)
    broker.start()
    say("broker back, empty (no topics, groups or offsets)")


async def report(ledger: Ledger, clients: list[LiveClient], stop: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.sleep(5)
        live = sum(len(c.received) for c in clients)
        extra = f", {live} live events received" if clients else ""
        say(f"{len(ledger.acked)} creates acknowledged, {ledger.retries} retries{extra}")


async def settle(services: Services, *, emails: SmtpServer | None, clients: list) -> None:
    """Wait until the pipeline has caught up (or SETTLE_SECONDS passed)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        waiting = {
            "outbox": await pending(services),
            "alerts": await alerts_without_notification(services),
            "emails": await notifications_without_email(services, emails) if emails else 0,
            "live": sum([len(await missed_events(services, c)) for c in clients]),
        }
        if not any(waiting.values()):
            say("caught up")
            return
        say("catching up: " + ", ".join(f"{k} {v}" for k, v in waiting.items() if v))
        await asyncio.sleep(3)
    say(f"not caught up after {SETTLE_SECONDS}s")


# -- the figures -------------------------------------------------------------------------


async def scalar(services: Services, stmt) -> int:
    async with services.db.session() as session:
        return await session.scalar(stmt) or 0


async def pending(services: Services) -> int:
    unpublished = OutboxEvent.published_at.is_(None)
    return await scalar(services, select(func.count()).select_from(OutboxEvent).where(unpublished))


async def lost_writes(services: Services, ledger: Ledger) -> int:
    async with services.db.session() as session:
        found = dict((await session.execute(select(Task.id, Task.title))).all())
    return sum(1 for task_id, title in ledger.acked.values() if found.get(task_id) != title)


async def duplicate_tasks(services: Services) -> int:
    """Tasks beyond the first per title: each idempotency key had a title of its own."""
    async with services.db.session() as session:
        titles = Counter((await session.scalars(select(Task.title))).all())
    return sum(n - 1 for title, n in titles.items() if n > 1 and title != "seed")


async def unpublished(services: Services, ledger: Ledger) -> int:
    """Events still pending, and acknowledged creates with no task.created event at all."""
    async with services.db.session() as session:
        envelopes = (await session.scalars(select(OutboxEvent.envelope))).all()
    created = {e["data"]["task"]["id"] for e in envelopes if e["type"] == "task.created"}
    missing = sum(1 for task_id, _ in ledger.acked.values() if task_id not in created)
    return await pending(services) + missing


NOTIFIED = select(Notification.task_id, Notification.kind)


async def duplicate_notifications(services: Services) -> int:
    async with services.db.session() as session:
        keys = Counter((await session.execute(NOTIFIED)).all())
    return sum(n - 1 for n in keys.values() if n > 1)


async def alerts_without_notification(services: Services) -> int:
    async with services.db.session() as session:
        alerts = set((await session.execute(select(TaskAlert.task_id, TaskAlert.kind))).all())
        notified = set((await session.execute(NOTIFIED)).all())
    return len(alerts - notified)


async def notifications_without_email(services: Services, mailbox: SmtpServer) -> int:
    async with services.db.session() as session:
        emailed = Notification.email_status == "sent"
        sent = await session.scalar(select(func.count()).select_from(Notification).where(emailed))
        total = await session.scalar(select(func.count()).select_from(Notification))
    # Each sent one must have arrived: the mailbox is the witness, not the status column.
    return max(total - sent, total - len(mailbox.inbox.messages))


async def missed_events(services: Services, client: LiveClient) -> set[str]:
    """The user's task and notification events this client never got (seed ones aside)."""
    stmt = select(OutboxEvent.event_id, OutboxEvent.envelope).where(
        OutboxEvent.key == str(client.user_id),
        OutboxEvent.topic.in_([services.topics.task_events, services.topics.notifications]),
    )
    async with services.db.session() as session:
        rows = (await session.execute(stmt)).all()
    expected = {
        event_id
        for event_id, envelope in rows
        if to_live_event(envelope) is not None
        and envelope["data"].get("task", {}).get("title") != "seed"
    }
    return expected - set(client.received)


async def explain(services: Services, clients: list[LiveClient]) -> None:
    """Where a non-zero figure comes from: the alerts, emails and live events missing."""
    alerts = select(TaskAlert.task_id, TaskAlert.kind, TaskAlert.fired_at)
    unsent = select(Notification.id, Notification.email_status, Notification.email_claimed_at)
    async with services.db.session() as session:
        notified = set((await session.execute(NOTIFIED)).all())
        fired = (await session.execute(alerts.order_by(TaskAlert.fired_at))).all()
        emails = (await session.execute(unsent.where(Notification.email_status != "sent"))).all()
    for task_id, kind, at in fired:
        if (task_id, kind) not in notified:
            say(f"no notification for the {kind} alert of task {task_id}, fired {at:%H:%M:%S.%f}")
    for notification_id, status, claimed in emails[:20]:
        say(f"notification {notification_id} not emailed: {status}, claimed {claimed}")
    for client in clients:
        missed = await missed_events(services, client)
        if not missed:
            continue
        at = await services.live_log.position_of(client.user_id, client.last_event_id)
        say(
            f"{client.name}: {len(missed)} missed, {len(client.received)} received, "
            f"{client.reconnects} reconnects, {client.resets} resets, last id at {at}, "
            f"last errors {client.errors[-3:]}"
        )
        stmt = select(
            OutboxEvent.id, OutboxEvent.sent_batch, OutboxEvent.topic, OutboxEvent.created_at,
            OutboxEvent.published_at,
        ).where(OutboxEvent.event_id.in_(missed))  # fmt: skip
        async with services.db.session() as session:
            for row in (await session.execute(stmt)).all():
                say(f"  missed {row}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )  # fmt: skip
    parser.add_argument("--scale-out", action="store_true", help="2 APIs, 2 workers, PG, Kafka")
    parser.add_argument("--kafka", action="store_true", help="single node: with Kafka")
    parser.add_argument("--kills", type=int, default=5, help="single node: SIGKILLs of serve")
    parser.add_argument("--seconds", type=float, help="load time (default 60, 100 scale-out)")
    parser.add_argument("--outage", type=float, help="broker outage (default 30, 25 scale-out)")
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 100.0 if args.scale_out else (90.0 if args.kafka else 60.0)
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
