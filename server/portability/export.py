"""Everything of one user as an `ExportDocument` (server/portability/models.py), read in one
session: the profile, the settings that are not secrets, every project and task (deleted
ones too) and every comment. Only that user's rows are read, each query filtered by user."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.comments.models import Comment
from server.db import utcnow
from server.portability.models import (
    FORMAT,
    VERSION,
    CommentDoc,
    ExportDocument,
    ProjectDoc,
    ReminderDoc,
    TaskDoc,
    UserDoc,
)
from server.projects.models import Project
from server.tasks.models import Task
from server.tasks.reminders import at_of
from server.users.models import User, UserSetting


async def export_user(session: AsyncSession, user: User) -> ExportDocument:
    """The user's whole account as a document that `import_plan` can write back."""
    projects = await session.scalars(
        select(Project).where(Project.user_id == user.id).order_by(Project.id)
    )
    tasks = await session.scalars(select(Task).where(Task.user_id == user.id).order_by(Task.id))
    comments = await session.scalars(
        select(Comment).where(Comment.user_id == user.id).order_by(Comment.id)
    )
    by_task: dict[int, list[CommentDoc]] = defaultdict(list)
    for comment in comments:
        by_task[comment.task_id].append(
            CommentDoc(text=comment.text, created_at=comment.created_at)
        )
    # A secret setting (its digest is kept) is a credential, such as the calendar feed's
    # key: it stays behind, and the new account makes its own.
    settings = await session.execute(
        select(UserSetting.name, UserSetting.value)
        .where(UserSetting.user_id == user.id, UserSetting.digest.is_(None))
        .order_by(UserSetting.name)
    )
    return ExportDocument(
        format=FORMAT,
        version=VERSION,
        exported_at=utcnow(),
        user=UserDoc(name=user.name, email=user.email, timezone=user.timezone),
        settings=dict(settings.all()),
        projects=[_project(project) for project in projects],
        tasks=[_task(task, by_task.get(task.id, [])) for task in tasks],
    )


def _project(project: Project) -> ProjectDoc:
    return ProjectDoc(
        id=project.id,
        name=project.name,
        color=project.color,
        inbox=project.inbox,
        archived=project.archived,
        created_at=project.created_at,
        deleted_at=project.deleted_at,
    )


def _task(task: Task, comments: list[CommentDoc]) -> TaskDoc:
    return TaskDoc(
        id=task.id,
        project_id=task.project_id,
        parent_id=task.parent_id,
        title=task.title,
        description=task.description,
        completed=task.completed,
        completed_at=task.completed_at,
        priority=task.priority,
        tags=list(task.tags),
        due=task.due,
        recurrence=task.recurrence,
        series_id=task.series_id,
        occurrence_of=task.occurrence_of,
        reminders=[
            ReminderDoc(
                before_minutes=reminder.get("before_minutes"),
                at=at_of(reminder),
                fired=bool(reminder.get("fired")),
            )
            for reminder in task.reminders
        ],
        last_alert=task.last_alert,
        created_at=task.created_at,
        deleted_at=task.deleted_at,
        deleted_with=task.deleted_with,
        comments=comments,
    )
