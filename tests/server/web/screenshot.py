"""Take the README screenshot (docs/screenshot.png) of the page in a real browser.

Runs `todo-agent serve` on a fresh database with the scripted provider, adds a few tasks,
has one short chat, and photographs the page:

    .venv/bin/python -m tests.server.web.screenshot [PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from playwright.async_api import expect

from testkit.fake_llm import FakeLLM, Reply, ToolCall
from tests.server.web.helpers import (
    CHROMIUM_INSTALLED,
    CHROMIUM_MISSING,
    launch_chromium,
    run_serve,
)

DEFAULT_PATH = Path(__file__).resolve().parents[3] / "docs" / "screenshot.png"


def _at(days: int, hour: int, minute: int = 0) -> str:
    day = datetime.now(UTC) + timedelta(days=days)
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0).isoformat()


SAMPLE_PROJECTS = [{"name": "Work", "color": "#3b5bdb"}, {"name": "Home", "color": "#2f9e44"}]
# Subtasks of the first sample task.
SAMPLE_SUBTASKS = ["Collect the numbers", "Write the summary"]
SAMPLE_TASKS = [
    {
        "title": "Send the quarterly report",
        "due": _at(-1, 16),
        "priority": "high",
        "project": "Work",
    },
    {"title": "Book the dentist", "due": _at(1, 9, 30), "priority": "medium", "tags": ["health"]},
    {
        "title": "Water the plants",
        "due": _at(3, 8),
        "priority": "low",
        "project": "Home",
        "recurrence": "FREQ=WEEKLY;BYDAY=MO",
    },
    {"title": "Read chapter 5 of DDIA", "description": "Replication: leaders and followers."},
]


def script_chat(fake: FakeLLM) -> None:
    fake.rule(
        "buy oat milk",
        Reply(
            tool_calls=[
                ToolCall(
                    "add_task",
                    {
                        "title": "Buy oat milk",
                        "due": "tomorrow 6pm",
                        "tags": ["errands"],
                    },
                )
            ]
        ),
        "Added **Buy oat milk**, due tomorrow at 18:00, tagged `errands`.",
    )
    fake.rule(
        "overdue",
        Reply(tool_calls=[ToolCall("list_tasks", {"overdue": True})]),
        "One task is overdue:\n\n- **Send the quarterly report** (high priority)\n\n"
        "Shall I move it to tomorrow morning?",
    )


async def take(path: Path) -> None:
    fake = FakeLLM()
    script_chat(fake)
    with tempfile.TemporaryDirectory() as workdir:
        async with (
            fake.serve() as llm_url,
            run_serve(
                Path(workdir), {"OPENAI_BASE_URL": llm_url, "OPENAI_API_KEY": "screenshot"}
            ) as server,
        ):
            async with httpx.AsyncClient(base_url=server.base_url, headers=server.headers) as api:
                for project in SAMPLE_PROJECTS:
                    (await api.post("/api/projects", json=project)).raise_for_status()
                parents = []
                for task in SAMPLE_TASKS:
                    response = await api.post("/api/tasks", json=task)
                    parents.append(response.raise_for_status().json())
                for title in SAMPLE_SUBTASKS:
                    subtask = {"title": title, "parent_id": parents[0]["id"]}
                    (await api.post("/api/tasks", json=subtask)).raise_for_status()
            async with launch_chromium() as browser:
                context = await browser.new_context(
                    viewport={"width": 1280, "height": 760},
                    device_scale_factor=1,
                    color_scheme="light",
                )
                page = await context.new_page()
                await page.goto(server.signin_url)
                await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
                for message, reply in [
                    ("Remind me to buy oat milk tomorrow at 6pm", "Added"),
                    ("What is overdue?", "Shall I move it"),
                ]:
                    await page.get_by_label("Message", exact=True).fill(message)
                    await page.get_by_label("Message", exact=True).press("Enter")
                    await expect(page.locator("#messages")).to_contain_text(reply)
                await expect(page.locator("#task-list")).to_contain_text("Buy oat milk")
                await page.locator("#messages").click()  # no focus ring on the message box
                await page.wait_for_timeout(1800)  # let the "changed" highlight fade
                path.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(path))
                await context.close()
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args()
    if not CHROMIUM_INSTALLED:
        raise SystemExit(CHROMIUM_MISSING)
    asyncio.run(take(args.path))


if __name__ == "__main__":
    main()
