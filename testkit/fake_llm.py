"""A scripted OpenAI-compatible Chat Completions server for tests and benchmarks.

It speaks the real wire format (`POST /v1/chat/completions`, streamed as SSE chunks ending
with `data: [DONE]`), so the `openai` client, its retries and its timeouts run for real.

What it answers, checked in this order for every request:

1. the next reply queued with `script(...)` (first in, first out, shared by all callers);
2. the first `rule(contains, ...)` whose text appears in the last user message: its
   replies answer that user turn in order (the first the user message, the second the
   request that follows the tool results, ...), worked out from the request alone so
   concurrent conversations never mix;
3. the default: after tool results `"Done."`, otherwise an echo `"You said: <text>"`.

A reply is a `Reply`, a plain string (text), or a callable taking the request body and
returning either. Every request is recorded in `requests` (body and headers), so tests can
assert the system prompt, the history and the tools sent.

    fake = FakeLLM()
    fake.script(Reply(tool_calls=[ToolCall("add_task", {"title": "milk"})]), "Added it.")
    fake.rule("overdue", Reply(tool_calls=[ToolCall("list_tasks", {"overdue": True})]))
    async with fake.serve() as base_url:  # "http://127.0.0.1:PORT/v1"
        ...  # OPENAI_BASE_URL=base_url

From a shell (for benchmarks and manual runs): `python -m testkit.fake_llm --port 9999`
(`--rules FILE` answers by the rules of a YAML file, as testkit/eval_demo.yaml does).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from testkit.servers import serve_app


@dataclass
class ToolCall:
    """A tool call the model makes; `arguments` as a dict is JSON-encoded, a str is sent as is."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_text(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass
class Reply:
    """One scripted answer to one request.

    - `text` streams in pieces of `chunk_size` characters; tool-call arguments too.
    - `tool_calls` with two or more entries are parallel calls (indices 0, 1, ...);
      `interleave=True` alternates their argument fragments, as some providers do.
    - `status` other than 200 answers with that HTTP error instead (with a
      `retry-after-ms: retry_after_ms` header, so the client's retries stay fast).
    - `delay` waits that many seconds before each chunk; `hang=True` never finishes the
      stream after its chunks (the client has to give up).
    """

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    chunk_size: int = 8
    interleave: bool = False
    delay: float = 0.0
    hang: bool = False
    status: int = 200
    retry_after_ms: int = 1


Answer = Reply | str | Callable[[dict[str, Any]], "Reply | str"]


@dataclass
class RecordedRequest:
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def system_prompt(self) -> str | None:
        first = self.messages[0] if self.messages else {}
        return first.get("content") if first.get("role") == "system" else None

    @property
    def tool_names(self) -> list[str]:
        return [tool["function"]["name"] for tool in self.body.get("tools") or []]

    @property
    def last_user_text(self) -> str:
        return _last_user_text(self.messages)


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts
                return " ".join(part.get("text", "") for part in content)
            return content or ""
    return ""


def _rounds_since_user(messages: list[dict[str, Any]]) -> int:
    """How many assistant messages follow the last user message (0: answering the user)."""
    count = 0
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        if message.get("role") == "assistant":
            count += 1
    return count


