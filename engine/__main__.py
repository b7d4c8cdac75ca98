"""`python -m engine` is `pyengine`."""

import sys

from engine.cli import main

sys.exit(main())
