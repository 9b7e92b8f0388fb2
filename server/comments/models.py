"""Comment model family: the text rule (once), CommentCreate, Comment (table), CommentPublic."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict
from pydantic import Field as Rule
from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime, utcnow

TEXT_MAX = 10_000

CommentText = Annotated[
    str,
    Rule(min_length=1, max_length=TEXT_MAX, description="The comment (1-10,000 characters)."),
]


class CommentCreate(SQLModel):
    model_config = ConfigDict(extra="forbid")

    text: CommentText


class Comment(SQLModel, table=True):
    __tablename__ = "comments"
    # A task's comments, oldest first.
    __table_args__ = (Index("ix_comments_task", "task_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id")
    user_id: int = Field(foreign_key="users.id")
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CommentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: int
    text: str
    created_at: datetime


class CommentList(BaseModel):
    comments: list[CommentPublic]
