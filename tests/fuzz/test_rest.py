"""Every route of the app (read from the app, so a new one is fuzzed too), with hostile
path, query, header and body values: never a 5xx, every 400/422 names a field, and nothing
of another user's is ever in an answer (nor changed: see the target's teardown)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, reject
from hypothesis import strategies as st

from tests.fuzz.conftest import PROFILE, SECRET, Target
from tests.fuzz.strategies import (
    NASTY_TEXT,
    ODD_NUMBERS,
    any_json,
    from_schema,
    nasty_text,
    objects,
    raw_bodies,
)
from tests.utils.routes import AppRoute, operation, routes_at_collection

ROUTES = routes_at_collection()
# Path parameters by the kind of row they name.
KINDS = {"task_id": "task", "conversation_id": "conversation", "grant_id": "grant"}
JSON_RPC = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_task"}}
# Streams (live events, chat) are read this far, then let go.
READ_AT_MOST = 64 * 1024
STREAM_SECONDS = 0.2


class Request:
    def __init__(
        self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes | None
    ) -> None:
        self.method, self.url, self.headers, self.body = method, url, headers, body

    def _repr_pretty_(self, printer, cycle) -> None:  # how hypothesis shows an example
        printer.text(repr(self))

    def __repr__(self) -> str:
        body = self.body[:300] if self.body else self.body
        return f"{self.method} {self.url[:300]} headers={self.headers} body={body!r}"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str


def query_value(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, dict | list) else str(value)
    if isinstance(value, bool):
        text = text.lower()
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def header_value(value: Any) -> bytes:
    text = value if isinstance(value, str) else json.dumps(value)
    kept = "".join(c for c in text if 32 < ord(c) < 256 or c == " ")[:4000]
    return kept.strip().encode("latin-1") or b"-"


@st.composite
def requests(draw, route: AppRoute, target: Target) -> Request:
    op = operation(target.app, route)
    defs = target.app.openapi().get("components", {}).get("schemas", {})
    values = {}
    for name in route.parameters:
        kind = KINDS.get(name)
        ids = (target.fuzzer_ids.get(kind, []) + target.victim_ids.get(kind, [])) or [1]
        segment = draw(
            st.one_of(
                st.sampled_from(ids),
                st.sampled_from(ODD_NUMBERS),
                st.sampled_from(["app.js", "index.html", "..", "%00", "x" * 5000, "-1", "1.5"]),
                nasty_text,
            )
        )
        values[name] = quote(str(segment).encode("utf-8", "surrogatepass"), safe="")
    query, headers = [], [(b"authorization", f"Bearer {target.fuzzer.token}".encode())]
    for param in op.get("parameters", []):
        if param["in"] == "path" or not draw(st.booleans()):
            continue
        value = draw(from_schema(param["schema"], defs, name=param["name"], cursor=target.cursor))
        if value is None:
            continue
        if param["in"] == "query":
            for item in value if isinstance(value, list) else [value]:
                query.append(f"{quote(param['name'])}={query_value(item)}")
        elif param["in"] == "header":
            headers.append((param["name"].encode(), header_value(value)))
    if draw(st.integers(0, 5)) == 0:  # a parameter the route does not know
        query.append(f"{draw(st.sampled_from(['user_id', 'access_token', 'x']))}=1")
    if draw(st.integers(0, 5)) == 0:
        headers.append((b"x-request-id", header_value(draw(st.sampled_from(NASTY_TEXT)))))
    body = draw(_body(route, op, defs, target))
    if body is not None:
        kind = draw(st.sampled_from([b"application/json"] * 4 + [b"text/plain", b""]))
        headers.append((b"content-type", kind))
    if route.path == "/mcp":
        headers.append((b"accept", b"application/json, text/event-stream"))
    url = route.url(**values) + ("?" + "&".join(query) if query else "")
    return Request(route.method, url, headers, body)


def _body(route: AppRoute, op: dict, defs: dict, target: Target) -> st.SearchStrategy:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None:
        schema = content["schema"]
        defs = defs | schema.get("$defs", {})  # a schema given whole (openapi_extra) has its own
        shaped = objects(
            defs[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema,
            defs,
            cursor=target.cursor,
        )
        return st.one_of(shaped.map(_encode), shaped.map(_encode), raw_bodies())
    if route.path == "/mcp" and route.method == "POST":
        rpc = st.fixed_dictionaries({}, optional={"params": any_json, "id": any_json}).map(
            lambda extra: JSON_RPC | extra
        )
        return st.one_of(rpc.map(_encode), any_json.map(_encode), raw_bodies())
    if route.method in ("POST", "PATCH", "DELETE"):
        return st.one_of(st.none(), any_json.map(_encode))
    return st.none()


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()  # lone surrogates go out as \\ud800 escapes


async def send(target: Target, request: Request) -> Answer:
    url = target.base_url + request.url
    async with target.client.stream(
        request.method, url, headers=request.headers, content=request.body, timeout=30
    ) as response:
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        chunks: list[bytes] = []

        async def read() -> None:
            async for chunk in response.aiter_raw():
                chunks.append(chunk)
                if streaming and sum(map(len, chunks)) > READ_AT_MOST:
                    return

        try:
            # A live stream (events, /mcp's GET) may stay quiet: what came in a moment does.
            await asyncio.wait_for(read(), timeout=STREAM_SECONDS if streaming else 60)
        except TimeoutError:
            if not streaming:
                raise
    text = b"".join(chunks).decode(errors="replace")
    return Answer(response.status_code, dict(response.headers), text)


def check(route: AppRoute, request: Request, answer: Answer) -> None:
    context = f"{request!r} -> {answer.status} {answer.text[:500]}"
    assert answer.status < 500, context
    assert SECRET not in answer.text, context
    if answer.status < 400 or route.path == "/mcp" and answer.status not in (401, 403, 429):
        return  # /mcp answers JSON-RPC errors in JSON-RPC's own shape
    ours = route.path.startswith(("/api/", "/static/", "/health", "/metrics", "/mcp"))
    if not ours or route.path.startswith("/api/oauth/"):
        # /v1 answers in OpenAI's error format; the OAuth routes in OAuth's (RFC 6749 codes,
        # the parameter named in the message), and /oauth/authorize with a page for people.
        if answer.headers.get("content-type", "").startswith("application/json"):
            assert json.loads(answer.text)["error"], context
        return
    error = json.loads(answer.text)["error"]
    assert set(error) == {"code", "message", "details"}, context
    if answer.status in (400, 422):
        field = error["details"].get("field")
        assert field and field in error["message"], context


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_no_route_fails_or_leaks_whatever_it_is_sent(target: Target, route: AppRoute):
    @PROFILE
    @given(request=requests(route, target))
    def fuzz(request: Request) -> None:
        try:
            answer = target.run(lambda: send(target, request))
        except (httpx.LocalProtocolError, httpx.InvalidURL):
            reject()  # the client itself would not send it
        check(route, request, answer)

    await asyncio.to_thread(fuzz)


def test_every_route_is_fuzzed():
    # What ROUTES holds is what the app serves; a route added later is in it by itself.
    assert {str(r) for r in ROUTES} >= {"POST /api/tasks", "GET /api/events", "POST /mcp"}
