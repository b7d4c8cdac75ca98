"""The container lifecycle with Docker's semantics, over three seams: images, networks, tasks."""
