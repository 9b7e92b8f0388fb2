"""The iCalendar feed, parsed back by `icalendar` event by event: timed, all-day and
recurring tasks in the user's timezone, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import Calendar

from tests.utils.factories import make_task

PARIS = ZoneInfo("Europe/Paris")


async def feed_of(services, account) -> Calendar:
    key = await services.calendar.feed_key(user=account.user)
    return Calendar.from_ical(await services.calendar.feed(key=key))


def events_by_title(calendar: Calendar) -> dict[str, object]:
    return {str(event["SUMMARY"]): event for event in calendar.walk("VEVENT")}


def occurrences(event, count: int) -> list[datetime]:
    """The first occurrences of an event, as a calendar app expands them."""
    start = event.decoded("DTSTART")
    rule = event["RRULE"].to_ical().decode()
    return list(rrulestr(rule, dtstart=start))[:count]


async def test_the_feed_holds_the_open_dated_tasks_only(services, alice, bob):
    await make_task(services, alice.user, "Pay rent", due="2027-03-01T10:00")
    done = await make_task(services, alice.user, "Done already", due="2027-03-02T10:00")
    await services.tasks.complete_task(user=alice.user, task_id=done.id)
    gone = await make_task(services, alice.user, "Deleted", due="2027-03-03T10:00")
    await services.tasks.delete_task(user=alice.user, task_id=gone.id)
    await make_task(services, alice.user, "Someday")
    await make_task(services, bob.user, "Bob's", due="2027-03-01T10:00")

    calendar = await feed_of(services, alice)

    assert list(events_by_title(calendar)) == ["Pay rent"]
    assert str(calendar["X-WR-CALNAME"]) == "todo-agent: alice"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]


async def test_timed_tasks_keep_their_moment_on_both_sides_of_a_dst_change(services, alice):
    # Paris leaves summer time on 31 October 2027 (UTC+2 -> UTC+1).
    before = await make_task(services, alice.user, "Dentist", due="2027-10-30T15:30")
    after = await make_task(services, alice.user, "Barber", due="2027-11-02T15:30")

    events = events_by_title(await feed_of(services, alice))

    for task, utc_hour in ((before, 13), (after, 14)):
        event = events[task.title]
        start = event.decoded("DTSTART")
        assert event["DTSTART"].params["TZID"] == "Europe/Paris"
        assert (start.hour, start.minute) == (15, 30)
        assert start == task.due and task.due.hour == utc_hour
        assert str(event["UID"]) == f"task-{task.id}@todo-agent"
        assert "DTEND" not in event and "RRULE" not in event


async def test_a_recurring_task_keeps_its_local_time_across_dst_as_its_next_occurrence_does(
    services, alice
):
    # Paris starts summer time on 28 March 2027: the second Monday is UTC+2.
    task = await make_task(
        services, alice.user, "Standup", due="2027-03-22T09:00", recurrence="FREQ=WEEKLY;BYDAY=MO"
    )

    event = events_by_title(await feed_of(services, alice))["Standup"]
    first, second = occurrences(event, 2)
    completion = await services.tasks.complete_task(user=alice.user, task_id=task.id)

    assert event["RRULE"].to_ical() == b"FREQ=WEEKLY;BYDAY=MO"
    assert first == datetime(2027, 3, 22, 9, 0, tzinfo=PARIS) == task.due
    assert second == datetime(2027, 3, 29, 9, 0, tzinfo=PARIS)
    assert second.utcoffset() == timedelta(hours=2) and first.utcoffset() == timedelta(hours=1)
    # The calendar shows the occurrence that completing the task really creates.
    assert completion.next_occurrence.due == second.astimezone(UTC)
    # ... and after the completion the feed moves on to it.
    moved = events_by_title(await feed_of(services, alice))["Standup"]
    assert moved.decoded("DTSTART") == second
    assert str(moved["UID"]) == f"task-{completion.next_occurrence.id}@todo-agent"


async def test_a_due_at_local_midnight_is_an_all_day_event(services, alice):
    await make_task(
        services,
        alice.user,
        "Mum's birthday",
        due="2027-05-04",
        recurrence="yearly",
        tags=["family"],
    )
    await make_task(services, alice.user, "Just after midnight", due="2027-05-04T00:01")

    events = events_by_title(await feed_of(services, alice))

    birthday = events["Mum's birthday"]
    assert birthday.decoded("DTSTART") == date(2027, 5, 4)
    assert birthday.decoded("DTEND") == date(2027, 5, 5)
    assert birthday["DTSTART"].params["VALUE"] == "DATE"
    assert occurrences(birthday, 2) == [datetime(2027, 5, 4), datetime(2028, 5, 4)]
    assert [str(c) for c in birthday["CATEGORIES"].cats] == ["family"]
    timed = events["Just after midnight"].decoded("DTSTART")
    assert timed == datetime(2027, 5, 4, 0, 1, tzinfo=PARIS)


async def test_priority_description_and_tags_are_carried(services, alice):
    await make_task(
        services,
        alice.user,
        "File taxes",
        due="2027-04-15T18:00",
        description="Form 2042",
        priority="high",
        tags=["admin", "money"],
    )

    event = events_by_title(await feed_of(services, alice))["File taxes"]

    assert event.decoded("PRIORITY") == 1
    assert str(event["DESCRIPTION"]) == "Form 2042\nPriority: high\nTags: admin, money"
    assert str(event["TRANSP"]) == "TRANSPARENT"
