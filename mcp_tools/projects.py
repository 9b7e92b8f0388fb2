"""The project tools: the user's projects (lists of tasks), an Inbox always among them.

`project` arguments take a project id or a name matched ignoring case; an unknown name is a
tool error that lists the user's projects.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Resolve
from mcp_types import CallToolResult
from pydantic import Field

from mcp_tools.confirm import Answer, confirm_project_deletion, confirmed, declined_text
from mcp_tools.results import (
    ADDITIVE,
    DESTRUCTIVE,
    IDEMPOTENT,
    READ_ONLY,
    acting,
    result,
    translated,
)
from server.projects.models import (
    Archived,
    Color,
    IncludeArchived,
    ProjectChange,
    ProjectCreate,
    ProjectList,
    ProjectName,
    ProjectPublic,
    ProjectRef,
    ProjectUpdate,
)
from server.validation import parse_model

NewName = Annotated[ProjectName | None, Field(description="A new name (unique, ignoring case).")]
NewColor = Annotated[
    str | None, Field(max_length=16, description="A new colour as #rrggbb; 'none' clears it.")
]


def project_line(project: ProjectPublic) -> str:
    notes = ["Inbox"] if project.inbox else []
    notes += ["archived"] if project.archived else []
    notes += ["deleted"] if project.deleted_at else []
    notes.append(f"{project.open_tasks} open task(s)")
    return f"#{project.id} {project.name!r} ({', '.join(notes)})"


@translated
async def list_projects(
    ctx: Context, include_archived: IncludeArchived = False
) -> Annotated[CallToolResult, ProjectList]:
    """The user's projects (the Inbox first), each with its number of open tasks."""
    services, user = acting(ctx)
    found = await services.projects.list_projects(user=user, include_archived=include_archived)
    lines = [project_line(p) for p in found.projects]
    return result(found, "\n".join([f"{len(lines)} project(s)", *lines]))


@translated
async def add_project(
    ctx: Context, name: ProjectName, color: Color = None
) -> Annotated[CallToolResult, ProjectPublic]:
    """Create a project (a list of tasks), e.g. 'Errands' or 'Work'."""
    services, user = acting(ctx)
    data = parse_model(ProjectCreate, {"name": name, "color": color})
    project = await services.projects.create_project(user=user, data=data)
    return result(project, f"Added project {project_line(project)}")


@translated
async def update_project(
    ctx: Context,
    project: ProjectRef,
    name: NewName = None,
    color: NewColor = None,
    archived: Archived = None,
) -> Annotated[CallToolResult, ProjectPublic]:
    """Rename, recolour, archive or unarchive a project (the Inbox can only be recoloured)."""
    services, user = acting(ctx)
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = name
    if color is not None:
        changes["color"] = None if color.strip().lower() in ("", "none") else color
    if archived is not None:
        changes["archived"] = archived
    data = parse_model(ProjectUpdate, changes)
    changed = await services.projects.update_project(user=user, ref=project, data=data)
    return result(changed, f"Updated project {project_line(changed)}")


@translated
async def delete_project(
    ctx: Context,
    project: ProjectRef,
    answer: Annotated[Answer, Resolve(confirm_project_deletion)],
) -> Annotated[CallToolResult, ProjectChange]:
    """Delete a project with its tasks (restore_project brings them all back). Clients that
    can ask the user are asked to confirm first."""
    services, user = acting(ctx)
    if not confirmed(answer):
        kept = await services.projects.get_project(user=user, ref=project)
        what = f"the project {kept.name!r}"
        return result(ProjectChange(project=kept, task_ids=[]), declined_text(what, answer))
    change = await services.projects.delete_project(user=user, ref=project)
    text = (
        f"Deleted project {project_line(change.project)} with {len(change.task_ids)} task(s); "
        "restore_project undoes it"
    )
    return result(change, text)


@translated
async def restore_project(
    ctx: Context, project: ProjectRef
) -> Annotated[CallToolResult, ProjectChange]:
    """Bring back a deleted project (by id, or by name) with exactly the tasks deleted with it."""
    services, user = acting(ctx)
    change = await services.projects.restore_project(user=user, ref=project)
    text = f"Restored project {project_line(change.project)} with {len(change.task_ids)} task(s)"
    return result(change, text)


def register(mcp: MCPServer) -> None:
    for tool, hints in (
        (list_projects, READ_ONLY),
        (add_project, ADDITIVE),
        (update_project, IDEMPOTENT),
        (delete_project, DESTRUCTIVE),
        (restore_project, IDEMPOTENT),
    ):
        mcp.add_tool(tool, annotations=hints)
