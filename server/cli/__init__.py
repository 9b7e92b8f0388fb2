"""The `todo-agent` command line: one module per group of commands, `main` in main.py."""

from server.cli.main import main

__all__ = ["main"]
