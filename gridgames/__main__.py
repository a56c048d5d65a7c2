"""``python -m gridgames`` runs the command line."""
import sys

from gridgames.cli import main

sys.exit(main())