class FakeLLM:
    """The scripted provider; see the module docstring for how it picks a reply."""

    def __init__(self, *, model: str = "fake-model") -> None:
        self.model = model
        self.base_url: str | None = None  # set while serving: "http://127.0.0.1:PORT/v1"
        self.requests: list[RecordedRequest] = []
        self.cancelled = 0  # streams the client abandoned before the end
        self.completed = 0  # streams sent to the end
        self._queue: collections.deque[Answer] = collections.deque()
        self._rules: list[tuple[str, tuple[Answer, ...]]] = []
        self._ids = itertools.count(1)
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._completions, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/v1/requests/last", self._last, methods=["GET"]),
            ]
        )

    # -- scripting ------------------------------------------------------------

    def script(self, *answers: Answer) -> None:
        """Queue answers for the next requests, in order."""
        self._queue.extend(answers)

    def rule(self, contains: str, *answers: Answer) -> None:
        """Answer user turns whose text contains `contains` (case-insensitive) with `answers`."""
        self._rules.append((contains.lower(), answers))

    def reset(self) -> None:
        self._queue.clear()
        self._rules.clear()
        self.requests.clear()
        self.cancelled = self.completed = 0

    @property
    def last_request(self) -> RecordedRequest:
        return self.requests[-1]

    # -- serving --------------------------------------------------------------

    @asynccontextmanager
    async def serve(self, *, port: int | None = None) -> AsyncIterator[str]:
        """Serve on a free loopback port in this event loop; yields the `/v1` base URL."""
        async with serve_app(self.app, port=port) as url:
            self.base_url = f"{url}/v1"
            try:
                yield self.base_url
            finally:
                self.base_url = None

    def _choose(self, body: dict[str, Any]) -> Reply:
        messages = body.get("messages", [])
        answer: Answer | None = None
        if self._queue:
            answer = self._queue.popleft()
        else:
            text = _last_user_text(messages).lower()
            turn = _rounds_since_user(messages)
            for contains, answers in self._rules:
                if contains in text:
                    answer = answers[turn] if turn < len(answers) else "Done."
                    break
        if answer is None:
            answer = "Done." if messages and messages[-1].get("role") == "tool" else None
        if answer is None:
            answer = f"You said: {_last_user_text(messages)}"
        if callable(answer):
            answer = answer(body)
        return Reply(text=answer) if isinstance(answer, str) else answer

    async def _models(self, _: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    async def _last(self, _: Request) -> Response:
        """The body of the last completion request (for benchmarks in another process)."""
        if not self.requests:
            return JSONResponse({"error": {"message": "no request yet"}}, status_code=404)
        return JSONResponse(self.requests[-1].body)

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(RecordedRequest(body=body, headers=dict(request.headers)))
        reply = self._choose(body)
        if reply.status != 200:
            return JSONResponse(
                {"error": {"message": f"scripted {reply.status}", "type": "scripted_error"}},
                status_code=reply.status,
                headers={"retry-after-ms": str(reply.retry_after_ms)},
            )
        completion_id = f"chatcmpl-{next(self._ids)}"
        if not body.get("stream"):
            return JSONResponse(self._whole(completion_id, body, reply))
        return StreamingResponse(
            self._stream(completion_id, body, reply), media_type="text/event-stream"
        )

    # -- wire format ----------------------------------------------------------

    def _chunk(self, completion_id: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(payload).encode() + b"\n\n"

    def _deltas(self, reply: Reply) -> Iterator[dict[str, Any]]:
        size = max(1, reply.chunk_size)
        yield {"role": "assistant", "content": ""}
        for start in range(0, len(reply.text), size):
            yield {"content": reply.text[start : start + size]}
        calls: list[list[dict[str, Any]]] = []
        for index, call in enumerate(reply.tool_calls):
            call_id = call.id or f"call_{next(self._ids)}"
            arguments = call.arguments_text
            head = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            pieces = [
                {"index": index, "function": {"arguments": arguments[start : start + size]}}
                for start in range(0, len(arguments), size)
            ]
            calls.append([head, *pieces])
        if reply.interleave:
            ordered = [p for group in itertools.zip_longest(*calls) for p in group if p]
        else:
            ordered = [piece for pieces in calls for piece in pieces]
        for piece in ordered:
            yield {"tool_calls": [piece]}

    async def _stream(
        self, completion_id: str, body: dict[str, Any], reply: Reply
    ) -> AsyncIterator[bytes]:
        try:
            for delta in self._deltas(reply):
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                yield self._chunk(completion_id, delta)
            if reply.hang:
                await asyncio.Event().wait()
            finish = "tool_calls" if reply.tool_calls else "stop"
            yield self._chunk(completion_id, {}, finish)
            if (body.get("stream_options") or {}).get("include_usage"):
                yield self._usage_chunk(completion_id, body, reply)
            yield b"data: [DONE]\n\n"
            self.completed += 1
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    def _usage_chunk(self, completion_id: str, body: dict[str, Any], reply: Reply) -> bytes:
        # About a token per 4 characters of what the model reads: the messages and the tools.
        sent = json.dumps(body.get("messages", [])) + json.dumps(body.get("tools") or [])
        prompt = len(sent) // 4
        completion = (len(reply.text) + sum(len(c.arguments_text) for c in reply.tool_calls)) // 4
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model,
            "choices": [],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
        return b"data: " + json.dumps(payload).encode() + b"\n\n"

    def _whole(self, completion_id: str, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id or f"call_{next(self._ids)}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_text},
                }
                for call in reply.tool_calls
            ]
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                }
            ],
        }


def load_rules(fake: FakeLLM, path: str) -> None:
    """Add the rules of a YAML file: a list of `{contains, replies}`, each reply a text or
    `{text?, tool_calls: [{name, arguments}]}` (see testkit/eval_demo.yaml)."""
    with open(path, encoding="utf-8") as file:
        for rule in yaml.safe_load(file):
            replies = [
                reply
                if isinstance(reply, str)
                else Reply(
                    text=reply.get("text", ""),
                    tool_calls=[
                        ToolCall(c["name"], c.get("arguments", {}))
                        for c in reply.get("tool_calls", [])
                    ],
                )
                for reply in rule["replies"]
            ]
            fake.rule(rule["contains"], *replies)


def main() -> None:
    """Serve the default echo provider (or a text reply, or rules from a file) until
    interrupted."""
    parser = argparse.ArgumentParser(description="A scripted OpenAI-compatible provider")
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--reply", help="always answer with this text instead of the echo")
    parser.add_argument("--rules", metavar="FILE", help="answer by the rules of this YAML file")
    parser.add_argument(
        "--hang", action="store_true", help="never finish a stream after the reply's text"
    )
    args = parser.parse_args()
    fake = FakeLLM()
    if args.rules:
        load_rules(fake, args.rules)
    if args.reply or args.hang:
        fake.rule("", Reply(text=args.reply or "Thinking", hang=args.hang))

    async def run() -> None:
        async with fake.serve(port=args.port) as url:
            print(url, flush=True)
            await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
