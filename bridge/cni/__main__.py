"""`python -m bridge.cni`: the plugin, as the `pybridge` console script runs it."""

import sys

from bridge.cni import main

sys.exit(main())
