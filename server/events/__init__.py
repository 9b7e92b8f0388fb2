"""Events: the transactional outbox, CloudEvents envelopes and the event bus."""
