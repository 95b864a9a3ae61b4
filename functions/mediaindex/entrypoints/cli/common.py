"""What every sub-command shares: the backend options, settings assembly and JSON/human output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mediaindex.config import Settings
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


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
