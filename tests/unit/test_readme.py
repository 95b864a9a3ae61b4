"""The README tells a new user the truth: every setting config.py reads and every CLI command are in it."""

from __future__ import annotations

import re
from pathlib import Path

from mediaindex import config
from mediaindex.entrypoints.cli import build_parser

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme():
    settings = set(re.findall(r"MEDIAINDEX_[A-Z_]+", Path(config.__file__).read_text(encoding="utf-8")))
    assert len(settings) > 20
    assert sorted(name for name in settings if name not in README) == []


def test_every_cli_command_is_in_the_readme():
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"index", "search", "serve"} <= set(commands)
    assert sorted(name for name in commands if f"mediaindex {name}" not in README) == []


def test_a_command_builds_only_its_own_parser_and_every_command_exists():
    """`mediaindex search` imports the search command alone; a command listed without its module is an error, not
    silently left out."""
    from mediaindex.entrypoints.cli import COMMANDS

    only = build_parser("search")._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert list(only) == ["search"]
    every = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert list(every) == list(COMMANDS)
