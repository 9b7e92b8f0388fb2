"""Finding a user's projects: by id or name (ignoring case), the Inbox, the archived ones.

`ProjectLookup` reads the user's projects once per unit of work (a user has a handful), so
resolving several references, or checking whether a task's project is archived for each
task of a batch, costs one query. It works on a sync `Session` (a unit of work on
`Database.run_session`; an async caller hands it to `AsyncSession.run_sync`).
"""

from __future__ import annotations

from typing import NoReturn

from sqlalchemy import ColumnElement, Connection, Select, bindparam, select, true
from sqlalchemy.orm import Session

from server.db import check_id, utcnow
from server.errors import NotFound, ValidationFailed
from server.projects.models import INBOX, Project

# Every project's name by id (deleted ones too), for showing a task's project; built once.
NAMES = select(Project.id, Project.name).where(Project.user_id == bindparam("user_id"))


def project_names(conn: Connection, user_id: int) -> dict[int, str]:
    """The user's project names by id, read on a Core connection (`Database.run`)."""
    return dict(conn.execute(NAMES, {"user_id": user_id}).all())


def project_not_found(project_id: int) -> NotFound:
    return NotFound(f"project {project_id} not found", details={"project_id": project_id})


def archived_ids(user_id: int) -> Select[tuple[int]]:
    """The ids of the user's archived projects (their tasks leave default listings)."""
    return select(Project.id).where(
        Project.user_id == user_id, Project.archived == true(), Project.deleted_at.is_(None)
    )


def not_in_archived(project_id: ColumnElement[int], user_id: int) -> ColumnElement[bool]:
    return project_id.not_in(archived_ids(user_id))


class ProjectLookup:
    """The projects of one user within one session (deleted ones included)."""

    def __init__(self, session: Session, user_id: int) -> None:
        self.session = session
        self.user_id = user_id
        self._by_id: dict[int, Project] | None = None

    def load(self) -> dict[int, Project]:
        if self._by_id is None:
            found = self.session.scalars(
                select(Project).where(Project.user_id == self.user_id).order_by(Project.id)
            )
            self._by_id = {project.id: project for project in found}
        return self._by_id

    def loaded(self, project_id: int) -> Project:
        """A project already loaded (a task's own project always is, once `load` ran)."""
        assert self._by_id is not None, "ProjectLookup.load() first"
        return self._by_id[project_id]

    def add(self, project: Project) -> None:
        if self._by_id is not None:
            self._by_id[project.id] = project

    def live(self) -> list[Project]:
        """The user's projects that are not deleted, the Inbox first, then by name."""
        projects = [p for p in self.load().values() if p.deleted_at is None]
        return sorted(projects, key=lambda p: (not p.inbox, p.name.lower(), p.id))

    def resolve(
        self, ref: int | str, *, field: str | None = None, include_deleted: bool = False
    ) -> Project:
        """The project `ref` names: a name matched ignoring case among the live projects, or
        an id (a name made of digits that matches none is an id too; a deleted project only
        with `include_deleted`). NotFound, or ValidationFailed(field) when `field` is given;
        for a name that matches none, the error lists the user's projects."""
        if isinstance(ref, str):
            name = ref.strip()
            live = self.live()
            found = next((p for p in live if p.name.lower() == name.lower()), None)
            if found is not None:
                return found
            if not name.isdecimal():
                names = ", ".join(repr(p.name) for p in live)
                self._missing(f"no project named {name!r}; the projects are: {names}", ref, field)
            ref = int(name)
        try:
            return self.owned(ref, include_deleted=include_deleted)
        except NotFound as exc:
            self._missing(exc.message, ref, field)

    @staticmethod
    def _missing(message: str, ref: int | str, field: str | None) -> NoReturn:
        if field is not None:
            raise ValidationFailed(field, message)
        raise NotFound(message, details={"project": ref})

    def owned(self, project_id: int, *, include_deleted: bool = True) -> Project:
        """The user's project by id, deleted or not; NotFound like a missing one."""
        check_id(project_id, project_not_found)
        project = self.load().get(project_id)
        if project is None or (project.deleted_at is not None and not include_deleted):
            raise project_not_found(project_id)
        return project

    def inbox(self) -> Project:
        """The user's Inbox, created if it is missing (every user gets one when created)."""
        found = next((p for p in self.load().values() if p.inbox), None)
        if found is None:
            now = utcnow()
            found = Project(
                user_id=self.user_id, name=INBOX, inbox=True, created_at=now, updated_at=now
            )
            self.session.add(found)
            self.session.flush()
            self.add(found)
        return found

    def taken(self, name: str, *, besides: int | None = None) -> Project | None:
        """The live project already called `name` (ignoring case), other than `besides`."""
        wanted = name.strip().lower()
        return next((p for p in self.live() if p.name.lower() == wanted and p.id != besides), None)
