"""Export and import of one user's account: `GET /api/export`, `todo-agent export` and
`todo-agent import` all come here.

An import reads the whole file first (a todo-agent export, JSON, or a Todoist CSV), then
writes it in one transaction: a bad or truncated file stops with a ValidationFailed naming
the row or field, and nothing is written.
"""

from __future__ import annotations

import logging
from pathlib import PurePath

from sqlalchemy.exc import IntegrityError

from server.db import Database
from server.errors import Conflict, ValidationFailed
from server.events.outbox import Topics
from server.portability.document import parse_json
from server.portability.export import export_user
from server.portability.importer import import_plan
from server.portability.models import ExportDocument, ImportSummary, Plan, Progress
from server.portability.todoist import looks_like_todoist, parse_todoist
from server.tasks.service import TaskService
from server.users.models import User

logger = logging.getLogger(__name__)


def read_plan(text: str, *, filename: str, timezone: str) -> Plan:
    """What a file asks to import, by its content: a JSON object is an export, a first line
    starting `TYPE,` a Todoist CSV (its project is named after the file)."""
    if text.lstrip("\ufeff").lstrip().startswith("{"):
        return parse_json(text)
    if looks_like_todoist(text):
        return parse_todoist(text, project=PurePath(filename).stem, timezone=timezone)
    raise ValidationFailed(
        "file",
        "is neither a todo-agent export (JSON) nor a Todoist CSV (whose first line names its "
        "columns: TYPE,CONTENT,DESCRIPTION,PRIORITY,INDENT,...)",
    )


class PortabilityService:
    """A user's account as a document, and a file written into an account."""

    def __init__(self, *, db: Database, topics: Topics, tasks: TaskService) -> None:
        self.db = db
        self.topics = topics
        self.tasks = tasks

    async def export(self, *, user: User) -> ExportDocument:
        async with self.db.session() as session:
            return await export_user(session, user)

    async def import_file(
        self, *, user: User, text: str, filename: str, progress: Progress | None = None
    ) -> ImportSummary:
        """Write the file into the user's account, all or nothing."""
        plan = read_plan(text, filename=filename, timezone=user.timezone)
        try:
            async with self.db.transaction() as session:
                summary = await import_plan(
                    session,
                    tasks=self.tasks,
                    topics=self.topics,
                    user=user,
                    plan=plan,
                    progress=progress,
                )
        except IntegrityError:  # e.g. a project of that name made meanwhile
            raise Conflict("the account changed during the import; nothing was imported") from None
        logger.debug("imported into user %s: %s", user.id, summary)
        if self.tasks.metrics:
            self.tasks.metrics.tasks_created.inc(summary.tasks)
        return summary
