"""Background workers: outbox relay, deadline scheduler, event consumers and retention."""
