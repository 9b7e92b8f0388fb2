"""The agent: a streaming Chat Completions loop over MCP tools; it knows MCP and the LLM,
not the database."""
