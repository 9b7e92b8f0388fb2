"""Projects, subtasks, several reminders per task, comments and activity.

Every existing user gets an Inbox and every existing task lands in it. A task's reminder
(`remind_before_minutes`, null meaning REMINDER_LEAD_MINUTES) becomes the first of its kept
reminders (a JSON list on the task), marked fired when the task's alerts had got past it,
so it neither fires again nor stops firing.
The alert keys are per stage and fire time ("reminder:<id>", "due", "overdue").

`Database.migrate` passes REMINDER_LEAD_MINUTES as the `reminder_lead_minutes` attribute
and, on SQLite, runs with foreign keys off (the tables are rebuilt) and checked at the end.

Revision ID: 0004
Revises: 0007
Create Date: 2026-12-10
"""

import warnings
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

from server.db import UTCDateTime

revision = "0004"
down_revision = "0007"
branch_labels = None
depends_on = None

NOT_DELETED = sa.text("deleted_at IS NULL")
INBOX = sa.text("inbox")


def upgrade() -> None:
    now = datetime.now(UTC)
    lead = int(context.config.attributes.get("reminder_lead_minutes", 30))
    _create_projects(now)
    with warnings.catch_warnings():
        # Rebuilding tables on SQLite reflects `projects`, whose lower(name) index SQLite
        # cannot reflect (the rebuilds do not need it).
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        _move_tasks_into_inboxes(now, lead)
        _rekey_alerts()
    _create_comments_and_activity()
    if op.get_bind().dialect.name == "sqlite":
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")


