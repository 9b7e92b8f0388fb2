"""The `/v1` façade driven by the real `openai` client, as a chat app drives it: uvicorn on a
free port, the scripted provider as the model behind the agent, the real MCP tools."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from server.app import create_app
from server.config import Settings
from server.runtime import open_runtime
from server.services import Services
from server.tasks.models import Status, TaskCreate, TaskQuery
from testkit.fake_llm import Reply, ToolCall
from testkit.servers import serve_app
from tests.conftest import Account, make_account
from tests.server.conversations.conftest import chat_settings
from tests.utils.app import make_settings


@dataclass
class Facade:
    url: str
    services: Services

    def client(self, account: Account | None = None, *, key: str | None = None) -> AsyncOpenAI:
        """The openai client a chat app would use, with this user's API token as its key."""
        api_key = key if key is not None else account.token
        return AsyncOpenAI(base_url=f"{self.url}/v1", api_key=api_key, max_retries=0)

    async def account(self, name: str, timezone: str = "UTC") -> Account:
        return await make_account(self.services, name, timezone)

    async def conversations(self, account: Account) -> list[dict]:
        """The user's stored conversations, each with its messages, as /api/conversations has
        them (newest first)."""
        async with httpx.AsyncClient(base_url=self.url, headers=account.headers) as http:
            listed = (await http.get("/api/conversations")).json()["conversations"]
            return [(await http.get(f"/api/conversations/{c['id']}")).json() for c in listed]


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Facade]:
    async with open_runtime(settings) as runtime, serve_app(create_app(runtime)) as url:
        yield Facade(url=url, services=runtime.services)


@pytest.fixture
async def facade(sqlite_url, fake_llm) -> AsyncIterator[Facade]:
    async with serving(chat_settings(sqlite_url, fake_llm)) as served:
        yield served


@pytest.fixture
async def alice(facade) -> Account:
    return await facade.account("alice", "Europe/Paris")


@pytest.fixture
async def bob(facade) -> Account:
    return await facade.account("bob")


async def titles(services: Services, account: Account, status=Status.pending) -> list[str]:
    page = await services.tasks.list_tasks(user=account.user, query=TaskQuery(status=status))
    return sorted(task.title for task in page.tasks)


def said(conversation: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in conversation["messages"] if m["role"] != "tool"]


async def test_models_lists_one_model_todo_agent(facade, alice):
    client = facade.client(alice)

    listed = await client.models.list()
    model = await client.models.retrieve("todo-agent")

    assert [m.id for m in listed.data] == ["todo-agent"]
    assert model.id == "todo-agent" and model.object == "model"


