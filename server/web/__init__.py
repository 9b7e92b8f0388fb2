"""The web chat page served at `/`: static HTML, CSS and JS, no build step."""
