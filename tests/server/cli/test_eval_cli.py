"""`todo-agent eval` as a user runs it: the console script against the scripted provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.cli.common import UsageError
from server.cli.main import build_parser
from testkit.fake_llm import Reply, ToolCall
from tests.server.cli.test_cli import todo_agent
from tests.utils.app import make_settings

SCENARIO = """
- name: call-mom
  now: 2026-03-05T09:00
  timezone: Europe/Paris
  turns: ["remind me to call mom tomorrow at 5pm"]
  expect:
    - task: {title: mom, due: 2026-03-06T17:00, has_reminder: true}
- name: garden
  now: 2026-03-05T09:00
  turns: ["create a project called Garden"]
  expect:
    - project: {name: Garden}
"""


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture
def provider(fake_llm, tmp_path: Path) -> dict[str, str]:
    add = ToolCall("add_task", {"title": "Call mom", "due": "tomorrow 5pm"})
    fake_llm.rule("call mom", Reply(tool_calls=[add]), "Added.")
    return {
        "OPENAI_BASE_URL": fake_llm.base_url,
        "LLM_MODEL": "fake-model",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/my-tasks.db",
    }


async def test_eval_reports_each_run_and_a_summary_as_json(tmp_path, scenarios, provider):
    result = await todo_agent(
        "eval", "--scenarios", str(scenarios), "--repeat", "2", "--json", cwd=tmp_path, **provider
    )

    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == "fake-model" and report["repeat"] == 2
    runs = [(s["name"], s["run"], s["passed"]) for s in report["scenarios"]]
    assert runs == [
        ("call-mom", 1, True),
        ("call-mom", 2, True),
        ("garden", 1, False),
        ("garden", 2, False),
    ]
    assert report["summary"]["pass_rate"] == 0.5
    assert report["prompt"]["tools"] > 20
    assert "[1/4] PASS  call-mom #1" in result.stderr
    assert "[4/4] FAIL  garden #2" in result.stderr
    # The user's own database is never opened.
    assert not (tmp_path / "my-tasks.db").exists()


async def test_eval_prints_a_readable_report(scenarios, provider, capsys):
    parsed = build_parser().parse_args(["eval", "--scenarios", str(scenarios), "--only", "garden"])
    settings = make_settings(
        database_url=provider["DATABASE_URL"], openai_base_url=provider["OPENAI_BASE_URL"]
    )

    assert await parsed.handler(parsed, settings) == 0

    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0].startswith("FAIL  garden")
    assert lines[1] == "      - project 'Garden': does not exist"
    assert any(line.startswith("Summary: 0/1 passed (0%)") for line in lines)
    assert any(line.startswith("Prompt: system prompt") for line in lines)
    assert "[1/1] FAIL  garden" in printed.err


async def test_eval_without_a_provider_says_how_to_configure_one(tmp_path):
    parsed = build_parser().parse_args(["eval"])
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/my-tasks.db")

    with pytest.raises(UsageError) as refused:
        await parsed.handler(parsed, settings)

    assert str(refused.value).startswith("no model provider is configured: set OPENAI_BASE_URL")
    assert "LLM_MODEL" in str(refused.value)


BAD_USAGE = {
    "a missing scenario file": (["--scenarios", "nope.yaml"], "--scenarios: nope.yaml: cannot"),
    "no run": (["--repeat", "0"], "--repeat: must be at least 1"),
    "an unknown scenario": (["--only", "nope"], "--only: no scenario named nope"),
}


# In process (the console script's start-up is the slow part): the command's own checks,
# whose UsageError the entry point prints as one line with exit code 2.
@pytest.mark.parametrize("args, message", BAD_USAGE.values(), ids=BAD_USAGE.keys())
async def test_eval_refuses_bad_usage_before_running_anything(tmp_path, provider, args, message):
    parsed = build_parser().parse_args(["eval", *args])
    settings = make_settings(
        database_url=provider["DATABASE_URL"], openai_base_url=provider["OPENAI_BASE_URL"]
    )

    with pytest.raises(UsageError) as refused:
        await parsed.handler(parsed, settings)

    assert message in str(refused.value)
    assert not (tmp_path / "my-tasks.db").exists()


def test_eval_help_lists_its_options(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["eval", "--help"])

    assert exited.value.code == 0
    shown = capsys.readouterr().out
    for option in ("--scenarios FILE", "--repeat N", "--json", "--only NAME"):
        assert option in shown
