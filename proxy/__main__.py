"""`python -m proxy` is `pyproxy`."""

from proxy.cli import main

main()
