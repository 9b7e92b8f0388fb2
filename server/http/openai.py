"""The OpenAI-compatible façade, for chat apps such as Open WebUI and LibreChat:
`GET /v1/models` (one model, `todo-agent`) and `POST /v1/chat/completions`, streamed or not.

The answer comes from the same chat as `/api/chat` (the agent, its MCP tools, the provider,
the stored conversation), acting as the user whose API token is the bearer "API key". What
is particular to the façade is how a request becomes a turn (server/conversations/facade.py)
and how the answer is encoded (server/conversations/completions.py). Errors are OpenAI's
(server/http/openai_errors.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError

from agent.llm import HOW_TO_CONFIGURE
from server.conversations.completions import Completion
from server.conversations.facade import MODEL_ID, CompletionRequest, read_transcript
from server.errors import NotFound, ValidationFailed
from server.http.deps import ChatDep, CurrentUser, ServicesDep, bearer_token
from server.http.openai_errors import NoModel, OpenAIRoute, UnknownModel
from server.http.throttle import admit_chat_turn
from server.sse import HEADERS, MEDIA_TYPE
from server.validation import describe

router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)

# When the model "was created", as OpenAI lists it: this façade's first release.
MODEL_CREATED = 1_764_547_200  # 2025-12-01
MODEL = {"id": MODEL_ID, "object": "model", "created": MODEL_CREATED, "owned_by": "todo-agent"}


@router.get("/models")
async def list_models(user: CurrentUser) -> dict[str, Any]:
    """The one model this server answers as."""
    return {"object": "list", "data": [MODEL]}


@router.get("/models/{model}")
async def get_model(model: str, user: CurrentUser) -> dict[str, Any]:
    _check_model(model)
    return MODEL


@router.post(
    "/chat/completions",
    response_model=None,
    responses={200: {"content": {"text/event-stream": {}, "application/json": {}}}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CompletionRequest.model_json_schema()}},
        }
    },
)
async def chat_completions(
    request: Request, services: ServicesDep, chat: ChatDep, user: CurrentUser
) -> Response:
    """Answer the client's conversation as the agent: a `chat.completion`, or with `stream`
    a stream of `chat.completion.chunk` objects ending with `data: [DONE]`."""
    admit_chat_turn(request, user)
    body = _read_body(await request.body())
    _check_model(body.model)
    if not chat.has_model:
        raise NoModel(HOW_TO_CONFIGURE)
    transcript = read_transcript(body.messages)
    turn = await services.conversations.begin_client_turn(user=user, transcript=transcript)
    usage = body.wants_usage
    completion = Completion(
        conversations=services.conversations, user=user, transcript=transcript, usage=usage
    )
    batches = chat.events(user=user, token=bearer_token(request), turn=turn, usage=usage)
    if not body.stream:
        return JSONResponse(await completion.whole(batches))
    # Read until the answer has begun, so an answer that fails at once (the provider is
    # rate limiting, say) is still an HTTP error with its status rather than a broken stream.
    await completion.open(batches)
    return StreamingResponse(completion.chunks(batches), media_type=MEDIA_TYPE, headers=HEADERS)


@router.api_route(
    "/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def unknown(request: Request, path: str) -> Response:
    """Any other `/v1` request, as OpenAI answers it: a 404 in its format."""
    raise NotFound(f"Unknown request URL: {request.method} /v1/{path}")


def _read_body(raw: bytes) -> CompletionRequest:
    try:
        return CompletionRequest.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "json_invalid":
            raise ValidationFailed("body", "must be valid JSON") from None
        raise describe(first) from None


def _check_model(model: str) -> None:
    if model != MODEL_ID:
        raise UnknownModel(
            f"The model {model!r} does not exist; this server's model is {MODEL_ID!r}."
        )
