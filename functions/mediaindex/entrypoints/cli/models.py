"""`mediaindex models`: the CLIP models search by description can use on one machine, installed only when asked.

No image-text model ships inside a package: `models install NAME` fetches one (on a machine with internet) into
MEDIAINDEX_MODELS_DIR/clip/NAME, checking each file's SHA-256; then MEDIAINDEX_DESCRIPTIONS=clip:NAME turns search by
description on. A folder of the same layout (visual.onnx, textual.onnx, tokenizer.json) put there by hand works too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mediaindex.entrypoints.cli.common import add_action, print_json, settings_from

EPILOG = """\
examples:
  mediaindex models list                                   what can be installed, and what is
  mediaindex models install openclip-vit-b-32 --models-dir ~/.mediaindex/models --accept-unpinned
  MEDIAINDEX_MODELS_DIR=~/.mediaindex/models MEDIAINDEX_DESCRIPTIONS=clip:openclip-vit-b-32 mediaindex index ~/Pictures
  mediaindex models remove openclip-vit-b-32
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="install the CLIP model of search by description (nothing downloaded unless "
                                      "asked)", description=__doc__, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = add_action(actions, "list", run_list, help="the models that can be installed, and those installed")
    install = add_action(actions, "install", run_install, help="download a model into MEDIAINDEX_MODELS_DIR")
    install.add_argument("name", metavar="NAME", help="a model of `mediaindex models list`")
    install.add_argument("--force", action="store_true", help="download again even when installed")
    install.add_argument("--accept-unpinned", action="store_true",
                         help="install files this version pins no SHA-256 for, recording the SHA-256 fetched")
    remove = add_action(actions, "remove", run_remove, help="delete an installed model's folder")
    remove.add_argument("name", metavar="NAME")
    for parser in (listing, install, remove):
        parser.add_argument("--models-dir", type=Path, metavar="DIR",
                            help="where models go (default: MEDIAINDEX_MODELS_DIR)")
        parser.add_argument("--json", action="store_true", help="print JSON for scripts")


def _models_dir(args: argparse.Namespace) -> Path | None:
    return args.models_dir.expanduser() if args.models_dir else settings_from(args).models_dir


def run_list(args: argparse.Namespace) -> int:
    from mediaindex.adapters.embeddings import registry

    rows = registry.listing(_models_dir(args))
    if args.json:
        print_json({"models_dir": str(_models_dir(args) or ""), "models": rows})
        return 0
    for row in rows:
        state = f"installed in {row['path']}" if row["installed"] else "not installed"
        pinned = "" if row["pinned"] or row["description"] == "placed by hand" else " (no SHA-256 pinned)"
        print(f"{row['name']}: {row['description']}{pinned}; {state}")
    if _models_dir(args) is None:
        print("MEDIAINDEX_MODELS_DIR is not set: models are installed there (or give --models-dir)")
    return 0


def run_install(args: argparse.Namespace) -> int:
    from mediaindex.adapters.embeddings import registry

    shown: dict[str, int] = {}

    def progress(name: str, done: int) -> None:
        if args.json or not sys.stderr.isatty():
            return
        step = done // (16 << 20)
        if shown.get(name) != step:
            shown[name] = step
            print(f"\r{name}: {done / 1e6:.0f} MB", end="", file=sys.stderr, flush=True)

    result: dict[str, Any] = registry.install(args.name, _models_dir(args), force=args.force,
                                              accept_unpinned=args.accept_unpinned, progress=progress)
    if shown:
        print(file=sys.stderr)
    if args.json:
        print_json(result)
        return 0
    print(f"{result['name']} {'already installed' if result['already'] else 'installed'} in {result['path']}")
    for name, digest in result["files"].items():
        note = "  (not pinned by this version: compare with the publisher's)" if name in result["unpinned"] else ""
        print(f"  {name}  sha256:{digest}{note}")
    print(f"turn it on: MEDIAINDEX_DESCRIPTIONS=clip:{result['name']}, then `mediaindex index PATH` embeds the "
          "pictures already indexed")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from mediaindex.adapters.embeddings import registry

    removed = registry.remove(args.name, _models_dir(args))
    if args.json:
        print_json({"name": args.name, "removed": removed})
    else:
        print(f"{args.name}: {'removed' if removed else 'not installed'}")
    return 0 if removed else 1
