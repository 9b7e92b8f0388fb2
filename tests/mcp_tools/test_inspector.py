"""The MCP Inspector CLI, a real third-party client, against our server (stdio and HTTP):
tools, resources and prompts.

It needs Node >= 22; `node@22` is installed from npm into .cache/ on first use. These tests
skip, saying why, only when npm cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from server.app import create_app
from testkit.servers import serve_app
from tests.utils.mcp import BIN, TOOLS

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / ".cache" / "node22"
INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"


@pytest.fixture(scope="session")
def inspector_env() -> dict[str, str]:
    node_bin = NODE_DIR / "node_modules" / ".bin"
    if not (node_bin / "node").exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed, so Node 22 for the MCP Inspector cannot be fetched")
        install = subprocess.run(
            ["npm", "i", "--prefix", str(NODE_DIR), "node@22", "--no-audit", "--no-fund"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if install.returncode != 0:
            pytest.skip(f"npm could not install node@22: {install.stderr.strip()[-300:]}")
    env = dict(os.environ)
    env["PATH"] = f"{node_bin}{os.pathsep}{env['PATH']}"
    # Warm the npx cache once so each test measures only the call.
    warm = subprocess.run(
        ["npx", "-y", INSPECTOR, "--cli", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if warm.returncode != 0:
        pytest.skip(f"npx could not fetch {INSPECTOR}: {warm.stderr.strip()[-300:]}")
    return env


# How long the Inspector waits for the server to answer (its default, 15 s, is less than a
# `todo-agent mcp` can take to start on a busy machine): an upper bound, not a wait.
CONNECT_TIMEOUT_MS = "60000"


async def inspect(env: dict[str, str], *args: str) -> dict:
    process = await asyncio.create_subprocess_exec(
        "npx",
        "-y",
        INSPECTOR,
        "--cli",
        *args,
        "--connect-timeout",
        CONNECT_TIMEOUT_MS,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()[-2000:]
    return json.loads(stdout)


async def test_inspector_lists_and_calls_tools_over_stdio(inspector_env, sqlite_url):
    env = {**inspector_env, "DATABASE_URL": sqlite_url}
    # The Inspector starts the server with an environment of its own: pass the setting on.
    command = ["-e", f"DATABASE_URL={sqlite_url}", str(BIN / "todo-agent"), "mcp"]
    listed = await inspect(env, *command, "--method", "tools/list")
    assert "add_task" in {tool["name"] for tool in listed["tools"]}
    added = await inspect(
        env,
        *command,
        "--method",
        "tools/call",
        "--tool-name",
        "add_task",
        "--tool-arg",
        "title=Water the plants",
        "due=2031-05-01T08:00",
    )
    assert added["structuredContent"]["title"] == "Water the plants"
    assert added["structuredContent"]["due"].startswith("2031-05-01")


async def test_inspector_lists_and_calls_tools_over_http(
    runtime, inspector_env, settings, services, alice
):
    app = create_app(runtime)
    async with serve_app(app) as base_url:
        target = [
            f"{base_url}/mcp",
            "--transport",
            "http",
            "--header",
            f"Authorization: Bearer {alice.token}",
        ]
        listed = await inspect(inspector_env, *target, "--method", "tools/list")
        assert {tool["name"] for tool in listed["tools"]} == TOOLS
        added = await inspect(
            inspector_env,
            *target,
            "--method",
            "tools/call",
            "--tool-name",
            "add_task",
            "--tool-arg",
            "title=Renew passport",
        )
    assert added["structuredContent"]["title"] == "Renew passport"
    page = await services.tasks.list_tasks(user=alice.user, query=_pending())
    assert [t.title for t in page.tasks] == ["Renew passport"]


def _pending():
    from server.tasks.models import TaskQuery

    return TaskQuery()


async def inspect_resources_and_prompts(env: dict[str, str], target: list[str]) -> dict:
    """What the Inspector lists and reads beyond tools, over `target`."""
    return {
        method: await inspect(env, *target, "--method", method, *extra)
        for method, extra in (
            ("resources/list", []),
            ("prompts/list", []),
            ("resources/read", ["--uri", "tasks://today"]),
        )
    }


def assert_sees_the_day(seen: dict, title: str) -> None:
    assert {"tasks://today", "tasks://upcoming"} <= {
        r["uri"] for r in seen["resources/list"]["resources"]
    }
    assert {p["name"] for p in seen["prompts/list"]["prompts"]} == {
        "plan_my_day",
        "weekly_review",
        "triage_inbox",
    }
    (content,) = seen["resources/read"]["contents"]
    assert content["mimeType"] == "application/json"
    assert [t["title"] for t in json.loads(content["text"])["tasks"]] == [title]


# One engine: what is tested is the Inspector's view (each call starts a Node process).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_inspector_lists_resources_and_prompts_and_reads_today_over_stdio(
    inspector_env, runtime, settings, services, alice
):
    await services.tasks.create_task(user=alice.user, data=_overdue("Return the library books"))
    env = {**inspector_env, "DATABASE_URL": settings.database_url}
    command = [
        "-e",
        f"DATABASE_URL={settings.database_url}",
        str(BIN / "todo-agent"),
        "mcp",
        "--user",
        "alice",
    ]
    seen = await inspect_resources_and_prompts(env, command)
    assert_sees_the_day(seen, "Return the library books")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_inspector_lists_resources_and_prompts_and_reads_today_over_http(
    runtime, inspector_env, services, alice
):
    await services.tasks.create_task(user=alice.user, data=_overdue("Renew the car insurance"))
    async with serve_app(create_app(runtime)) as base_url:
        target = [
            f"{base_url}/mcp",
            "--transport",
            "http",
            "--header",
            f"Authorization: Bearer {alice.token}",
        ]
        seen = await inspect_resources_and_prompts(inspector_env, target)
    assert_sees_the_day(seen, "Renew the car insurance")


def _overdue(title: str):
    from datetime import timedelta

    from server.db import utcnow
    from server.tasks.models import TaskCreate

    return TaskCreate(title=title, due=utcnow() - timedelta(hours=2))
