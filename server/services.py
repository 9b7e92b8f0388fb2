"""The composition root's parts: everything a process needs, built from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.config import Settings
from server.conversations.service import ConversationService
from server.db import Database
from server.events.bus import EventBus, InProcessBus
from server.events.live import LiveHub
from server.events.outbox import Topics
from server.notifications.service import NotificationService
from server.observability import Metrics
from server.tasks.service import AlertPolicy, TaskService
from server.users.service import UserService


@dataclass
class Services:
    """Built once per process (or per test) and handed to routes, tools and workers."""

    settings: Settings
    db: Database
    topics: Topics
    metrics: Metrics
    bus: EventBus
    users: UserService
    tasks: TaskService
    notifications: NotificationService
    conversations: ConversationService
    live: LiveHub = field(default_factory=LiveHub)


def build_bus(settings: Settings, topics: Topics) -> EventBus:
    if settings.kafka_bootstrap_servers:
        from server.events.kafka import KafkaBus

        return KafkaBus(settings=settings, topics=topics)
    return InProcessBus()


def build_services(settings: Settings) -> Services:
    """Build (not start) the database, bus and services; the caller owns their lifetime."""
    db = Database(settings.database_url)
    topics = Topics.from_settings(settings)
    metrics = Metrics()
    jwt_secret = settings.auth_jwt_secret.get_secret_value() if settings.auth_jwt_secret else None
    return Services(
        settings=settings,
        db=db,
        topics=topics,
        metrics=metrics,
        bus=build_bus(settings, topics),
        users=UserService(db=db, jwt_secret=jwt_secret),
        tasks=TaskService(
            db=db, topics=topics, alerts=AlertPolicy.from_settings(settings), metrics=metrics
        ),
        notifications=NotificationService(db=db, topics=topics),
        conversations=ConversationService(db=db, history_chars=settings.agent_history_chars),
    )
