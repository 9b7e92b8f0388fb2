"""The MCP server: todo-agent's task and notification tools for any MCP client."""
