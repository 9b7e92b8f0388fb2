"""Notifications: stored alerts for a user, read state and email delivery."""
