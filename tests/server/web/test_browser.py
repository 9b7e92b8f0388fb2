"""The web page at `/` in a real browser (Debian chromium via playwright), against
`todo-agent serve` started on an empty database and the scripted OpenAI-compatible provider."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import Page, expect

from testkit.fake_llm import Reply, ToolCall
from tests.server.web.helpers import DroppingProxy, open_page

# Upper bounds for things that happen in the background (the scheduler ticks every 0.2 s):
# generous, so a slow machine waits longer instead of failing.
LIVE_WAIT_MS = 30_000


async def sign_in_from_printed_url(page: Page, server) -> None:
    await page.goto(server.signin_url)
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#live-status")).to_have_attribute(
        "data-state", "live", timeout=LIVE_WAIT_MS
    )


async def test_printed_url_signs_in_and_the_token_stays_until_sign_out(page, server):
    await sign_in_from_printed_url(page, server)

    await expect(page.locator("#user-name")).to_have_text("me")
    assert page.url == f"{server.base_url}/", "the token is cleared from the address bar"
    assert await page.evaluate("localStorage.getItem('todo-agent.token')") == server.token

    await page.reload()
    await expect(page.locator("#app")).to_be_visible()

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("API token")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('todo-agent.token')") is None
    await page.reload()
    await expect(page.get_by_label("API token")).to_be_visible()

    await page.get_by_label("API token").fill("not-a-real-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("not accepted")

    await page.get_by_label("API token").fill(server.token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#user-name")).to_have_text("me")


async def test_task_added_in_chat_appears_in_the_panel_and_is_completed_there(
    page, server, fake_llm
):
    fake_llm.rule(
        "oat milk",
        Reply(
            tool_calls=[
                ToolCall("add_task", {"title": "Buy oat milk", "due": "tomorrow 9am"}, id="c1")
            ]
        ),
        "Added **Buy oat milk** for tomorrow at 9:00.",
    )
    await sign_in_from_printed_url(page, server)
    tasks = page.locator("#task-list")
    await expect(tasks).not_to_contain_text("Buy oat milk")

    await page.get_by_label("Message", exact=True).fill(
        "Remind me to buy oat milk tomorrow morning"
    )
    await page.get_by_label("Message", exact=True).press("Enter")

    messages = page.get_by_role("log", name="Messages")
    await expect(messages).to_contain_text("Added Buy oat milk for tomorrow at 9:00.")
    tool = messages.locator("details.tool")
    await expect(tool.locator("summary")).to_contain_text("add_task")
    await expect(tool.locator("summary")).to_contain_text("done")
    await tool.locator("summary").click()
    await expect(tool).to_contain_text('"title": "Buy oat milk"')
    # The tool changed the task; the panel learns it from GET /api/events, without a reload.
    await expect(tasks.get_by_role("checkbox", name="Buy oat milk")).to_be_visible()

    await tasks.get_by_role("checkbox", name="Buy oat milk").check()
    await expect(tasks).not_to_contain_text("Buy oat milk")
    await page.get_by_role("button", name="Completed", exact=True).click()
    await expect(tasks.get_by_role("checkbox", name="Buy oat milk")).to_be_checked()

    # The conversation is stored and can be resumed.
    await page.get_by_role("button", name="New conversation").click()
    await expect(messages).not_to_contain_text("Buy oat milk")
    await page.locator("#conversation-list button").first.click()
    await expect(messages).to_contain_text("Remind me to buy oat milk tomorrow morning")
    await expect(messages).to_contain_text("Added Buy oat milk for tomorrow at 9:00.")


async def test_due_time_notification_arrives_live_and_is_marked_read(page, server):
    await sign_in_from_printed_url(page, server)
    bell = page.locator("#notifications-toggle")
    await expect(page.locator("#unread-count")).to_be_hidden()

    due = (datetime.now(UTC) + timedelta(seconds=2)).isoformat(timespec="seconds")
    async with httpx.AsyncClient(base_url=server.base_url, headers=server.headers) as api:
        created = await api.post(
            "/api/tasks",
            json={"title": "Call the dentist", "due": due, "remind_before_minutes": 0},
        )
        assert created.status_code == 201, created.text
    await expect(page.locator("#task-list")).to_contain_text("Call the dentist")

    await expect(page.locator("#unread-count")).to_have_text("1", timeout=LIVE_WAIT_MS)
    await bell.click()
    panel = page.get_by_role("region", name="Notifications")
    await expect(panel).to_be_visible()
    await expect(panel.locator("li.notification.unread")).to_contain_text("Call the dentist")

    await panel.get_by_role("button", name="Mark all read").click()
    await expect(page.locator("#unread-count")).to_be_hidden()
    await expect(panel.locator("li.notification.unread")).to_have_count(0)
    async with httpx.AsyncClient(base_url=server.base_url, headers=server.headers) as api:
        unread = (await api.get("/api/notifications", params={"unread_only": "true"})).json()
    assert unread["notifications"] == []


async def test_tasks_are_added_deleted_and_restored_from_the_panel(page, server):
    await sign_in_from_printed_url(page, server)
    tasks = page.locator("#task-list")

    await page.get_by_label("New task").fill("Water the plants")
    await page.get_by_text("Due, priority, tags").click()
    await page.get_by_label("Priority", exact=True).select_option("low")
    await page.get_by_label("Tags").fill("home")
    await page.get_by_role("button", name="Add", exact=True).click()
    row = tasks.locator("li", has_text="Water the plants")
    await expect(row).to_contain_text("Low")
    await expect(row).to_contain_text("#home")

    await page.get_by_role("button", name="Delete “Water the plants”").click()
    await expect(tasks).not_to_contain_text("Water the plants")
    await page.get_by_text("Recently deleted").click()
    await page.get_by_role("button", name="Restore “Water the plants”").click()
    await expect(tasks).to_contain_text("Water the plants")


async def test_keyboard_alone_adds_and_completes_a_task(page, server):
    await sign_in_from_printed_url(page, server)
    await expect(page.get_by_label("Message", exact=True)).to_be_focused()

    new_task = page.get_by_label("New task")
    for _ in range(30):  # past Send and the projects to the new task's field
        await page.keyboard.press("Tab")
        if await new_task.evaluate("node => node === document.activeElement"):
            break
    await expect(new_task).to_be_focused()
    await page.keyboard.type("Renew the passport")
    await page.keyboard.press("Enter")
    checkbox = page.get_by_role("checkbox", name="Renew the passport")
    await expect(checkbox).to_be_visible()

    for _ in range(20):  # through the add form and the filters to the first task
        await page.keyboard.press("Tab")
        if await checkbox.evaluate("node => node === document.activeElement"):
            break
    await expect(checkbox).to_be_focused()
    await page.keyboard.press("Space")
    await expect(page.locator("#task-list")).not_to_contain_text("Renew the passport")
    # Focus stays in the panel rather than falling back to the page.
    await expect(page.get_by_label("New task")).to_be_focused()


async def test_missing_model_shows_how_to_configure_one(browser, server_without_model):
    async with open_page(browser, server_without_model.base_url) as page:
        await sign_in_from_printed_url(page, server_without_model)
        await page.get_by_label("Message", exact=True).fill("hello")
        await page.get_by_role("button", name="Send").click()
        await expect(page.get_by_role("alert")).to_contain_text("No language model is configured")


async def test_narrow_screen_switches_between_chat_and_tasks(browser, server):
    async with open_page(browser, server.base_url, width=390, height=844) as page:
        await sign_in_from_printed_url(page, server)
        await expect(page.get_by_label("Message", exact=True)).to_be_visible()
        await expect(page.get_by_label("New task")).to_be_hidden()

        await page.get_by_role("button", name="Tasks", exact=True).click()
        await expect(page.get_by_label("New task")).to_be_visible()
        await expect(page.get_by_label("Message", exact=True)).to_be_hidden()


async def test_the_calendar_address_is_shown_and_a_new_one_ends_the_old(page, server):
    async with httpx.AsyncClient(headers=server.headers) as http:
        await http.post(
            f"{server.base_url}/api/tasks", json={"title": "Dentist", "due": "2027-03-01T10:00"}
        )
    await sign_in_from_printed_url(page, server)

    await page.locator("#calendar summary").click()
    address = page.get_by_label("Calendar feed address")
    feed_url = re.compile(rf"^{re.escape(server.base_url)}/ical/cal_[\w-]+\.ics$")
    await expect(address).to_have_value(feed_url, timeout=LIVE_WAIT_MS)
    old = await address.input_value()
    webcal = page.get_by_role("link", name="Open in a calendar app")
    await expect(webcal).to_have_attribute("href", old.replace("http://", "webcal://", 1))

    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="New address").click()
    await expect(address).not_to_have_value(old)
    new = await address.input_value()

    async with httpx.AsyncClient() as http:  # as a calendar app: no Authorization header
        assert (await http.get(old)).status_code == 404
        feed = await http.get(new)
    assert feed.status_code == 200 and "SUMMARY:Dentist" in feed.text


async def test_a_page_whose_live_stream_dropped_resumes_it_and_shows_what_it_missed(
    browser, server
):
    """The page reconnects with Last-Event-ID: what happened meanwhile is replayed to it
    (it does not reload its lists for that)."""
    resumed_from: list[str] = []

    def note(request) -> None:
        if "/api/events" in request.url:
            resumed_from.append(request.headers.get("last-event-id", ""))

    async with (
        DroppingProxy(int(server.base_url.rsplit(":", 1)[1])) as proxy,
        open_page(browser, proxy.base_url) as page,
        httpx.AsyncClient(base_url=server.base_url, headers=server.headers) as api,
    ):
        page.on("request", note)
        await page.goto(server.signin_url.replace(server.base_url, proxy.base_url))
        live = page.locator("#live-status")
        await expect(live).to_have_attribute("data-state", "live", timeout=LIVE_WAIT_MS)
        await api.post("/api/tasks", json={"title": "Seen live"})
        await expect(page.locator("#task-list")).to_contain_text("Seen live")

        proxy.drop()
        await api.post("/api/tasks", json={"title": "Added while away"})

        await expect(page.locator("#task-list")).to_contain_text(
            "Added while away", timeout=LIVE_WAIT_MS
        )
    assert len(resumed_from) >= 2
    assert resumed_from[0] == "" and resumed_from[-1] != ""
