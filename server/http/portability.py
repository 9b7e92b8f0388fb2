"""`GET /api/export`: everything of the signed-in user as the versioned JSON that
`todo-agent import` reads back (server/portability)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from server.http.deps import CurrentUser, ServicesDep
from server.portability.models import ExportDocument

router = APIRouter(tags=["portability"])


@router.get("/api/export", response_model=ExportDocument)
async def export_account(services: ServicesDep, user: CurrentUser) -> Response:
    """The user's profile, settings, projects, tasks, reminders and comments (format
    `todo-agent`, version 1), as a file to download."""
    document = await services.portability.export(user=user)
    return Response(
        document.model_dump_json(indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="todo-agent-{user.name}.json"',
            "Cache-Control": "no-store",
        },
    )
