"""Eval scenarios: a starting state, the user's turns and the checks on what they leave.

A scenario file is YAML (or JSON): a list of scenarios, or `{"scenarios": [...]}`. Times are
wall-clock times in the scenario's timezone, without an offset. See the shipped file
(server/evals/scenarios/default.yaml) for every field in use, and checks.py for the checks.

    - name: remind-call-mom
      now: 2026-03-05T09:00
      timezone: Europe/Paris
      seed: {tasks: [{title: Buy milk, due: 2026-03-05T18:00}]}
      turns: ["remind me to call mom tomorrow at 5pm"]
      expect:
        - task: {title: mom, due: 2026-03-06T17:00, has_reminder: true}
"""

from __future__ import annotations

import json
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from server.errors import ValidationFailed
from server.users.service import validate_timezone

SHIPPED = "default.yaml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeedProject(Strict):
    name: str
    archived: bool = False


class SeedTask(Strict):
    """A task the scenario starts with; `key` names it in turns (`{id:KEY}`) and checks."""

    key: str | None = None
    title: str
    description: str | None = None
    due: datetime | None = None  # wall-clock, in the scenario's timezone
    priority: Literal["high", "medium", "low"] | None = None
    tags: list[str] = Field(default_factory=list)
    recurrence: str | None = None
    project: str | None = None
    parent: str | None = None  # the key of an earlier seeded task
    completed: bool = False
    deleted: bool = False
    comments: list[str] = Field(default_factory=list)


class Seed(Strict):
    projects: list[SeedProject] = Field(default_factory=list)
    tasks: list[SeedTask] = Field(default_factory=list)
    # Tasks of another user of the same database: the agent must never reach them.
    other_user_tasks: list[SeedTask] = Field(default_factory=list)


class TaskCheck(Strict):
    """The one task found by `key` (a seeded task) or `title` (a case-insensitive part of its
    title; exactly one task, deleted ones included, must match), and what must hold of it."""

    key: str | None = None
    title: str | None = None
    exists: bool = True
    due: datetime | None = None  # wall-clock in the scenario's timezone, to the minute
    due_date: date | None = None  # only the day, in the scenario's timezone
    no_due: bool = False
    completed: bool | None = None
    deleted: bool | None = None
    priority: Literal["high", "medium", "low"] | None = None
    tags: list[str] | None = None  # each must be among the task's tags
    project: str | None = None  # the project's name, ignoring case
    parent: str | None = None  # the key or a part of the title of its parent
    recurring: bool | None = None
    has_reminder: bool | None = None
    reminder_minutes: list[int] | None = None  # each a reminder this long before `due`
    comments: int | None = None  # at least this many

    @field_validator("title")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value


class ProjectCheck(Strict):
    """The project of this name (ignoring case), deleted ones included."""

    name: str
    exists: bool = True
    archived: bool | None = None
    deleted: bool | None = None


class CountCheck(Strict):
    """How many of the user's tasks have `status` (and `title` in their title)."""

    status: Literal["pending", "completed", "deleted", "all"] = "pending"
    title: str | None = None
    equals: int


class Check(Strict):
    """One check: exactly one of its fields is set."""

    task: TaskCheck | None = None
    project: ProjectCheck | None = None
    count: CountCheck | None = None
    called: str | None = None  # this tool was called, successfully, at least once
    not_called: str | None = None  # this tool was never called
    max_tool_calls: int | None = None  # in the whole scenario (or turn)
    asks: bool | None = None  # the answer is a question and the turn changed nothing
    unchanged: bool | None = None  # no task or project (of either user) changed
    reply_mentions: list[str] | None = None  # the answer names these (ignoring case)

    @model_validator(mode="after")
    def _one_kind(self) -> Check:
        set_fields = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(set_fields) != 1:
            raise ValueError(f"a check has exactly one kind, got {set_fields or 'none'}")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in type(self).model_fields if getattr(self, name) is not None)


class Turn(Strict):
    """What the user says; `expect` is checked right after this turn."""

    say: str
    expect: list[Check] = Field(default_factory=list)


class Scenario(Strict):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    about: str = ""
    tools: list[str] = Field(default_factory=list)  # the tools it exercises (for coverage)
    now: datetime  # wall-clock, in `timezone`
    timezone: str = "UTC"
    seed: Seed = Field(default_factory=Seed)
    turns: list[Turn | str] = Field(min_length=1)
    expect: list[Check] = Field(default_factory=list)  # checked after the last turn

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            return validate_timezone(value)
        except ValidationFailed as exc:
            raise ValueError(exc.rule) from None

    @property
    def steps(self) -> list[Turn]:
        return [Turn(say=turn) if isinstance(turn, str) else turn for turn in self.turns]

    def local(self, value: datetime) -> datetime:
        """A scenario time (wall-clock in its timezone) as an aware datetime."""
        if value.tzinfo is not None:
            return value
        return value.replace(tzinfo=ZoneInfo(self.timezone))


class ScenarioFileError(Exception):
    """A scenario file that cannot be read; the message names the file and the problem."""


def load_scenarios(path: Path | None = None) -> list[Scenario]:
    """The scenarios of `path` (YAML or JSON), or the shipped ones."""
    if path is None:
        text = resources.files("server.evals").joinpath("scenarios", SHIPPED).read_text()
        name = SHIPPED
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioFileError(f"{path}: cannot read it ({exc})") from None
        name = str(path)
    return parse_scenarios(text, name=name, as_json=name.endswith(".json"))


def parse_scenarios(text: str, *, name: str = "scenarios", as_json: bool = False) -> list[Scenario]:
    try:
        data = json.loads(text) if as_json else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if as_json else "YAML"
        raise ScenarioFileError(f"{name}: not valid {kind}: {exc}") from None
    if isinstance(data, dict) and "scenarios" in data:
        data = data["scenarios"]
    if not isinstance(data, list) or not data:
        raise ScenarioFileError(f"{name}: expected a non-empty list of scenarios")
    scenarios = []
    for index, item in enumerate(data):
        label = item.get("name", f"#{index + 1}") if isinstance(item, dict) else f"#{index + 1}"
        try:
            scenarios.append(Scenario.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "(scenario)"
            raise ScenarioFileError(f"{name}: scenario {label}: {where}: {first['msg']}") from None
    names = [scenario.name for scenario in scenarios]
    if duplicates := sorted({n for n in names if names.count(n) > 1}):
        raise ScenarioFileError(f"{name}: scenario names repeat: {', '.join(duplicates)}")
    return scenarios
