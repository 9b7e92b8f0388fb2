"""The real `todo-agent` console script in a subprocess, on an SQLite file."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.app import create_app
from server.runtime import open_runtime
from tests.conftest import make_settings
from tests.utils.app import http_client, services_on

TODO_AGENT = Path(sys.executable).parent / "todo-agent"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


async def todo_agent(*args: str, cwd: Path, **env: str) -> Run:
    """Run the console script with a clean environment (only what the test passes)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    process = await asyncio.create_subprocess_exec(
        str(TODO_AGENT),
        *args,
        cwd=cwd,
        env=base | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return Run(process.returncode, stdout.decode(), stderr.decode())


async def me(database_url: str, token: str) -> httpx.Response:
    """GET /api/me with `token` on a freshly started app over the CLI's database."""
    settings = make_settings(database_url=database_url)
    async with open_runtime(settings) as runtime, http_client(create_app(runtime)) as client:
        return await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})


BAD_USAGE = {
    "no command": ([], {}, "required: COMMAND"),
    "user add without a name": (["user", "add"], {}, "required: name"),
    "bad timezone": (["user", "add", "ann", "--timezone", "Mars/Base"], {}, "timezone"),
    "bad user name": (["user", "add", "two words"], {}, "name"),
    "bad email": (["user", "add", "ann", "--email", "ann-at-home"], {}, "email"),
    "unknown user": (["token", "create", "nobody"], {}, "user 'nobody' not found"),
    "too-short prefix": (["token", "revoke", "tda_ab"], {}, "first 12 characters"),
    "port out of range": (["serve", "--port", "70000"], {}, "--port"),
    "bad DATABASE_URL": (["user", "add", "ann"], {"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL"),
    "short AUTH_JWT_SECRET": (["serve"], {"AUTH_JWT_SECRET": "change-me"}, "AUTH_JWT_SECRET"),
    "bad DATABASE_URL port": (
        ["user", "add", "ann"],
        {"DATABASE_URL": "postgresql+asyncpg://me@db:not-a-port/todo"},
        "DATABASE_URL",
    ),
}


@pytest.fixture(scope="module")
async def bad_usage_runs(tmp_path_factory) -> dict[str, Run]:
    """Every bad-usage case, a few at a time (each on its own database) to save time.

    At most one per core at once: eleven interpreters starting together on a busy machine
    would each take longer than `todo_agent`'s limit."""
    at_once = asyncio.Semaphore(os.cpu_count() or 1)

    async def run(case: str) -> Run:
        args, env, _ = BAD_USAGE[case]
        cwd = tmp_path_factory.mktemp("cli")
        env = {"DATABASE_URL": f"sqlite+aiosqlite:///{cwd}/todo.db"} | env
        async with at_once:
            return await todo_agent(*args, cwd=cwd, **env)

    runs = await asyncio.gather(*(run(case) for case in BAD_USAGE))
    return dict(zip(BAD_USAGE, runs, strict=True))


@pytest.mark.parametrize("case", list(BAD_USAGE))
def test_bad_usage_exits_2_with_a_clear_message(bad_usage_runs, case):
    run, expected = bad_usage_runs[case], BAD_USAGE[case][2]

    assert run.code == 2, run
    assert expected in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


async def test_user_and_token_commands_work_end_to_end(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/todo.db"

    added = await todo_agent(
        "user", "add", "alice", "--email", "alice@example.com", "--timezone", "Asia/Tokyo",
        cwd=tmp_path, DATABASE_URL=url,
    )  # fmt: skip
    again = await todo_agent("user", "add", "alice", cwd=tmp_path, DATABASE_URL=url)
    created = await todo_agent("token", "create", "alice", cwd=tmp_path, DATABASE_URL=url)

    assert added.code == 0, added
    assert "created user alice (timezone Asia/Tokyo)" in added.stdout
    assert again.code == 2 and "already exists" in again.stderr
    assert created.code == 0, created
    token = created.stdout.strip()
    assert token.startswith("tda_") and "\n" not in token
    signed_in = await me(url, token)
    assert signed_in.status_code == 200
    assert signed_in.json() | {"id": 0} == {
        "id": 0,
        "name": "alice",
        "email": "alice@example.com",
        "timezone": "Asia/Tokyo",
    }
    async with services_on(url) as services:  # the new user came with an Inbox
        user = await services.users.get_user(name="alice")
        projects = await services.projects.list_projects(user=user)
    assert [p.name for p in projects.projects] == ["Inbox"]

    revoked = await todo_agent("token", "revoke", token[:12], cwd=tmp_path, DATABASE_URL=url)

    assert revoked.code == 0, revoked
    assert "revoked 1 token(s)" in revoked.stdout
    refused = await me(url, token)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
