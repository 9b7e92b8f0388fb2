"""`todo-agent eval`: how well the configured model drives todo-agent, scenario by scenario."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from server.cli.common import UsageError
from server.config import Settings

NO_PROVIDER = (
    "no model provider is configured: set OPENAI_BASE_URL (any OpenAI-compatible API, e.g. "
    "http://127.0.0.1:11434/v1 for Ollama) or OPENAI_API_KEY (OpenAI), and LLM_MODEL"
)


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval",
        help="run chat scenarios against the configured model and report how it did",
        description=(
            "Run chat scenarios through the real chat path (agent, MCP tools, storage) "
            "against the provider of OPENAI_BASE_URL / LLM_MODEL. Each scenario runs in a "
            "scratch database with a scratch user at a fixed time, never on your data, and "
            "is checked on the tasks it leaves, not on the wording. Progress goes to stderr, "
            "the report to stdout."
        ),
    )
    parser.add_argument(
        "--scenarios",
        type=Path,
        metavar="FILE",
        help="a YAML or JSON file of scenarios (default: the ~30 that ship with todo-agent)",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only the scenario of this name (repeatable)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N", help="run each scenario N times (default 1)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=_eval)


async def _eval(args: argparse.Namespace, settings: Settings) -> int:
    # Here, not at the top: every command starts faster without the agent's imports.
    from server.conversations.provider import open_agent
    from server.evals.report import build_report, report_text, run_data, scenario_line
    from server.evals.runner import Evaluation, ScenarioResult
    from server.evals.scenario import ScenarioFileError, load_scenarios

    if args.repeat < 1:
        raise UsageError("--repeat: must be at least 1")
    if not settings.llm_configured:
        raise UsageError(NO_PROVIDER)
    try:
        scenarios = load_scenarios(args.scenarios)
    except ScenarioFileError as exc:
        raise UsageError(f"--scenarios: {exc}") from None
    if args.only:
        unknown = sorted(set(args.only) - {scenario.name for scenario in scenarios})
        if unknown:
            raise UsageError(f"--only: no scenario named {', '.join(unknown)}")
        scenarios = [scenario for scenario in scenarios if scenario.name in args.only]
    total = len(scenarios) * args.repeat
    where = settings.openai_base_url or "the OpenAI API"
    print(f"todo-agent eval: {total} runs against {settings.llm_model} at {where}", file=sys.stderr)
    runs: list[tuple[ScenarioResult, int]] = []
    async with open_agent(settings) as agent:
        assert agent is not None  # the provider is configured
        evaluation = Evaluation(settings=settings, agent=agent)
        for scenario in scenarios:
            for run in range(1, args.repeat + 1):
                result = await evaluation.run(scenario)
                runs.append((result, run))
                line = scenario_line(run_data(result, run), args.repeat).splitlines()[0]
                print(f"[{len(runs)}/{total}] {line}", file=sys.stderr, flush=True)
    report = build_report(
        runs,
        prompt=evaluation.prompt,
        model=settings.llm_model,
        base_url=settings.openai_base_url,
        repeat=args.repeat,
    )
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    else:
        for data in report["scenarios"]:
            print(scenario_line(data, args.repeat))
        print()
        print(report_text(report))
    return 0
