"""`add_task` sustained over REST and over MCP, against raw aiosqlite inserting the same rows.

    .venv/bin/python bench/add_task.py [--clients 4] [--seconds 10]

`todo-agent serve` (SQLite, workers on: the relay publishes each task's event as it would
in use) takes `--clients` concurrent writers for `--seconds` over each API: REST
`POST /api/tasks` and MCP `tools/call add_task` (streamable HTTP, the SDK client's wire
request). The baseline, in the same run, is a bare aiosqlite connection on the same
database file (same pragmas) inserting the same task rows, one INSERT and COMMIT each.
Prints tasks/s of each and the ratios (goal >= 0.5).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from mcp_calls import wire_request  # noqa: E402
from processes import percentile, serve  # noqa: E402
from record import quick, record  # noqa: E402

TASK = {"title": "Water the plants", "priority": "high", "tags": ["home", "weekly"]}


async def closed_loop(clients: int, seconds: float, send) -> list[float]:
    """`clients` workers calling `send(http, n)` until the time is up; the latencies."""
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                await send(http, next(counter))
                latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


async def over_rest(url: str, token: str, clients: int, seconds: float) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}

    async def send(http: httpx.AsyncClient, n: int) -> None:
        body = {**TASK, "title": f"{TASK['title']} {n}"}
        response = await http.post(f"{url}/api/tasks", json=body, headers=headers)
        assert response.status_code == 201, response.text

    return await closed_loop(clients, seconds, send)


async def over_mcp(url: str, token: str, clients: int, seconds: float) -> list[float]:
    async def send(http: httpx.AsyncClient, n: int) -> None:
        headers, body = wire_request("add_task", {**TASK, "title": f"{TASK['title']} {n}"})
        headers["Authorization"] = f"Bearer {token}"
        response = await http.post(f"{url}/mcp", content=body, headers=headers)
        reply = response.json()
        assert response.status_code == 200 and not reply["result"]["isError"], reply

    return await closed_loop(clients, seconds, send)


async def raw_inserts(database: Path, seconds: float) -> list[float]:
    """The same task rows through one bare aiosqlite connection, one commit each."""
    with sqlite3.connect(database) as conn:
        user_id, project_id = conn.execute(
            "SELECT user_id, id FROM projects ORDER BY id LIMIT 1"
        ).fetchone()
    latencies: list[float] = []
    async with aiosqlite.connect(database) as db:
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        stop_at = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            now = datetime.now(UTC).isoformat()
            await db.execute(
                "INSERT INTO tasks (user_id, project_id, title, completed, priority,"
                " priority_rank, tags, tags_key, due_sort, reminders, created_at, updated_at)"
                " VALUES (?, ?, ?, 0, ?, 1, ?, ?, '9999-12-31 00:00:00.000000', '[]', ?, ?)",
                (
                    user_id,
                    project_id,
                    f"{TASK['title']} raw {n}",
                    TASK["priority"],
                    json.dumps(TASK["tags"]),
                    "|home|weekly|",
                    now,
                    now,
                ),
            )
            await db.commit()
            latencies.append(time.perf_counter() - began)
            n += 1
    return latencies


def line(name: str, latencies: list[float], seconds: float) -> float:
    rate = len(latencies) / seconds
    p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
    print(f"{name:<34} {rate:8.0f} tasks/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms", flush=True)
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0 if quick() else 10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        async with serve(workdir, workers=True) as (url, token, _pid):
            await over_rest(url, token, args.clients, 1.0)  # warm up both paths
            await over_mcp(url, token, args.clients, 1.0)
            rest = await over_rest(url, token, args.clients, args.seconds)
            mcp = await over_mcp(url, token, args.clients, args.seconds)
        raw = await raw_inserts(Path(workdir) / "bench.db", args.seconds)
    print(f"add_task, {args.clients} concurrent clients, {args.seconds:.0f} s each (SQLite)")
    raw_rate = line("raw aiosqlite INSERT + COMMIT", raw, args.seconds)
    for name, latencies in (("REST POST /api/tasks", rest), ("MCP add_task", mcp)):
        rate = line(name, latencies, args.seconds)
        ratio = rate / raw_rate
        print(f"  ratio {name} / raw: {ratio:.2f} (goal >= 0.5)")
        record(
            "P3",
            f"add_task over {name.split()[0]} vs raw aiosqlite, {args.clients} clients",
            f"{rate:.0f} / {raw_rate:.0f} tasks/s = {ratio:.2f}x",
            ">= 0.5x",
            ratio >= 0.5,
        )


if __name__ == "__main__":
    asyncio.run(main())
