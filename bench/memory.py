"""Resident memory of `todo-agent serve`: idle, and what each open live stream and each
open chat adds.

    .venv/bin/python bench/memory.py [--streams 100] [--chats 100]

`todo-agent serve` (the defaults of `make run`: SQLite, in-process bus, workers), pointed
at a scripted provider whose answers never finish, starts once to create its database,
then again on it, as a server usually starts. Its RSS (VmRSS) is read once it has idled a
few seconds (the first start's, which also ran the migrations, is printed too). Then
`--streams` `GET /api/events` streams are opened and held, then `--chats` `POST /api/chat`
streams (each past its first delta). One stream and one chat are opened and closed before
each measure, so what they load once (the model client, say) is not counted per
connection. For reference it prints the RSS of a bare interpreter that imported FastAPI
and uvicorn. Goals: idle <= 100 MB, <= 100 KB per stream and per chat.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from processes import provider, rss_kb, serve  # noqa: E402
from record import record  # noqa: E402

SETTLE_SECONDS = 3.0


async def hold(
    stack: contextlib.AsyncExitStack, client: httpx.AsyncClient, method: str, url: str, **kw
) -> None:
    """Open a stream and keep it open (on `stack`) once its first bytes came."""
    response = await stack.enter_async_context(client.stream(method, url, **kw))
    assert response.status_code == 200, await response.aread()
    chunks = response.aiter_bytes()
    seen = b""
    while b"event: delta" not in seen and b": connected" not in seen:
        seen += await anext(chunks)


async def per_connection(pid: int, count: int, open_one) -> float:
    """kB of RSS each of `count` held connections adds (after one opened and closed)."""
    async with contextlib.AsyncExitStack() as warm:
        await open_one(warm)
    await asyncio.sleep(SETTLE_SECONDS)
    before = rss_kb(pid)
    async with contextlib.AsyncExitStack() as stack:
        await asyncio.gather(*(open_one(stack) for _ in range(count)))
        await asyncio.sleep(SETTLE_SECONDS)
        after = rss_kb(pid)
    return (after - before) / count


def bare_interpreter_kb() -> int:
    code = "import fastapi, uvicorn, os; print(open('/proc/self/status').read())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    return next(int(line.split()[1]) for line in out.splitlines() if line.startswith("VmRSS:"))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--chats", type=int, default=100)
    args = parser.parse_args()
    env = {"LLM_MODEL": "fake-model", "CHAT_TURNS_PER_MINUTE": "0"}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    with tempfile.TemporaryDirectory() as workdir:
        async with provider(hang=True) as (base_url, _):
            env |= {"OPENAI_BASE_URL": base_url}
            async with serve(workdir, workers=True, env=env) as (_, token, pid):
                await asyncio.sleep(SETTLE_SECONDS)
                first_start = rss_kb(pid)
            async with (
                serve(workdir, workers=True, env=env, token=token) as (url, _, pid),
                httpx.AsyncClient(limits=limits, timeout=60) as client,
            ):
                await asyncio.sleep(SETTLE_SECONDS)
                idle = rss_kb(pid)
                stream_kb, chat_kb, after_chats = await held(client, url, token, pid, args)
    bare = bare_interpreter_kb()
    print(
        f"idle `todo-agent serve`: {idle / 1024:.1f} MB (first start, migrating: "
        f"{first_start / 1024:.1f} MB;"
    )
    print(
        f"  a bare FastAPI + uvicorn import: {bare / 1024:.1f} MB); after the chats: "
        f"{after_chats / 1024:.1f} MB"
    )
    print(f"per open /api/events stream: {stream_kb:.0f} kB ({args.streams} held)")
    print(f"per open chat: {chat_kb:.0f} kB ({args.chats} held)")
    record(
        "P6",
        "idle `serve` RSS",
        f"{idle / 1024:.0f} MB (first start {first_start / 1024:.0f} MB; bare FastAPI "
        f"{bare / 1024:.0f} MB)",
        "<= 100 MB",
        idle <= 100 * 1024,
    )
    record(
        "P6",
        "RSS per open /api/events stream",
        f"{stream_kb:.0f} kB",
        "<= 100 kB",
        stream_kb <= 100,
    )
    record("P6", "RSS per open chat", f"{chat_kb:.0f} kB", "<= 100 kB", chat_kb <= 100)


async def held(client: httpx.AsyncClient, url: str, token: str, pid: int, args):
    """kB per held stream and per held chat, and the RSS after them."""
    auth = {"Authorization": f"Bearer {token}"}

    async def open_stream(stack: contextlib.AsyncExitStack) -> None:
        await hold(stack, client, "GET", f"{url}/api/events", headers=auth)

    async def open_chat(stack: contextlib.AsyncExitStack) -> None:
        body = {"message": "What is due today?"}
        await hold(stack, client, "POST", f"{url}/api/chat", json=body, headers=auth)

    stream_kb = await per_connection(pid, args.streams, open_stream)
    chat_kb = await per_connection(pid, args.chats, open_chat)
    return stream_kb, chat_kb, rss_kb(pid)


if __name__ == "__main__":
    asyncio.run(main())
