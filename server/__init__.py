"""todo-agent: the HTTP service, domain services, storage, events and workers."""
