"""Chat conversations and their stored messages."""
