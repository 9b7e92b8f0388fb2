"""Projects: the lists a user's tasks live in (every user has an Inbox)."""
