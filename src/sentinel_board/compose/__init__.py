"""The Docker Compose deployment (compose.yaml), run for real: an engine, images, a project."""
