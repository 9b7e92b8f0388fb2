"""The calendar routes: the feed URL in `/api/calendar`, rotation ending the old URL, a
plain 404 for any other key, and throttled feed requests."""

from __future__ import annotations

from icalendar import Calendar

from tests.utils.factories import make_task


async def feed_url(client, account) -> str:
    response = await client.get("/api/calendar", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()["feed_url"]


async def test_the_feed_url_is_shown_and_serves_the_users_feed_without_a_header(
    client, services, alice
):
    await make_task(services, alice.user, "Pay rent", due="2027-03-01T10:00")

    shown = (await client.get("/api/calendar", headers=alice.headers)).json()
    again = await feed_url(client, alice)
    feed = await client.get(shown["feed_url"])  # calendar apps send no Authorization

    assert shown["feed_url"].startswith("http://testserver/ical/cal_")
    assert shown["feed_url"].endswith(".ics") and again == shown["feed_url"]
    assert shown["webcal_url"] == shown["feed_url"].replace("http://", "webcal://", 1)
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "private" in feed.headers["cache-control"]
    events = Calendar.from_ical(feed.content).walk("VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["Pay rent"]


async def test_rotating_ends_the_old_url(client, alice):
    old = await feed_url(client, alice)

    rotated = await client.post("/api/calendar/rotate", headers=alice.headers)
    new = rotated.json()["feed_url"]

    assert rotated.status_code == 200 and new != old
    assert await feed_url(client, alice) == new
    assert (await client.get(old)).status_code == 404
    assert (await client.get(new)).status_code == 200


async def test_unknown_and_malformed_keys_are_a_plain_404(client, alice):
    real = await feed_url(client, alice)
    key = real.rsplit("/", 1)[1].removesuffix(".ics")

    for path in (
        "/ical/cal_nothing-like-a-key.ics",
        f"/ical/{key[:-1]}.ics",
        f"/ical/{key}x.ics",
        f"/ical/{key.upper()}.ics",
        "/ical/" + "a" * 300 + ".ics",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["message"] == "not found"


async def test_each_user_gets_their_own_feed(client, services, alice, bob):
    await make_task(services, alice.user, "Alice's", due="2027-03-01T10:00")
    await make_task(services, bob.user, "Bob's", due="2027-03-01T10:00")

    alices = Calendar.from_ical((await client.get(await feed_url(client, alice))).content)
    bobs = Calendar.from_ical((await client.get(await feed_url(client, bob))).content)

    assert [str(e["SUMMARY"]) for e in alices.walk("VEVENT")] == ["Alice's"]
    assert [str(e["SUMMARY"]) for e in bobs.walk("VEVENT")] == ["Bob's"]
    assert (await client.get("/api/calendar")).status_code == 401
    assert (await client.post("/api/calendar/rotate")).status_code == 401


async def test_feed_requests_are_throttled_per_key_and_per_address(client, alice):
    url = await feed_url(client, alice)

    by_key = [(await client.get(url)).status_code for _ in range(21)]
    guesses = [(await client.get(f"/ical/cal_guess{n}.ics")).status_code for n in range(10)]

    assert by_key == [200] * 20 + [429]
    # The address has made 31 requests: its guesses are refused before any key is tried.
    assert guesses == [404] * 9 + [429]
    refused = await client.get(url)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limited"
