"""Every table, imported in one place so the metadata is complete (migrations, tests)."""

from sqlmodel import SQLModel

from server.activity.models import Activity
from server.comments.models import Comment
from server.conversations.models import Conversation, ConversationFingerprint, Message
from server.events.models import DeadLetter, OutboxEvent, OutboxSequence, ProcessedEvent
from server.notifications.models import Notification
from server.oauth.models import OAuthClient, OAuthCode, OAuthGrant, OAuthToken
from server.projects.models import Project
from server.tasks.models import Task, TaskAlert
from server.users.models import ApiToken, User, UserSetting

metadata = SQLModel.metadata

__all__ = [
    "Activity",
    "ApiToken",
    "Comment",
    "Conversation",
    "ConversationFingerprint",
    "DeadLetter",
    "Message",
    "Notification",
    "OAuthClient",
    "OAuthCode",
    "OAuthGrant",
    "OAuthToken",
    "OutboxEvent",
    "OutboxSequence",
    "ProcessedEvent",
    "Project",
    "Task",
    "TaskAlert",
    "User",
    "UserSetting",
    "metadata",
]
