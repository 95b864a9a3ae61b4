"""The shells the CLI actions share (entrypoints/cli/common.py): declaring an action, printing its result."""

from __future__ import annotations

import argparse
import json

from mediaindex.entrypoints.cli.common import add_action, print_result


def test_an_action_runs_its_function_and_keeps_its_examples_as_written(capsys):
    parser = argparse.ArgumentParser(prog="mediaindex")
    actions = parser.add_subparsers(dest="command")
    action = add_action(actions, "greet", lambda args: 7, help="say hello", epilog="examples:\n  one\n  two")
    action.add_argument("name")
    args = parser.parse_args(["greet", "Ada"])
    assert args.func(args) == 7 and args.name == "Ada"
    assert "examples:\n  one\n  two" in action.format_help()


def test_a_result_prints_as_json_or_as_its_line(capsys):
    print_result(argparse.Namespace(json=True), {"moved": 2}, lambda r: f"{r['moved']} moved")
    assert json.loads(capsys.readouterr().out) == {"moved": 2}
    print_result(argparse.Namespace(json=False), {"moved": 2}, lambda r: f"{r['moved']} moved")
    assert capsys.readouterr().out == "2 moved\n"
