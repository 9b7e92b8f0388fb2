"""The MCP prompts: ready-made requests a user picks in their client, filled with their
real tasks, that ask the model for something useful (an order with reasons, a review, a
batched triage) and say which tools apply the result.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import Field

from mcp_tools.results import acting, task_lines
from server.db import utcnow
from server.errors import TodoError
from server.tasks.models import TaskPublic, TaskQuery

TagArg = Annotated[
    str | None, Field(description="Only plan the tasks with this tag (e.g. 'work').")
]
ProjectArg = Annotated[
    str | None, Field(description="The project to triage, by name or id (default: Inbox).")
]


def section(title: str, lines: list[str]) -> str:
    return f"{title} ({len(lines)}):\n" + ("\n".join(f"- {line}" for line in lines) or "- none")


def with_tag(tasks: list[TaskPublic], tag: str | None) -> list[TaskPublic]:
    if not tag:
        return tasks
    wanted = tag.strip().lower()
    return [t for t in tasks if wanted in (x.lower() for x in t.tags)]


def local_now(timezone: str) -> str:
    return f"{utcnow().astimezone(ZoneInfo(timezone)):%A %d %B %Y, %H:%M} ({timezone})"


async def plan_my_day(ctx: Context, tag: TagArg = None) -> str:
    """Plan today: an order for what is due today or overdue, with a reason for each."""
    services, user = acting(ctx)
    names = await services.projects.names(user=user)
    today = with_tag((await services.tasks.today(user=user)).tasks, tag)
    soon = with_tag((await services.tasks.upcoming(user=user)).tasks, tag)
    ranked = await services.tasks.whats_next(user=user, limit=10)
    shown = {t.id for t in today}
    ranking = [
        f"#{item.task.id} {item.task.title!r}: {'; '.join(item.reasons)}"
        for item in ranked.tasks
        if not tag or item.task.id in shown
    ]
    focus = f" Only tasks tagged {tag!r}." if tag else ""
    return "\n\n".join(
        [
            f"Help me plan my day. It is {local_now(user.timezone)}.{focus}",
            section("Due today or overdue", task_lines(today, user.timezone, names)),
            section("How todo-agent ranks what is pressing", ranking),
            section("Due in the next 7 days", task_lines(soon, user.timezone, names)),
            "Please:\n"
            "1. Propose an order for today, most pressing first, as a numbered list with a "
            "one-line reason for each (overdue, due time, priority, subtasks waiting).\n"
            "2. Say honestly what will not fit today and propose a new due time for each.\n"
            "3. Ask me before changing anything; once I agree, apply all the reschedules "
            "with one update_tasks call, and mark what I finish with complete_tasks.",
        ]
    )


async def weekly_review(ctx: Context) -> str:
    """Review the week: what got done, what is overdue, what comes next, per project."""
    services, user = acting(ctx)
    names = await services.projects.names(user=user)
    done = await services.tasks.completed_since(user=user, since=utcnow() - timedelta(days=7))
    now = utcnow()
    overdue = [t for t in (await services.tasks.today(user=user)).tasks if t.due and t.due < now]
    soon = (await services.tasks.upcoming(user=user)).tasks
    projects = await services.projects.list_projects(user=user)
    project_lines = [f"{p.name}: {p.open_tasks} open task(s)" for p in projects.projects]
    return "\n\n".join(
        [
            f"Let's do my weekly review. It is {local_now(user.timezone)}.",
            section("Completed in the last 7 days", task_lines(done, user.timezone, names)),
            section("Overdue", task_lines(overdue, user.timezone, names)),
            section("Due in the next 7 days", task_lines(soon, user.timezone, names)),
            section("Projects", project_lines),
            "Please:\n"
            "1. Sum up what I got done, grouped by project, in a few lines.\n"
            "2. For each overdue task, suggest one of: do it now, reschedule (give a date), "
            "split it into subtasks, or drop it.\n"
            "3. Point out projects with open tasks but nothing scheduled this week.\n"
            "4. Propose three things to focus on next week.\n"
            "Change nothing until I agree; then use the batch tools (update_tasks, "
            "complete_tasks, delete_tasks) with one call each.",
        ]
    )


async def triage_inbox(ctx: Context, project: ProjectArg = None) -> str:
    """Triage a project's open tasks (the Inbox by default) in batches."""
    services, user = acting(ctx)
    projects = await services.projects.list_projects(user=user)
    try:
        target = await services.projects.get_project(user=user, ref=_ref(project or "Inbox"))
        page = await services.tasks.list_tasks(
            user=user, query=TaskQuery(project=target.id, limit=50)
        )
    except TodoError as exc:
        # An MCPError's message reaches the client (any other error is hidden by the SDK).
        raise MCPError(INVALID_PARAMS, f"project: {exc.message}") from exc
    names = {p.id: p.name for p in projects.projects}
    tags = await services.tasks.tag_names(user=user)
    more = " (the first 50; more remain)" if page.next_cursor else ""
    return "\n\n".join(
        [
            f"Help me triage my {target.name!r} project{more}. It is {local_now(user.timezone)}.",
            section("Open tasks", task_lines(page.tasks, user.timezone, names)),
            f"My projects: {', '.join(names.values())}.",
            f"Tags in use: {', '.join(tags) or 'none'}.",
            "Please:\n"
            "1. For each task, propose where it belongs (an existing project, or a new one "
            "if several tasks share a theme), a priority, a due date if it needs one, and "
            "tags from those in use.\n"
            "2. Show the proposal as a compact table, grouped by destination project, and "
            "list tasks that look done or pointless separately.\n"
            "3. Once I confirm, apply it in batches: add_project for new projects, one "
            "update_tasks call for all the changes, one delete_tasks call for what I drop.",
        ]
    )


def _ref(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text


def register(mcp: MCPServer) -> None:
    mcp.prompt(name="plan_my_day", title="Plan my day")(plan_my_day)
    mcp.prompt(name="weekly_review", title="Weekly review")(weekly_review)
    mcp.prompt(name="triage_inbox", title="Triage the inbox")(triage_inbox)
