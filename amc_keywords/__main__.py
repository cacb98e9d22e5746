"""``python -m amc_keywords ...``: the same as the ``amc-keywords`` console script."""
import sys

from amc_keywords.cli import main

if __name__ == "__main__":
    sys.exit(main())
