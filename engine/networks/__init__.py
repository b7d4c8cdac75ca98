"""The engine's networks service: bridge networks as the CLI and the API server ask for them
(typed requests in, plain results out, errors of the engine's kinds), over bridge's Driver."""
