"""Background workers: outbox relay, deadline scheduler and event consumers."""
