"""The HTTP edge: one module of routes per domain (tasks and their comments, projects,
activity and what next, notifications, conversations and the chat, events, users), health
and metrics, and what every route shares (deps, errors)."""
