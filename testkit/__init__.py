"""Real parts that the tests and the benchmarks both run: a scripted OpenAI-compatible
provider, PostgreSQL (pgserver), a Kafka-compatible broker (Tansu), an SMTP server, and
uvicorn on a free port. Not shipped with the package."""
