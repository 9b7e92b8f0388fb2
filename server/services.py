"""The domain services of one process, built from Settings on one database.

Routes, MCP tools and workers all reach the domain through this bundle; none of them builds
a service of its own. The composition root (`server/runtime.py`) builds it once per process
(tests build their own).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta

from server.activity.service import ActivityService
from server.calendar.service import CalendarService
from server.comments.service import CommentService
from server.config import Settings
from server.conversations.service import ConversationService
from server.db import Database
from server.events.outbox import Topics
from server.events.replay import LiveLog
from server.notifications.service import NotificationService
from server.oauth.documents import MetadataDocuments
from server.oauth.service import OAuthService
from server.observability import Metrics
from server.portability.service import PortabilityService
from server.projects.service import ProjectService, add_inbox
from server.tasks.alerts import AlertPolicy
from server.tasks.deadlines import DeadlineService
from server.tasks.service import TaskService
from server.users.service import UserService


@dataclass(frozen=True, slots=True)
class Services:
    """The database, the topics events go to, the metrics, and every domain service."""

    settings: Settings
    db: Database
    topics: Topics
    metrics: Metrics
    users: UserService
    tasks: TaskService
    projects: ProjectService
    comments: CommentService
    activity: ActivityService
    deadlines: DeadlineService
    notifications: NotificationService
    conversations: ConversationService
    oauth: OAuthService
    calendar: CalendarService
    portability: PortabilityService
    live_log: LiveLog


def build_services(
    settings: Settings, *, oauth_documents: MetadataDocuments | None = None
) -> Services:
    """Build (not start) the database and the services; the caller owns their lifetime.

    `oauth_documents` replaces the fetcher of OAuth clients' metadata documents (tests: one
    that trusts a test CA)."""
    db = Database(settings.database_url)
    topics = Topics.from_settings(settings)
    metrics = Metrics()
    alerts = AlertPolicy.from_settings(settings)
    jwt_secret = settings.auth_jwt_secret.get_secret_value() if settings.auth_jwt_secret else None
    tasks = TaskService(db=db, topics=topics, alerts=alerts, metrics=metrics)
    return Services(
        settings=settings,
        db=db,
        topics=topics,
        metrics=metrics,
        users=UserService(
            db=db, set_up=functools.partial(add_inbox, topics=topics), jwt_secret=jwt_secret
        ),
        tasks=tasks,
        projects=ProjectService(topics=topics, tasks=tasks),
        comments=CommentService(db=db, topics=topics),
        activity=ActivityService(db=db),
        deadlines=DeadlineService(db=db, topics=topics, policy=alerts),
        notifications=NotificationService(db=db, topics=topics),
        conversations=ConversationService(db=db, history_chars=settings.agent_history_chars),
        oauth=OAuthService(
            db=db,
            public_url=settings.public_origin,
            access_token_minutes=settings.oauth_access_token_minutes,
            documents=oauth_documents,
        ),
        calendar=CalendarService(db=db, tasks=tasks),
        portability=PortabilityService(db=db, topics=topics, tasks=tasks),
        live_log=LiveLog(
            db=db, topics=topics, retention=timedelta(hours=settings.event_retention_hours)
        ),
    )
