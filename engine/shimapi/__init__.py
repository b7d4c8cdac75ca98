"""The contract between the shim process (engine/shim) and the engine's task client (engine/tasks):
the shim's flags, its state directory's layout, the exit and proxy records, the error kinds on the
wire, and what tells a live shim from a dead one."""