async def test_a_streamed_answer_adds_the_task_and_shows_one_line_per_tool_call(
    facade, alice, fake_llm
):
    fake_llm.script(
        Reply(
            tool_calls=[
                ToolCall("add_task", {"title": "Buy milk", "priority": "high"}),
                ToolCall("add_task", {"title": ""}),
            ]
        ),
        Reply(text="Added **Buy milk**.", chunk_size=4),
    )

    stream = await facade.client(alice).chat.completions.create(
        model="todo-agent",
        messages=[{"role": "user", "content": "add buy milk, urgent"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    *tool_lines, answer = text.split("\n\n")
    ok, failed = sorted(tool_lines, key=lambda line: "✗" in line)  # in completion order
    assert ok == '🔧 `add_task(title="Buy milk", priority="high")` ✓'
    assert failed.startswith('🔧 `add_task(title="")` ✗ ') and "title" in failed
    assert answer == "Added **Buy milk**."
    assert await titles(facade.services, alice) == ["Buy milk"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    # The provider's own counts, summed over the agent's two model turns.
    assert usage.prompt_tokens > 0 and usage.total_tokens == (
        usage.prompt_tokens + usage.completion_tokens
    )
    assert all(c.id == chunks[0].id and c.model == "todo-agent" for c in chunks)


async def test_a_whole_answer_is_one_chat_completion_and_completes_the_task(
    facade, alice, fake_llm
):
    task = await facade.services.tasks.create_task(user=alice.user, data=TaskCreate(title="Rent"))
    fake_llm.script(Reply(tool_calls=[ToolCall("complete_task", {"task_id": task.id})]), "Done!")

    completion = await facade.client(alice).chat.completions.create(
        model="todo-agent", messages=[{"role": "user", "content": "I paid the rent"}]
    )

    assert completion.object == "chat.completion" and completion.model == "todo-agent"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content == f"🔧 `complete_task(task_id={task.id})` ✓\n\nDone!"
    assert completion.usage.total_tokens > 0
    assert await titles(facade.services, alice, Status.completed) == ["Rent"]


async def test_follow_up_turns_continue_one_stored_conversation(facade, alice, fake_llm):
    client = facade.client(alice)
    fake_llm.script(Reply(tool_calls=[ToolCall("add_task", {"title": "Call mum"})]), "Added.")
    first = await client.chat.completions.create(
        model="todo-agent", messages=[{"role": "user", "content": "remind me to call mum"}]
    )
    answer = first.choices[0].message.content
    # The chat app resends the whole chat, as it shows it (here with its spacing trimmed).
    history = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "remind me to call mum"},
        {"role": "assistant", "content": answer.replace("\n\n", "\n").strip()},
        {"role": "user", "content": "and what else is there?"},
    ]
    fake_llm.script("Only that.")
    stream = await client.chat.completions.create(model="todo-agent", messages=history, stream=True)
    second = "".join([c.choices[0].delta.content or "" async for c in stream])
    fake_llm.script("Still only that.")
    await client.chat.completions.create(
        model="todo-agent",
        messages=[
            *history,
            {"role": "assistant", "content": second},
            {"role": "user", "content": "sure?"},
        ],
    )

    conversations = await facade.conversations(alice)
    assert len(conversations) == 1
    assert conversations[0]["title"] == "remind me to call mum"
    assert said(conversations[0]) == [
        ("user", "remind me to call mum"),
        ("assistant", None),  # the tool call
        ("assistant", "Added."),
        ("user", "and what else is there?"),
        ("assistant", "Only that."),
        ("user", "sure?"),
        ("assistant", "Still only that."),
    ]
    # The model is given the client's history, its system message folded into ours.
    sent = fake_llm.last_request.messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert "list_tasks" in sent[0]["content"] and "You are helpful." in sent[0]["content"]
    assert sent[2]["content"].startswith('🔧 `add_task(title="Call mum")` ✓')


async def test_a_chat_this_server_has_not_seen_is_stored_with_its_history(facade, alice, fake_llm):
    fake_llm.script("Noted.")

    await facade.client(alice).chat.completions.create(
        model="todo-agent",
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "I plan a trip"}]},
            {"role": "assistant", "content": "Where to?"},
            {"role": "user", "content": "Lisbon, in May"},
        ],
    )

    (conversation,) = await facade.conversations(alice)
    assert conversation["title"] == "I plan a trip"
    assert said(conversation) == [
        ("user", "I plan a trip"),
        ("assistant", "Where to?"),
        ("user", "Lisbon, in May"),
        ("assistant", "Noted."),
    ]


async def test_users_are_isolated(facade, alice, bob, fake_llm):
    secret = await facade.services.tasks.create_task(
        user=alice.user, data=TaskCreate(title="Alice's secret")
    )
    question = [{"role": "user", "content": "what do I have?"}]
    fake_llm.script("You have Alice's secret.")
    alices = await facade.client(alice).chat.completions.create(
        model="todo-agent", messages=question
    )
    fake_llm.script(
        Reply(
            tool_calls=[
                ToolCall("complete_task", {"task_id": secret.id}),
                ToolCall("list_tasks", {"status": "all"}),
            ]
        ),
        "Nothing there.",
    )

    # Bob sends the very transcript of Alice's chat: it is still a chat of his own.
    bobs = await facade.client(bob).chat.completions.create(
        model="todo-agent",
        messages=[
            *question,
            {"role": "assistant", "content": alices.choices[0].message.content},
            {"role": "user", "content": "complete it"},
        ],
    )

    content = bobs.choices[0].message.content
    assert f"complete_task(task_id={secret.id})` ✗ task {secret.id} not found" in content
    assert 'list_tasks(status="all")` ✓' in content
    assert await titles(facade.services, alice) == ["Alice's secret"]
    assert [said(c) for c in await facade.conversations(alice)] == [
        [("user", "what do I have?"), ("assistant", "You have Alice's secret.")]
    ]
    (bobs_conversation,) = await facade.conversations(bob)
    assert said(bobs_conversation)[:3] == [
        ("user", "what do I have?"),
        ("assistant", "You have Alice's secret."),
        ("user", "complete it"),
    ]


async def test_unknown_request_fields_are_ignored(facade, alice, fake_llm):
    completion = await facade.client(alice).chat.completions.create(
        model="todo-agent",
        messages=[{"role": "user", "content": "hello", "name": "al"}],
        temperature=0.3,
        max_tokens=50,
        user="someone",
        extra_body={"top_k": 5, "options": {"anything": True}},
    )

    assert completion.choices[0].message.content == "You said: hello"


