"""`python -m engine.shim` is `pyshim`."""

import sys

from engine.shim import main

sys.exit(main())
