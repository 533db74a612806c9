"""``python -m sim``: the ``sandbox`` command without the console script."""

import sys

from sim.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
