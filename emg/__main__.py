"""``python -m emg`` runs the command line, like the ``emg`` console script."""

import sys

from .cli import main

sys.exit(main())
