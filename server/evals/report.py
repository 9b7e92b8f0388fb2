"""The eval's report: per scenario run and a summary, as data (`--json`) or as text.

Token counts are the provider's when it reports usage. The prompt size (system prompt plus
tool definitions) is also estimated as characters / 4, rounded up: a rough rule for English
and JSON with the tokenizers of current models, good for comparing sizes, not for billing.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any

from .runner import PromptSize, ScenarioResult

CHARS_PER_TOKEN = 4
LARGEST_SHOWN = 5


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def _sum(values: list[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def run_data(result: ScenarioResult, run: int) -> dict[str, Any]:
    calls = [call for turn in result.turns for call in turn.tool_calls]
    return {
        "name": result.name,
        "run": run,
        "passed": result.passed,
        "failures": result.failures,
        "rounds": sum(turn.rounds for turn in result.turns),
        "tool_calls": [call.name for call in calls],
        "prompt_tokens": _sum([turn.prompt_tokens for turn in result.turns]),
        "completion_tokens": _sum([turn.completion_tokens for turn in result.turns]),
        "seconds": round(sum(turn.seconds for turn in result.turns), 3),
        "turns": [
            {
                "say": turn.say,
                "reply": turn.reply,
                "tool_calls": [
                    {"name": c.name, "arguments": c.arguments, "ok": c.ok, "error": c.error}
                    for c in turn.tool_calls
                ],
                "rounds": turn.rounds,
                "prompt_tokens": turn.prompt_tokens,
                "completion_tokens": turn.completion_tokens,
                "seconds": round(turn.seconds, 3),
                "error": turn.error,
            }
            for turn in result.turns
        ],
    }


def prompt_data(prompt: PromptSize, runs: list[tuple[ScenarioResult, int]]) -> dict[str, Any]:
    firsts = [r.turns[0].first_prompt_tokens for r, _ in runs if r.turns]
    counted = [value for value in firsts if value is not None]
    return {
        "system_prompt_chars": prompt.system_chars,
        "tool_definitions_chars": prompt.tools_chars,
        "tools": len(prompt.tool_chars),
        "estimated_tokens": {
            "system_prompt": estimate_tokens(prompt.system_chars),
            "tool_definitions": estimate_tokens(prompt.tools_chars),
            "total": estimate_tokens(prompt.system_chars + prompt.tools_chars),
        },
        "estimate": f"characters / {CHARS_PER_TOKEN}",
        # The smallest first request of a scenario: the system prompt, the tools and a short
        # first message, as the provider's tokenizer counted them.
        "provider_first_request_tokens": min(counted) if counted else None,
        "tool_definition_chars": dict(sorted(prompt.tool_chars.items(), key=lambda kv: -kv[1])),
    }


def build_report(
    runs: list[tuple[ScenarioResult, int]],
    *,
    prompt: PromptSize | None,
    model: str,
    base_url: str | None,
    repeat: int,
) -> dict[str, Any]:
    """The whole report as plain data (what `--json` prints)."""
    scenarios = [run_data(result, run) for result, run in runs]
    passed = sum(1 for data in scenarios if data["passed"])
    count = len(scenarios)
    return {
        "model": model,
        "base_url": base_url,
        "repeat": repeat,
        "summary": {
            "runs": count,
            "passed": passed,
            "pass_rate": round(passed / count, 4) if count else None,
            "median_rounds": statistics.median(d["rounds"] for d in scenarios) if count else None,
            "tool_calls_per_scenario": (
                round(sum(len(d["tool_calls"]) for d in scenarios) / count, 2) if count else None
            ),
            "median_seconds": (
                round(statistics.median(d["seconds"] for d in scenarios), 3) if count else None
            ),
            "prompt_tokens": _sum([d["prompt_tokens"] for d in scenarios]),
            "completion_tokens": _sum([d["completion_tokens"] for d in scenarios]),
        },
        "prompt": prompt_data(prompt, runs) if prompt else None,
        "scenarios": scenarios,
    }


# -- text -----------------------------------------------------------------------------------


def _calls_text(names: list[str]) -> str:
    if not names:
        return "no tool call"
    counts = Counter(names)
    shown = ", ".join(f"{n}×{c}" if c > 1 else n for n, c in counts.items())
    return f"{len(names)} call{'s' if len(names) > 1 else ''} ({shown})"


def _tokens_text(data: dict[str, Any]) -> str:
    if data["prompt_tokens"] is None:
        return "tokens n/a"
    return f"{data['prompt_tokens']:,}+{data['completion_tokens']:,} tokens"


def scenario_line(data: dict[str, Any], repeat: int) -> str:
    """One run's line (and its failures, indented), as printed as it finishes."""
    status = "PASS" if data["passed"] else "FAIL"
    name = data["name"] + (f" #{data['run']}" if repeat > 1 else "")
    line = (
        f"{status}  {name:<34} {data['rounds']:>2} rounds  {_calls_text(data['tool_calls'])};"
        f" {_tokens_text(data)}; {data['seconds']:.2f} s"
    )
    return "\n".join([line, *(f"      - {failure}" for failure in data["failures"])])


def prompt_text(prompt: dict[str, Any]) -> list[str]:
    tokens = prompt["estimated_tokens"]
    lines = [
        f"Prompt: system prompt {prompt['system_prompt_chars']:,} chars "
        f"≈ {tokens['system_prompt']:,} tokens; {prompt['tools']} tool definitions "
        f"{prompt['tool_definitions_chars']:,} chars ≈ {tokens['tool_definitions']:,} tokens; "
        f"≈ {tokens['total']:,} tokens in all ({prompt['estimate']})",
    ]
    if prompt["provider_first_request_tokens"] is not None:
        lines.append(
            f"        the provider counted {prompt['provider_first_request_tokens']:,} prompt "
            "tokens for the smallest first request (system prompt, tools, first message)"
        )
    largest = list(prompt["tool_definition_chars"].items())[:LARGEST_SHOWN]
    shown = ", ".join(f"{name} {chars:,}" for name, chars in largest)
    lines.append(f"        largest tool definitions (chars): {shown}")
    return lines


def report_text(report: dict[str, Any]) -> str:
    """The summary printed after the scenario lines."""
    summary = report["summary"]
    lines = []
    if summary["runs"]:
        tokens = ""
        if summary["prompt_tokens"] is not None:
            tokens = (
                f"; tokens {summary['prompt_tokens']:,} prompt + "
                f"{summary['completion_tokens']:,} completion"
            )
        lines.append(
            f"Summary: {summary['passed']}/{summary['runs']} passed "
            f"({summary['pass_rate']:.0%}); median rounds {summary['median_rounds']:g}; "
            f"tool calls per scenario {summary['tool_calls_per_scenario']:g}; "
            f"median latency {summary['median_seconds']:.2f} s{tokens}"
        )
    if report["prompt"]:
        lines.extend(prompt_text(report["prompt"]))
    return "\n".join(lines)
