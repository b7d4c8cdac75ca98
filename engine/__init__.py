"""The container engine: OCI runtime client, per-container shim and the pyengine CLI."""
