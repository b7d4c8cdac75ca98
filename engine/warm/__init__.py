"""The warm process: one process per run root that has imported the engine's command line and
the CNI plugin, and forks a worker for each `pyengine` command and `pybridge` call handed to it
(protocol: how a client hands itself over; client: the console scripts' side; caller: what the
server takes from the client; forkserver: the server; programs: what a worker runs)."""
