"""What every sub-command shares: the backend options, settings assembly and JSON/human output."""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from pathlib import Path
from typing import Any, Callable

from mediaindex.config import Settings
from mediaindex.domain.document import storable_text
from mediaindex.domain.errors import ConfigurationError


class UsageError(ConfigurationError):
    """A command that cannot run as written (a query it cannot read, a port that is taken): exit status 2 like a
    configuration problem, but told as what it is."""


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("backends (default: from MEDIAINDEX_* variables)")
    g.add_argument("--index", dest="index_url", metavar="URL", help="sqlite:///PATH or an http(s):// OpenSearch URL")
    g.add_argument("--index-name", metavar="NAME", help="OpenSearch index alias / SQLite table prefix (default media)")
    g.add_argument("--analyzer", choices=("local", "rekognition"), help="who analyses the pictures (default local)")
    g.add_argument("--home", type=Path, metavar="DIR", help="where the embedded default keeps its files")
    g.add_argument("--json", action="store_true", help="print JSON for scripts instead of text")


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env().with_overrides(
        index_url=getattr(args, "index_url", None),
        index_name=getattr(args, "index_name", None),
        analyzer=getattr(args, "analyzer", None),
        home=getattr(args, "home", None),
    )


def app_from(args: argparse.Namespace, read_only: bool = False, settings: Settings | None = None) -> Any:
    """The wired application (bootstrap.build_app) for a command's options. Read-only commands never create an
    index: a mistyped path is an error, not a new empty index."""
    from mediaindex.bootstrap import build_app

    return build_app(settings or settings_from(args), read_only=read_only)


def print_json(value: Any) -> None:
    # always valid JSON in UTF-8: names whose bytes are not UTF-8 carry \xNN (json.dump escapes control characters)
    json.dump(storable(value), sys.stdout, ensure_ascii=False, indent=2, default=lambda v: storable_text(str(v)))
    sys.stdout.write("\n")


def storable(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    return value


# bidirectional overrides and isolates: they make a name read differently on a terminal than it is
_BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}


def shown(text: Any) -> str:
    """A name (or a message quoting one) safe to print on a terminal: control characters (ESC sequences, newlines,
    bells), bidi overrides and bytes that are not UTF-8 are written as escapes, so a file name cannot rewrite the
    screen, split a line or pretend to be another name."""
    out = []
    for c in storable_text(str(text)):
        if c in _BIDI or unicodedata.category(c) == "Cc":
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


def add_action(actions: argparse._SubParsersAction, name: str, run: Callable[[argparse.Namespace], int],
               **parser_options: Any) -> argparse.ArgumentParser:
    """One ACTION of a command (`people add`, `faces hide`): its parser, with the description and examples kept as
    written, and the function that runs it."""
    parser = actions.add_parser(name, formatter_class=argparse.RawDescriptionHelpFormatter, **parser_options)
    parser.set_defaults(func=run)
    return parser


def print_result(args: argparse.Namespace, result: dict[str, Any], text: Callable[[dict[str, Any]], str]) -> None:
    """A use case's result: as JSON with --json, else the line `text` makes of it."""
    if args.json:
        print_json(result)
    else:
        print(text(result))
