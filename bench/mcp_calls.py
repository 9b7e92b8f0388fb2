"""MCP tool calls over streamable HTTP: our `list_tasks` (10k stored tasks) against the SDK's
own minimal server with a trivial echo tool, measured in the same run with the same load.

    .venv/bin/python bench/mcp_calls.py [--db sqlite|postgres] [--clients 20] [--seconds 10]
        [--rounds 5]

Each server runs in its own process; the load generator checks each with the SDK client, then
sends the same tools/call request over N concurrent connections in a loop. The measures take
turns in `--rounds` short rounds, so a shared machine's changing load falls on all of them;
prints calls/s, p50 and p99 of each round, and the median over rounds of ours / echo.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testkit.servers import free_port  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from record import record  # noqa: E402

ECHO_ARGS = {"text": "hello"}
# One TLS context for all the load's clients (see `load`).
TLS = ssl.create_default_context()

ECHO_SERVER = """
import sys
from mcp.server import MCPServer
mcp = MCPServer("echo")

@mcp.tool()
async def echo(text: str) -> str:
    return text

mcp.settings.log_level = "WARNING"
mcp.run("streamable-http", port=int(sys.argv[1]))
"""

# Our app exactly as `todo-agent serve --no-workers` builds it, plus the same echo tool, so
# the run can tell our HTTP + auth + MCP stack apart from the database work of our tools.
OUR_SERVER = """
import asyncio, sys
import uvicorn
from server.app import create_app
from server.config import load_settings
from server.observability import configure_logging
from server.runtime import open_runtime

async def echo(text: str) -> str:
    return text

async def main():
    settings = load_settings()
    configure_logging(settings.log_level)
    async with open_runtime(settings) as runtime:
        runtime.mcp.add_tool(echo)
        config = uvicorn.Config(create_app(runtime), port=int(sys.argv[1]), log_config=None)
        await uvicorn.Server(config).serve()

asyncio.run(main())
"""


async def seed(database_url: str, count: int) -> str:
    """Create user `bench` with `count` tasks; returns an API token."""
    from server.config import Settings
    from server.runtime import open_runtime

    settings = Settings(_env_file=None, database_url=database_url)
    async with open_runtime(settings, events=False) as runtime:
        return await _seed_rows(runtime.services, count)


async def _seed_rows(services, count: int) -> str:
    from sqlalchemy import insert

    from server.tasks.models import Task

    user = await services.users.create_user(name="bench")
    token = await services.users.create_token(name="bench")
    inbox = (await services.projects.list_projects(user=user)).projects[0]
    now = datetime.now(UTC)
    rows = [
        {
            "user_id": user.id,
            "project_id": inbox.id,
            "reminders": [],
            "title": f"Task {i}",
            "description": "Something to do" if i % 3 else None,
            "completed": i % 4 == 0,
            "priority": ("high", "medium", "low", None)[i % 4],
            "priority_rank": i % 4 + 1,
            "tags": ["work"] if i % 2 else ["home"],
            "tags_key": "|work|" if i % 2 else "|home|",
            "due": now + timedelta(hours=i),
            "due_sort": now + timedelta(hours=i),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    async with services.db.transaction() as session:
        for start in range(0, count, 2000):
            await session.execute(insert(Task), rows[start : start + 2000])
    return token


async def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    async with httpx2.AsyncClient() as http:
        while time.monotonic() < deadline:
            try:
                await http.get(url, timeout=1)
                return
            except httpx2.HTTPError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start")


def wire_request(tool: str, args: dict) -> tuple[dict[str, str], bytes]:
    """The HTTP request the SDK's Client sends for one tools/call (protocol 2026-07-28)."""
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": tool,
    }
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0.1.0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": args, "_meta": meta},
    }
    return headers, json.dumps(body).encode()


async def check_with_sdk_client(url: str, headers: dict[str, str], tool: str, args: dict) -> None:
    """One call through the real SDK client, so the load below is a real MCP exchange."""
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            result = await client.call_tool(tool, args)
            assert not result.is_error and result.structured_content, result.content


