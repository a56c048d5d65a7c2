"""``python -m gridgames`` runs the command line."""
import sys

from gridgames.cli import main

if __name__ == "__main__":  # not on import (Sphinx autosummary imports every module)
    sys.exit(main())
