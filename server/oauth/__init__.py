"""OAuth 2.1 for remote MCP connectors: todo-agent is the authorization server of its /mcp."""