@pytest.mark.parametrize(
    ("request_", "error", "status", "param"),
    [
        (
            {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
            openai.NotFoundError,
            404,
            None,
        ),
        ({"model": "todo-agent", "messages": []}, openai.BadRequestError, 400, "messages"),
        (
            {"model": "todo-agent", "messages": [{"role": "user", "content": " "}]},
            openai.BadRequestError,
            400,
            "messages[0].content",
        ),
        (
            {"model": "todo-agent", "messages": [{"role": "assistant", "content": "x"}]},
            openai.BadRequestError,
            400,
            "messages[0].role",
        ),
        (
            {"model": "todo-agent", "messages": [{"role": "wizard", "content": "x"}]},
            openai.BadRequestError,
            400,
            "messages[0].role",
        ),
        (
            {"model": "todo-agent", "messages": [{"role": "user", "content": "a\x00b"}]},
            openai.BadRequestError,
            400,
            "messages[0].content",
        ),
    ],
)
async def test_bad_requests_are_errors_in_openais_format(
    facade, alice, fake_llm, request_, error, status, param
):
    with pytest.raises(error) as raised:
        await facade.client(alice).chat.completions.create(**request_)

    assert raised.value.status_code == status
    body = raised.value.body
    assert set(body) == {"message", "type", "param", "code"} and body["message"]
    assert body["type"] == "invalid_request_error" and body["param"] == param
    assert fake_llm.requests == []
    assert await facade.conversations(alice) == []


async def test_a_bad_key_is_an_authentication_error(facade, alice):
    for key in ("tda_not-a-token", "sk-something"):
        with pytest.raises(openai.AuthenticationError) as raised:
            await facade.client(key=key).models.list()
        assert raised.value.body["code"] == "invalid_api_key"
        assert raised.value.response.headers["www-authenticate"] == "Bearer"


async def test_a_body_that_is_not_json_and_an_unknown_url_are_openai_errors(facade, alice):
    async with httpx.AsyncClient(base_url=f"{facade.url}/v1", headers=alice.headers) as http:
        not_json = await http.post(
            "/chat/completions", content=b"{nope", headers={"content-type": "application/json"}
        )
        nowhere = await http.post("/embeddings", json={"input": "x"})

    assert not_json.status_code == 400
    assert not_json.json()["error"]["param"] == "body"
    assert nowhere.status_code == 404
    assert nowhere.json()["error"]["message"] == "Unknown request URL: POST /v1/embeddings"


@pytest.mark.parametrize("stream", [False, True])
async def test_a_rate_limiting_provider_is_a_rate_limit_error(facade, alice, fake_llm, stream):
    fake_llm.script(*[Reply(status=429)] * 3)  # the first try and the agent's two retries

    with pytest.raises(openai.RateLimitError) as raised:
        await facade.client(alice).chat.completions.create(
            model="todo-agent", messages=[{"role": "user", "content": "hi"}], stream=stream
        )

    assert raised.value.body["code"] == "rate_limit_exceeded"
    assert int(raised.value.response.headers["retry-after"]) > 0
    (conversation,) = await facade.conversations(alice)
    assert said(conversation) == [("user", "hi")]  # the user's message is kept


async def test_an_answer_that_breaks_off_ends_the_stream_with_an_error(sqlite_url, fake_llm):
    settings = chat_settings(sqlite_url, fake_llm, llm_timeout_seconds=0.5, llm_max_retries=0)
    fake_llm.script(Reply(text="Thinking about it", hang=True))
    async with serving(settings) as facade:
        alice = await facade.account("alice")
        stream = await facade.client(alice).chat.completions.create(
            model="todo-agent", messages=[{"role": "user", "content": "think"}], stream=True
        )
        received: list[str] = []
        with pytest.raises(openai.APIError, match="did not answer in time"):
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "Thinking about it"


async def test_without_a_model_configured_the_answer_is_503(sqlite_url, fake_llm):
    async with serving(make_settings(database_url=sqlite_url)) as facade:
        alice = await facade.account("alice")
        with pytest.raises(openai.InternalServerError) as raised:
            await facade.client(alice).chat.completions.create(
                model="todo-agent", messages=[{"role": "user", "content": "hi"}]
            )
        listed = await facade.client(alice).models.list()

    assert raised.value.status_code == 503
    assert raised.value.body["code"] == "model_not_configured"
    assert "OPENAI_BASE_URL" in raised.value.body["message"]
    assert [m.id for m in listed.data] == ["todo-agent"]
