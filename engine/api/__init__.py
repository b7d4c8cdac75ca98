"""The Docker Engine API over the engine's service seam: `pyengine system service`."""
