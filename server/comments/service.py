"""Comments: appended to a user's task (with their event and activity in the same
transaction) and listed oldest first. A task's comments go and come back with it: they are
read through the task, which a soft delete keeps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.activity.service import record
from server.comments.models import Comment, CommentCreate, CommentList, CommentPublic
from server.db import Database
from server.events.outbox import Topics, add_event
from server.tasks.models import Task
from server.tasks.queries import owned_task
from server.users.models import User
from server.validation import no_nul

# What activity keeps of a comment's text.
EXCERPT = 200


async def append_comment(
    session: AsyncSession,
    topics: Topics,
    *,
    task: Task,
    text: str,
    created_at: datetime | None = None,
) -> CommentPublic:
    """A comment on `task`, with its event and activity, in `session`'s transaction (an
    import, server/portability, gives when it was written)."""
    comment = Comment(task_id=task.id, user_id=task.user_id, text=no_nul("text", text))
    if created_at is not None:
        comment.created_at = created_at
    session.add(comment)
    await session.flush()
    public = CommentPublic.model_validate(comment)
    add_event(
        session,
        topic=topics.task_events,
        type="comment.added",
        user_id=task.user_id,
        subject=f"task/{task.id}",
        data={"user_id": task.user_id, "comment": public.model_dump(mode="json")},
    )
    record(
        session,
        user_id=task.user_id,
        type="comment.added",
        changes={"comment": [None, comment.text[:EXCERPT]]},
        task_id=task.id,
        project_id=task.project_id,
    )
    return public


class CommentService:
    def __init__(self, *, db: Database, topics: Topics) -> None:
        self.db = db
        self.topics = topics

    async def add_comment(self, *, user: User, task_id: int, data: CommentCreate) -> CommentPublic:
        """Append a comment to the user's task (not a deleted one)."""
        text = no_nul("text", data.text)
        async with self.db.transaction() as session:
            task = await session.run_sync(
                owned_task, self.db, user_id=user.id, task_id=task_id, include_deleted=False
            )
            return await append_comment(session, self.topics, task=task, text=text)

    async def list_comments(self, *, user: User, task_id: int) -> CommentList:
        """The task's comments, oldest first (a deleted task's too)."""
        async with self.db.session() as session:
            await session.run_sync(
                owned_task, self.db, user_id=user.id, task_id=task_id, include_deleted=True
            )
            found = await session.scalars(
                select(Comment).where(Comment.task_id == task_id).order_by(Comment.id)
            )
            return CommentList(comments=[CommentPublic.model_validate(c) for c in found])
