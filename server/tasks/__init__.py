"""Tasks: the model, validation, due-date parsing, recurrence and the task service."""
