"""Routes that serve the web page: `/` (index.html) and `/static/<file>`.

The page is plain static files shipped in the package; it talks to the REST, chat
and events APIs with the token the user signs in with, so these routes need no auth.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from server.errors import NotFound

STATIC_DIR = Path(__file__).parent / "static"

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

# Everything the page needs comes from this server: no CDN, no external font, no inline code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Revalidate on every load (cheap: ETag) so an upgraded server never runs a stale page.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    """The web chat page."""
    return _file_response(STATIC_DIR / "index.html")


@router.get("/static/{name}")
async def static_file(name: str) -> FileResponse:
    """One file of the page; only files shipped in `static/` are served, nothing below it."""
    path = STATIC_DIR / name
    if "/" in name or "\\" in name or name.startswith(".") or path.suffix not in MEDIA_TYPES:
        raise NotFound(f"static file {name!r:.80} not found")
    try:
        found = path.is_file()
    except OSError:  # e.g. a name longer than the file system allows
        found = False
    if not found:
        raise NotFound(f"static file {name!r:.80} not found")
    return _file_response(path)


def _file_response(path: Path) -> FileResponse:
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=SECURITY_HEADERS)
