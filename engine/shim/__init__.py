"""pyshim: one small process per container between the engine and the OCI runtime.

The process side only; the engine talks to it through engine/tasks/ over the socket protocol,
and both sides share the contract in engine/shimapi/ (flags, file layout, exit record, errors).
"""
