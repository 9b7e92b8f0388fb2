"""What every HTTP route shares: dependencies, the error envelope, health and metrics."""
