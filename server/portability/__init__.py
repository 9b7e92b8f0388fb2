"""Moving in and out: a user's account as versioned JSON, and imports of it or a Todoist CSV."""
