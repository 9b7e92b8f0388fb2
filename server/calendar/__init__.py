"""The calendar feed: a user's open dated tasks as an iCalendar (RFC 5545) feed."""
