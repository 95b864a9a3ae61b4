"""`python -m mediaindex` is the `mediaindex` command."""

from mediaindex.entrypoints.cli import run

run()
