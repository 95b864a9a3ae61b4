"""`python -m mediaindex` is the `mediaindex` command."""

import sys

from mediaindex.entrypoints.cli import main

sys.exit(main())
