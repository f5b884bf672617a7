"""`make chaos`: `python -m tests.chaos [MINUTES] [SEED]` runs the chaos harness for minutes and prints its figures."""

import sys

from tests.chaos.harness import main

sys.exit(main(sys.argv[1:]))
