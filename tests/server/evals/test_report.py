"""The report: per run and summary figures, and the prompt size the model is sent."""

from __future__ import annotations

import json
import math

from server.evals.report import build_report, report_text, run_data, scenario_line
from testkit.fake_llm import Reply, ToolCall


async def test_the_report_sums_up_runs_and_sizes_the_prompt_as_sent(run, evaluation, fake_llm):
    add = ToolCall("add_task", {"title": "Call mom", "due": "tomorrow 5pm"})
    fake_llm.rule("call mom", Reply(tool_calls=[add]), "Added.")
    passed = await run("remind-call-mom")
    failed = await run("add-project")  # the echo: nothing is created
    first_request = next(r for r in fake_llm.requests if "call mom" in r.last_user_text)

    report = build_report(
        [(passed, 1), (failed, 1)],
        prompt=evaluation.prompt,
        model="fake-model",
        base_url=fake_llm.base_url,
        repeat=1,
    )

    summary = report["summary"]
    assert summary["runs"] == 2 and summary["passed"] == 1 and summary["pass_rate"] == 0.5
    assert summary["median_rounds"] == 1.5  # two requests, then one
    assert summary["tool_calls_per_scenario"] == 0.5
    assert summary["prompt_tokens"] > 0 and summary["completion_tokens"] > 0
    [good, bad] = report["scenarios"]
    assert good["tool_calls"] == ["add_task"] and good["turns"][0]["tool_calls"][0]["ok"]
    assert bad["failures"] == ["project 'Garden': does not exist"]

    prompt = report["prompt"]
    tools_sent = json.dumps(first_request.body["tools"], separators=(",", ":"))
    assert prompt["tool_definitions_chars"] == len(tools_sent)
    assert prompt["tools"] == len(first_request.tool_names)
    assert set(prompt["tool_definition_chars"]) == set(first_request.tool_names)
    add_task = next(t for t in first_request.body["tools"] if t["function"]["name"] == "add_task")
    assert "title" in add_task["function"]["parameters"]["properties"]  # the task's title
    assert "title" not in add_task["function"]["parameters"]  # no generated labels
    # Measured in this module's first scenario, the one sent in `first_request`.
    assert prompt["system_prompt_chars"] == len(first_request.system_prompt)
    estimated = prompt["estimated_tokens"]
    assert estimated["tool_definitions"] == math.ceil(len(tools_sent) / 4)
    assert prompt["provider_first_request_tokens"] is not None
    json.dumps(report)  # all plain data

    text = report_text(report)
    assert "Summary: 1/2 passed (50%); median rounds 1.5; tool calls per scenario 0.5" in text
    assert f"{prompt['tools']} tool definitions" in text
    line = scenario_line(run_data(failed, 1), repeat=1)
    assert line.startswith("FAIL  add-project")
    assert line.endswith("      - project 'Garden': does not exist")
