"""Name resolution on user networks, daemonless: one small DNS server per network, on the
bridge's gateway address (as Podman's aardvark-dns), answering A, AAAA and PTR from the
network's records (`records.py`, written by the engine as containers come and go) and
forwarding every other question to the host's resolvers (`server.py`). It imports nothing of
the engine's other packages: the engine starts it with its sockets already bound."""
