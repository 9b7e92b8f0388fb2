"""Comments appended to a task."""
