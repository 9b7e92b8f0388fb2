"""Time to the first text delta: through POST /api/chat versus the provider called directly.

Three processes: the scripted provider (testkit/fake_llm.py), `todo-agent serve
--no-workers` on a fresh SQLite file pointed at it, and this client. For each concurrency
level the same number of requests take each path, in alternating phases:

- direct: the request the chat sends for a new conversation (system prompt, the message,
  the ten tool definitions; read back from the provider), sent straight to it: the
  baseline, the provider's own time for the same work;
- direct-min: a two-message request without tools, for reference (the provider reads
  about 10 kB less);
- new: POST /api/chat opening a conversation (auth, prompt and tool definitions, the
  provider call, the SSE relay; the conversation and the message are stored meanwhile);
- continue: POST /api/chat continuing one (auth, read the bounded history; the message is
  stored while the provider answers).

The report gives each path's p50 and p99 and what it adds to the baseline of the same run.

    .venv/bin/python bench/chat_overhead.py [--requests 400] [--concurrency 1 50]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from processes import cpu_seconds, percentile, provider, serve  # noqa: E402
from record import record  # noqa: E402

MESSAGE = "What is due today?"


@contextlib.asynccontextmanager
async def server(base_url: str, workdir: str) -> AsyncIterator[tuple[str, str, int]]:
    """`todo-agent serve --no-workers` pointed at the provider; yields its URL, the first
    user's token and its pid."""
    env = {
        "OPENAI_BASE_URL": base_url,
        "LLM_MODEL": "fake-model",
        "CHAT_TURNS_PER_MINUTE": "0",  # one user sends them all: measured, not throttled
    }
    async with serve(workdir, env=env) as running:
        yield running


MINIMAL_REQUEST = {
    "model": "fake-model",
    "stream": True,
    "messages": [{"role": "system", "content": "bench"}, {"role": "user", "content": MESSAGE}],
}


# A chunk with text: the provider's first one only says the role ("content": "").
TEXT_CHUNK = re.compile(rb'"content": ?"[^"]')


async def first_delta_direct(
    client: httpx.AsyncClient, base_url: str, body: dict[str, Any]
) -> float:
    # Bytes are searched rather than lines parsed: at 50 chats this client's own CPU is what
    # saturates first, and every path reads its whole stream.
    start = time.perf_counter()
    first = None
    seen = b""
    async with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            if first is None:
                seen += chunk
                if TEXT_CHUNK.search(seen):
                    first = time.perf_counter() - start
    assert first is not None, "no text delta"
    return first


