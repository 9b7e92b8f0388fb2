"""The shipped scenarios and the scenario file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_tools.session import in_process_client
from server.evals.scenario import ScenarioFileError, load_scenarios, parse_scenarios
from server.runtime import open_runtime
from tests.conftest import make_account, make_settings


async def test_the_shipped_scenarios_exercise_every_tool(sqlite_url):
    scenarios = load_scenarios()
    async with open_runtime(make_settings(database_url=sqlite_url), events=False) as runtime:
        account = await make_account(runtime.services, "alice")
        async with in_process_client(runtime.mcp, account.user) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}

    exercised = {name for scenario in scenarios for name in scenario.tools}
    assert len(scenarios) >= 30
    assert tools - exercised == set()
    assert exercised - tools == set()  # no scenario names a tool that does not exist


def test_the_shipped_scenarios_cover_dst_ambiguity_refusals_follow_ups_and_undo():
    scenarios = load_scenarios()
    kinds = {check.kind for s in scenarios for check in s.expect}
    zones = {s.timezone for s in scenarios if s.name.startswith("dst-")}
    assert zones == {"Europe/Paris", "America/New_York"}
    assert {"asks", "unchanged", "called", "not_called", "task", "project", "count"} <= kinds
    assert any(s.seed.other_user_tasks for s in scenarios)
    assert any(len(s.steps) >= 3 for s in scenarios)
    assert any("undo" in step.say for s in scenarios for step in s.steps)


def test_a_scenario_file_may_be_json_or_yaml(tmp_path: Path):
    as_json = tmp_path / "one.json"
    as_json.write_text(
        '{"scenarios": [{"name": "x", "now": "2026-03-05T09:00", "turns": ["hi"],'
        ' "expect": [{"unchanged": true}]}]}'
    )
    as_yaml = tmp_path / "one.yaml"
    as_yaml.write_text("- {name: x, now: 2026-03-05T09:00, turns: [hi]}\n")

    assert [s.name for s in load_scenarios(as_json)] == ["x"]
    assert load_scenarios(as_yaml)[0].steps[0].say == "hi"


BAD_FILES = {
    "not YAML": ("- {name: [", "not valid YAML"),
    "no scenarios": ("[]", "expected a non-empty list of scenarios"),
    "two kinds in one check": (
        "- {name: x, now: 2026-03-05T09:00, turns: [hi], expect: [{called: add_task, asks: true}]}",
        "scenario x: expect.0: Value error, a check has exactly one kind, got ['called', 'asks']",
    ),
    "an unknown field": (
        "- {name: x, now: 2026-03-05T09:00, turns: [hi], expect: [{task: {titel: a}}]}",
        "scenario x: expect.0.task.titel: Extra inputs are not permitted",
    ),
    "an unknown timezone": (
        "- {name: x, now: 2026-03-05T09:00, timezone: Mars/Base, turns: [hi]}",
        "scenario x: timezone:",
    ),
    "no turns": ("- {name: x, now: 2026-03-05T09:00, turns: []}", "scenario x: turns:"),
    "a repeated name": (
        "- {name: x, now: 2026-03-05T09:00, turns: [hi]}\n"
        "- {name: x, now: 2026-03-05T09:00, turns: [hi]}",
        "scenario names repeat: x",
    ),
}


@pytest.mark.parametrize("text, message", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_scenario_file_is_refused_naming_the_scenario_and_field(text, message):
    with pytest.raises(ScenarioFileError) as caught:
        parse_scenarios(text, name="mine.yaml")
    assert str(caught.value).startswith("mine.yaml: ")
    assert message in str(caught.value)


def test_a_missing_scenario_file_is_refused_naming_it(tmp_path: Path):
    with pytest.raises(ScenarioFileError, match="missing.yaml: cannot read it"):
        load_scenarios(tmp_path / "missing.yaml")
