"""`GET /api/export`: the signed-in user's whole account as JSON, and no one else's."""

from __future__ import annotations

import itertools

from server.comments.models import CommentCreate
from server.portability.models import ExportDocument
from server.projects.models import ProjectCreate
from server.tasks.models import TaskCreate
from tests.server.portability.scenario import comparable

NAMES = (f"exporter{n}" for n in itertools.count())


async def test_each_user_exports_their_own_data_only(shared_api):
    services = shared_api.services
    ann, ben = await shared_api.account(next(NAMES)), await shared_api.account(next(NAMES))
    await services.projects.create_project(user=ann.user, data=ProjectCreate(name="Ann's work"))
    mine = await services.tasks.create_task(
        user=ann.user, data=TaskCreate(title="Ann's task", project="Ann's work")
    )
    await services.comments.add_comment(
        user=ann.user, task_id=mine.id, data=CommentCreate(text="Ann's note")
    )
    await services.tasks.create_task(user=ben.user, data=TaskCreate(title="Ben's task"))

    ann_export = await shared_api.client.get("/api/export", headers=ann.headers)
    ben_export = await shared_api.client.get("/api/export", headers=ben.headers)

    assert ann_export.status_code == 200
    assert ann_export.headers["content-type"] == "application/json"
    assert ann_export.headers["content-disposition"] == (
        f'attachment; filename="todo-agent-{ann.user.name}.json"'
    )
    document = ExportDocument.model_validate_json(ann_export.content)
    assert document.user.name == ann.user.name
    assert [p.name for p in document.projects] == ["Inbox", "Ann's work"]
    assert [(t.title, [c.text for c in t.comments]) for t in document.tasks] == [
        ("Ann's task", ["Ann's note"])
    ]
    assert "Ben" not in ann_export.text
    assert [t["title"] for t in ben_export.json()["tasks"]] == ["Ben's task"]
    assert "Ann" not in ben_export.text


async def test_a_downloaded_export_imports_into_another_account(shared_api):
    services = shared_api.services
    ann, cat = await shared_api.account(next(NAMES)), await shared_api.account(next(NAMES))
    await services.tasks.create_task(
        user=ann.user, data=TaskCreate(title="Renew passport", tags=["admin"], priority="high")
    )
    downloaded = await shared_api.client.get("/api/export", headers=ann.headers)

    await services.portability.import_file(
        user=cat.user, text=downloaded.text, filename="export.json"
    )

    again = await shared_api.client.get("/api/export", headers=cat.headers)
    assert comparable(again.json()) == comparable(downloaded.json())


async def test_export_needs_a_valid_token(shared_api):
    missing = await shared_api.client.get("/api/export")
    wrong = await shared_api.client.get(
        "/api/export", headers={"Authorization": "Bearer tda_not-a-real-token"}
    )

    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
