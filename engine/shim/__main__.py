"""`python -m engine.shim` is `pyshim`."""

import sys

from engine.shim.cli import main

sys.exit(main())