async def load(
    url: str,
    auth: dict[str, str],
    tool: str,
    args: dict,
    clients: int,
    seconds: float,
    *,
    check: bool = True,
) -> list[float]:
    """`clients` connections each sending the SDK client's tools/call request in a loop
    (after one call through the SDK client, with `check`).

    The load generator speaks the wire format directly: the SDK client's own validation of
    each result would otherwise use more CPU than the servers under test, on a 2-core machine.
    Its connections share one TLS context (unused, but building one per client costs ~30 ms
    of CPU, which short rounds would count).
    """
    if check:
        await check_with_sdk_client(url, auth, tool, args)
    headers, body = wire_request(tool, args)
    headers |= auth
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def one_client() -> None:
        async with httpx2.AsyncClient(timeout=30, verify=TLS) as http:
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                response = await http.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - began)
                reply = response.json()
                assert response.status_code == 200 and not reply["result"]["isError"], reply

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies


async def interleaved(
    measures: dict[str, tuple[str, dict[str, str], str, dict]],
    clients: int,
    seconds: float,
    rounds: int,
) -> dict[str, list[float]]:
    """Each measure's calls/s in each of `rounds` rounds of `seconds / rounds` (the order
    turned each round), so a change in the machine's load between measures shows in one
    round's ratios instead of in the whole result."""
    rates: dict[str, list[float]] = {name: [] for name in measures}
    names = list(measures)
    for n in range(rounds):
        turn = names[n % len(names) :] + names[: n % len(names)]
        for name in turn:
            url, auth, tool, args = measures[name]
            latencies = await load(url, auth, tool, args, clients, seconds / rounds, check=n == 0)
            rates[name].append(report(f"{name} [{n + 1}]", latencies, seconds / rounds))
    return rates


def median_ratio(rates: list[float], baseline: list[float]) -> float:
    """The median over rounds of each round's ratio to the baseline of the same round."""
    return statistics.median(rate / base for rate, base in zip(rates, baseline, strict=True))


def report(name: str, latencies: list[float], seconds: float) -> float:
    rate = len(latencies) / seconds
    q = statistics.quantiles(latencies, n=100)
    p50, p99 = q[49] * 1000, q[98] * 1000
    print(f"{name:<32} {rate:8.0f} calls/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="per measure, all rounds")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp()
    postgres = None
    if args.db == "postgres":
        from testkit.servers import Postgres

        postgres = Postgres(tmp)
        database_url = postgres.new_database_url()
    else:
        database_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
    print(f"seeding {args.tasks} tasks in {args.db} ...", flush=True)
    token = await seed(database_url, args.tasks)

    env = {**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    ours_port, echo_port = free_port(), free_port()
    ours = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OUR_SERVER, str(ours_port), env=env, cwd=ROOT
    )
    echo = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ECHO_SERVER, str(echo_port), env=env, stderr=subprocess.DEVNULL
    )
    try:
        await wait_ready(f"http://127.0.0.1:{ours_port}/health/live")
        await wait_ready(f"http://127.0.0.1:{echo_port}/mcp")
        print(
            f"{args.clients} concurrent clients, {args.seconds:.0f} s each,"
            f" in {args.rounds} interleaved rounds",
            flush=True,
        )
        ours_url = f"http://127.0.0.1:{ours_port}/mcp"
        auth = {"Authorization": f"Bearer {token}"}
        measures = {
            "SDK echo (baseline)": (f"http://127.0.0.1:{echo_port}/mcp", {}, "echo", ECHO_ARGS),
            "todo-agent stack, echo tool": (ours_url, auth, "echo", ECHO_ARGS),
            "todo-agent list_tasks (20)": (ours_url, auth, "list_tasks", {"limit": 20}),
            "todo-agent get_task": (ours_url, auth, "get_task", {"task_id": 1}),
        }
        rates = await interleaved(measures, args.clients, args.seconds, args.rounds)
        ratios = {name: median_ratio(rates[name], rates["SDK echo (baseline)"]) for name in rates}
        echo_rate = statistics.median(rates["SDK echo (baseline)"])
        for name, ratio in ratios.items():
            print(f"ratio {name} / echo: {ratio:.2f}x (median of the rounds)")
        for tool, name, goal in (
            ("get_task", "todo-agent get_task", 0.8),
            ("list_tasks (20)", "todo-agent list_tasks (20)", 0.5),
        ):
            rate, ratio = statistics.median(rates[name]), ratios[name]
            record(
                "P2",
                f"MCP {tool} vs SDK echo, {args.clients} clients ({args.db})",
                f"{rate:.0f} / {echo_rate:.0f} calls/s = {ratio:.2f}x",
                f">= {goal}x",
                ratio >= goal,
            )
    finally:
        for process in (ours, echo):
            process.terminate()
            await process.wait()
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    asyncio.run(main())
