"""pyproxy: a drop-in replacement for docker-proxy (a leaf package: imports nothing of ours).

The process boundary is docker-proxy's: Go-style flags, readiness on fd 3, an optional pre-bound
listening socket on fd 4, SIGINT/SIGTERM exit 0. Beyond it, one process can serve many mappings.
"""

__version__ = "0.1.0"
