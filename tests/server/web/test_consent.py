"""Remote sign-in in a real browser: the MCP SDK's OAuth client sends the user to the
consent page of `todo-agent serve`, where they sign in, approve or deny; then the app shows
under Connected apps and can be revoked there."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import httpx
from mcp.shared.auth import AuthorizationCodeResult
from playwright.async_api import Page, expect

from tests.server.oauth.helpers import assert_unauthorized_mcp, mcp_post
from tests.server.web.helpers import open_page
from tests.utils.mcp import call
from tests.utils.oauth import CALLBACK, MemoryStorage, connector, oauth_mcp_client, redirect_params

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636's example S256 digest


async def land_on_callback(page: Page) -> None:
    """The app's redirect URI answers like an app would; the test reads the URL."""
    await page.route(
        CALLBACK + "**",
        lambda route: route.fulfill(status=200, body="Signed in.", content_type="text/plain"),
    )


async def test_connector_is_approved_on_the_consent_page_then_revoked_in_the_web_page(
    browser, server_without_model
):
    server = server_without_model
    async with open_page(browser, server.base_url, also_allowed=(CALLBACK,)) as page:
        await land_on_callback(page)
        landed: list[str] = []

        async def approve_in_browser(url: str) -> None:
            await page.goto(url)
            # Not signed in yet in this browser: sign in first, then the question.
            await page.get_by_label("API token").fill(server.token)
            await page.get_by_role("button", name="Sign in").click()
            consent = page.get_by_role("region", name=re.compile("wants to use your tasks"))
            await expect(consent).to_contain_text("Browser connector wants to use your tasks")
            await expect(consent).to_contain_text("Signed in as me")
            await expect(consent).to_contain_text("go back to 127.0.0.1:9")
            await consent.get_by_role("button", name="Approve").click()
            await page.wait_for_url(CALLBACK + "?**")
            landed.append(page.url)

        async def callback() -> AuthorizationCodeResult:
            params = redirect_params(landed[-1])
            return AuthorizationCodeResult(
                code=params["code"], state=params["state"], iss=params["iss"]
            )

        storage = MemoryStorage()
        auth = connector(
            server.base_url,
            (approve_in_browser, callback),
            storage=storage,
            name="Browser connector",
        )
        async with oauth_mcp_client(server.base_url, auth) as client:
            await call(client, "add_task", title="Plan the trip")
        assert len(landed) == 1

        await page.goto(f"{server.base_url}/")
        await expect(page.locator("#task-list")).to_contain_text("Plan the trip")
        await page.get_by_role("button", name="Connected apps").click()
        panel = page.get_by_role("region", name="Connected apps")
        await expect(panel).to_contain_text("Browser connector")
        await expect(panel).to_contain_text("Last used")
        await expect(panel).to_contain_text(f"{server.base_url}/mcp")

        await panel.get_by_role("button", name="Revoke “Browser connector”").click()

        await expect(panel).to_contain_text("No apps are connected.")
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            assert_unauthorized_mcp(await mcp_post(http, storage.tokens.access_token))


async def test_deny_sends_access_denied_back_and_connects_nothing(browser, server_without_model):
    server = server_without_model
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        registered = await http.post(
            "/oauth/register", json={"client_name": "Nosy app", "redirect_uris": [CALLBACK]}
        )
    query = {
        "response_type": "code",
        "client_id": registered.json()["client_id"],
        "redirect_uri": CALLBACK,
        "state": "xyz",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    async with open_page(browser, server.base_url, also_allowed=(CALLBACK,)) as page:
        await land_on_callback(page)
        await page.goto(server.signin_url)  # signed in already: straight to the question
        await expect(page.locator("#app")).to_be_visible()

        await page.goto(f"{server.base_url}/oauth/authorize?{urlencode(query)}")
        consent = page.get_by_role("region", name=re.compile("wants to use your tasks"))
        await expect(consent).to_contain_text("Nosy app wants to use your tasks")
        await consent.get_by_role("button", name="Deny").click()
        await page.wait_for_url(CALLBACK + "?**")

        params = redirect_params(page.url)
        assert params["error"] == "access_denied"
        assert params["state"] == "xyz" and params["iss"] == server.base_url
        assert "code" not in params
    async with httpx.AsyncClient(base_url=server.base_url, headers=server.headers) as http:
        assert (await http.get("/api/oauth/grants")).json() == {"grants": []}
