"""`mediaindex`: one command, a sub-command per use case. Each sub-command lives in its own module here with a
`register(subparsers)` function; this file only assembles them."""

from __future__ import annotations

import argparse
import importlib
import sys

from mediaindex import __version__
from mediaindex.domain.errors import ConfigurationError, MediaIndexError
from mediaindex.entrypoints.cli.common import UsageError

# In the order `--help` lists them.
COMMANDS = (
    "index", "search", "show", "stats", "duplicates", "watch", "analyze", "people", "faces", "backfill", "reconcile",
    "serve", "invoke", "migrate", "models",
)

EPILOG = """\
Settings come from the environment (MEDIAINDEX_INDEX, MEDIAINDEX_ANALYZER, MEDIAINDEX_HOME, ...; see README) and
can be overridden by options. Every command takes --json for output that scripts can read.

examples:
  mediaindex index ~/Pictures            index a folder with the local models into ~/.mediaindex
  mediaindex search dog --person "Ada"   files with a dog and Ada in them
  mediaindex search --json 'label:dog>=90 AND NOT person:Bob'
"""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with `only`, the one command being run (a search does not import the modules of
    serve, backfill or migrate: a tenth of a second of every `mediaindex search`)."""
    parser = argparse.ArgumentParser(
        prog="mediaindex",
        description="Make images and video searchable by what is in them: objects, scenes, faces, people, text.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mediaindex {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    first = next((w for w in words if not w.startswith("-")), None)
    parser = build_parser(first if first in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"mediaindex: {e}", file=sys.stderr)
        return 2
    except ConfigurationError as e:
        print(f"mediaindex: configuration: {_one_message(e)}", file=sys.stderr)
        return 2
    except MediaIndexError as e:
        print(f"mediaindex: {_one_message(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mediaindex: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `mediaindex search --json | head`: the reader went away; that is not an error worth a traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run(argv: list[str] | None = None) -> None:
    """The `mediaindex` program: `main`, then the process ends without the interpreter's teardown of the loaded
    models (0.25-0.4 s after a command that analysed pictures; entrypoints/fast_exit.py). Tests call `main`."""
    status = main(argv)
    from mediaindex.entrypoints.fast_exit import exit_now

    exit_now(status)


def _one_message(error: Exception) -> str:
    """The message with any name it quotes made safe for a terminal (a query's pointer lines stay lines)."""
    from mediaindex.entrypoints.cli.common import shown

    return "\n".join(shown(line) for line in str(error).split("\n"))


if __name__ == "__main__":
    run()
