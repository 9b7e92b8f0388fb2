"""Activity: what changed in a user's tasks and projects, field by field, kept for a while."""