def _create_projects(now: datetime) -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=True),
        sa.Column("inbox", sa.Boolean(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_projects_user_name",
        "projects",
        ["user_id", sa.text("lower(name)")],
        unique=True,
        sqlite_where=NOT_DELETED,
        postgresql_where=NOT_DELETED,
    )
    op.create_index(
        "uq_projects_inbox",
        "projects",
        ["user_id"],
        unique=True,
        sqlite_where=INBOX,
        postgresql_where=INBOX,
    )
    users = sa.table("users", sa.column("id", sa.Integer()))
    projects = _projects_table()
    stamp = sa.literal(now, UTCDateTime())
    op.execute(
        projects.insert().from_select(
            ["user_id", "name", "inbox", "archived", "created_at", "updated_at"],
            sa.select(users.c.id, sa.literal("Inbox"), sa.true(), sa.false(), stamp, stamp),
        )
    )


def _projects_table() -> sa.TableClause:
    return sa.table(
        "projects",
        sa.column("id", sa.Integer()),
        sa.column("user_id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("inbox", sa.Boolean()),
        sa.column("archived", sa.Boolean()),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )


def _move_tasks_into_inboxes(now: datetime, lead: int) -> None:
    projects = _projects_table()
    tasks = sa.table(
        "tasks",
        sa.column("id", sa.Integer()),
        sa.column("user_id", sa.Integer()),
        sa.column("project_id", sa.Integer()),
        sa.column("remind_before_minutes", sa.Integer()),
        sa.column("last_alert", sa.String()),
        sa.column("reminders", sa.JSON()),
    )
    op.add_column("tasks", sa.Column("project_id", sa.Integer(), nullable=True))
    inbox = (
        sa.select(projects.c.id)
        .where(projects.c.user_id == tasks.c.user_id, projects.c.inbox == sa.true())
        .scalar_subquery()
    )
    op.execute(tasks.update().values(project_id=inbox))

    # Each task's reminder becomes its first kept reminder (server/tasks/reminders.py):
    # [{"id": 1, "before_minutes": N}], marked fired when an alert of its due time has.
    op.add_column("tasks", sa.Column("reminders", sa.JSON(), nullable=True))
    minutes = sa.func.coalesce(tasks.c.remind_before_minutes, sa.literal(lead, sa.Integer()))
    fired = sa.case((tasks.c.last_alert.is_not(None), sa.literal(', "fired": true')), else_="")
    kept = sa.literal('[{"id": 1, "before_minutes": ') + sa.cast(minutes, sa.String()) + fired
    kept = kept + sa.literal("}]")
    if op.get_bind().dialect.name == "postgresql":
        kept, none = sa.cast(kept, sa.JSON()), sa.cast(sa.literal("[]"), sa.JSON())
    else:
        none = sa.literal("[]")
    reminders = sa.case((minutes > 0, kept), else_=none)
    op.execute(tasks.update().values(reminders=reminders))
    # `last_alert` now tracks the due-time stages only; reminders keep their own state.
    op.execute(tasks.update().where(tasks.c.last_alert == "reminder").values(last_alert=None))

    with op.batch_alter_table("tasks") as batch:
        batch.alter_column("project_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("reminders", existing_type=sa.JSON(), nullable=False)
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("deleted_with", sa.String(length=32), nullable=True))
        batch.drop_column("remind_before_minutes")
        batch.create_foreign_key("fk_tasks_project_id", "projects", ["project_id"], ["id"])
        batch.create_foreign_key("fk_tasks_parent_id", "tasks", ["parent_id"], ["id"])
    op.create_index(
        "ix_tasks_project_list",
        "tasks",
        ["project_id", "deleted_at", "completed", "due_sort", "id"],
        unique=False,
    )
    op.create_index(
        "ix_tasks_parent_list",
        "tasks",
        ["parent_id", "deleted_at", "completed", "due_sort", "id"],
        unique=False,
    )


def _rekey_alerts() -> None:
    with op.batch_alter_table("task_alerts", recreate="always") as batch:
        batch.drop_constraint("uq_task_alerts_key", type_="unique")
        batch.alter_column(
            "kind",
            new_column_name="stage",
            existing_type=sa.String(length=16),
            type_=sa.String(length=24),
            existing_nullable=False,
        )
        batch.alter_column(
            "due",
            new_column_name="fire_at",
            existing_type=sa.DateTime(timezone=True),
            existing_nullable=False,
        )
    with op.batch_alter_table("task_alerts") as batch:  # on the renamed columns
        batch.create_unique_constraint("uq_task_alerts_stage", ["task_id", "stage", "fire_at"])


def _create_comments_and_activity() -> None:
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_comments_task", "comments", ["task_id", "id"], unique=False)
    op.create_table(
        "activity",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_activity_user", "activity", ["user_id", "at", "id"], unique=False)
    op.create_index("ix_activity_task", "activity", ["task_id", "at", "id"], unique=False)
    op.create_index("ix_activity_project", "activity", ["project_id", "at", "id"], unique=False)
    op.create_index("ix_activity_at", "activity", ["at"], unique=False)


def downgrade() -> None:
    """Back to one list per user: projects, subtasks, comments and activity are dropped; each
    task keeps its first relative reminder as `remind_before_minutes`."""
    op.drop_table("activity")
    op.drop_table("comments")
    with op.batch_alter_table("task_alerts", recreate="always") as batch:
        batch.drop_constraint("uq_task_alerts_stage", type_="unique")
        batch.alter_column("stage", new_column_name="kind", type_=sa.String(length=16))
        batch.alter_column("fire_at", new_column_name="due")
    with op.batch_alter_table("task_alerts") as batch:
        batch.create_unique_constraint("uq_task_alerts_key", ["task_id", "kind", "due"])
    op.add_column("tasks", sa.Column("remind_before_minutes", sa.Integer(), nullable=True))
    op.drop_index("ix_tasks_parent_list", table_name="tasks")
    op.drop_index("ix_tasks_project_list", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_constraint("fk_tasks_parent_id", type_="foreignkey")
        batch.drop_constraint("fk_tasks_project_id", type_="foreignkey")
        batch.drop_column("deleted_with")
        batch.drop_column("reminders")
        batch.drop_column("parent_id")
        batch.drop_column("project_id")
    op.drop_table("projects")
