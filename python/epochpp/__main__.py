"""`python -m epochpp ...`: the same command line as the `epochpp` console script."""

import sys

from epochpp.cli import main

if __name__ == "__main__":
    sys.exit(main())
