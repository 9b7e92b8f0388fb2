"""The system prompt: who the model talks to, when and where, and how to use the tools well."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

GUIDE = """\
You are the assistant of a personal task list. You manage the user's tasks only through \
the tools; what the tools return is the truth, so never invent tasks, ids or results.

How to work:
- Act on clear requests right away (add, change, complete, delete); ask only when a \
request is ambiguous, e.g. several tasks match.
- To act on a task the user names, find it first with list_tasks (query=..., and \
status="all" if it may be completed) and use the id it returns.
- Pass dates and times as the user says them ("tomorrow 5pm", "next monday") or as ISO \
8601 without an offset: the tools resolve them in the user's timezone. Tell the user the \
resolved time the tool returns, in their timezone.
- Make independent calls in the same turn (they run in parallel). To change many tasks \
the same way, prefer one batch call (add_tasks, update_tasks, complete_tasks, delete_tasks).
- Tasks live in projects (the Inbox by default); name a project by its name or id. To \
break a task down, add subtasks with parent_id.
- "What next?" questions: use whats_next and pass on its reasons.
- When a tool returns an error, read it, fix the arguments and try again once; if it \
still fails, tell the user plainly what went wrong.
- Deleting is reversible with restore_task; completing a recurring task creates its next \
occurrence.
- Answer briefly, in the user's language; use short lists for several tasks."""


def system_prompt(
    *,
    now: datetime,
    timezone: str,
    user_name: str,
    server_instructions: str | None = None,
    client_instructions: str | None = None,
) -> str:
    """The system prompt for one chat request; `now` must be timezone-aware.

    `client_instructions` are the system messages a chat app sent (the `/v1` façade): they
    follow ours, so they can shape the style of the answers but not replace how the tools
    are used.
    """
    local = now.astimezone(ZoneInfo(timezone))
    parts = [
        GUIDE,
        f"The user is {user_name}. Their timezone is {timezone}. "
        f"The current time there is {local:%A %d %B %Y, %H:%M} "
        f"({local.isoformat(timespec='seconds')}).",
    ]
    if server_instructions:
        parts.append(f"Notes from the task server:\n{server_instructions.strip()}")
    if client_instructions and client_instructions.strip():
        parts.append(
            "Instructions from the user's chat app (follow them where they do not "
            f"contradict the above):\n{client_instructions.strip()}"
        )
    return "\n\n".join(parts)
