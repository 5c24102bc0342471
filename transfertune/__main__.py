"""``python -m transfertune COMMAND ...``: the console script."""

import sys

from transfertune.cli import main

sys.exit(main())