async def first_delta_chat(
    client: httpx.AsyncClient, url: str, token: str, conversation_id: int | None = None
) -> tuple[float, int]:
    """Time to the first delta event, and the conversation it went to."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {"message": MESSAGE, "conversation_id": conversation_id}
    start = time.perf_counter()
    first = None
    seen = b""
    async with client.stream("POST", f"{url}/api/chat", json=body, headers=headers) as response:
        response.raise_for_status()
        async for chunk in response.aiter_bytes():
            if b"event: error" in chunk:
                raise RuntimeError(f"the chat answered with an error event: {chunk!r}")
            if first is None:
                seen += chunk
                if b"event: delta" in seen:
                    first = time.perf_counter() - start
    assert first is not None, "no delta event"
    if conversation_id is None:  # the first event: `event: conversation` then its data line
        data = seen.split(b"data:", 1)[1].split(b"\n", 1)[0]
        conversation_id = json.loads(data)["conversation_id"]
    return first, conversation_id


class Continuing:
    """Chats that continue conversations opened beforehand (untimed), round robin."""

    def __init__(self, client: httpx.AsyncClient, url: str, token: str) -> None:
        self.client, self.url, self.token = client, url, token
        self.pool: collections.deque[int] = collections.deque()

    async def open(self, count: int) -> None:
        async def one() -> None:
            _, conversation_id = await first_delta_chat(self.client, self.url, self.token)
            self.pool.append(conversation_id)

        await asyncio.gather(*(one() for _ in range(count - len(self.pool))))

    async def __call__(self) -> float:
        conversation_id = self.pool.popleft()
        try:
            elapsed, _ = await first_delta_chat(self.client, self.url, self.token, conversation_id)
        finally:
            self.pool.append(conversation_id)
        return elapsed


async def run_phase(
    call: Callable[[], Awaitable[float]], requests: int, concurrency: int
) -> list[float]:
    """`requests` calls from `concurrency` workers in a closed loop; their latencies."""
    latencies: list[float] = []
    remaining = iter(range(requests))

    async def worker() -> None:
        for _ in remaining:
            latencies.append(await call())

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="chats per path and level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50])
    args = parser.parse_args()

    # Idle connections are dropped before uvicorn's 5 s keep-alive closes them under a request.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=4)
    with tempfile.TemporaryDirectory() as workdir:
        async with (
            provider() as (base_url, provider_pid),
            server(base_url, workdir) as (url, token, server_pid),
            httpx.AsyncClient(limits=limits, timeout=60) as client,
        ):

            async def new_chat() -> float:
                return (await first_delta_chat(client, url, token))[0]

            await new_chat()
            chat_request = (await client.get(f"{base_url}/requests/last")).json()
            assert chat_request["tools"], "the chat sent no tool definitions"
            continuing = Continuing(client, url, token)
            paths: dict[str, Callable[[], Awaitable[float]]] = {
                "direct": lambda: first_delta_direct(client, base_url, chat_request),
                "direct-min": lambda: first_delta_direct(client, base_url, MINIMAL_REQUEST),
                "new": new_chat,
                "continue": continuing,
            }

            # Conversations to continue: a few messages each, one per worker at least.
            await continuing.open(max(*args.concurrency, args.requests // 8))
            for call in paths.values():  # warm up every path and its connections
                await run_phase(call, 50, 5)
            print(f"time to first text delta, {args.requests} chats per path and level (ms)")
            print("direct: the chat's own request sent to the provider itself (direct-min: a")
            print("minimal one); new/continue: POST /api/chat starting or continuing a")
            print("conversation; +p50/+p99: added to direct in this run")
            print(
                f"{'concurrency':>11} {'path':>10} {'p50':>8} {'p99':>8}"
                f" {'+p50':>8} {'+p99':>8} {'x p50':>6}"
            )
            processes = {"client": os.getpid(), "server": server_pid, "provider": provider_pid}
            cpu: dict[str, collections.Counter[str]] = {
                name: collections.Counter() for name in paths
            }
            for concurrency in args.concurrency:
                samples: dict[str, list[float]] = {name: [] for name in paths}
                # Alternate phases so drift (caches, the database growing) hits all alike.
                half = args.requests // 2
                for _ in range(2):
                    for name, call in paths.items():
                        before = {p: cpu_seconds(pid) for p, pid in processes.items()}
                        samples[name] += await run_phase(call, half, concurrency)
                        for p, pid in processes.items():
                            cpu[name][p] += cpu_seconds(pid) - before[p]
                base50 = percentile(samples["direct"], 0.5) * 1000
                base99 = percentile(samples["direct"], 0.99) * 1000
                for name, values in samples.items():
                    p50 = percentile(values, 0.5) * 1000
                    p99 = percentile(values, 0.99) * 1000
                    print(
                        f"{concurrency:>11} {name:>10} {p50:8.2f} {p99:8.2f}"
                        f" {p50 - base50:8.2f} {p99 - base99:8.2f} {p50 / base50:6.2f}"
                    )
                    if concurrency == 1 and name == "continue":
                        added50, added99 = p50 - base50, p99 - base99
                        record(
                            "P1",
                            "/api/chat time to first delta added, continuing, 1 chat",
                            f"{added50:+.1f} ms p50, {added99:+.1f} ms p99",
                            "<= 3 ms p50, <= 10 ms p99",
                            added50 <= 3 and added99 <= 10,
                        )
            # Where the machine's two cores went: at 50 chats they are all busy, and a latency
            # then says as much about the other processes as about the path measured.
            print("\nCPU ms per request, all levels (client = this process)")
            print(f"{'path':>10} " + " ".join(f"{p:>9}" for p in processes))
            for name in paths:
                count = args.requests * len(args.concurrency)
                per = " ".join(f"{cpu[name][p] * 1000 / count:9.2f}" for p in processes)
                print(f"{name:>10} {per}")
            server_ms = cpu["continue"]["server"] * 1000 / (args.requests * len(args.concurrency))
            record(
                "P1b",
                "server CPU per chat turn (continuing)",
                f"{server_ms:.1f} ms",
                "<= 3 ms",
                server_ms <= 3,
            )


if __name__ == "__main__":
    asyncio.run(main())
