"""The engine's side of its shims: start them (through the zygote or by exec), speak their socket
protocol, stop them, find and reattach to them after a restart."""
