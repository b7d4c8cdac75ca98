"""Containers as `pyengine` users see them: option parsing with Docker's rules and messages,
names and ids, status text, and the records the engine keeps on disk."""
