"""`mediaindex duplicates`: copies of one shot (same bytes, near-identical, edited copy) in groups, each with the
suggested one to keep (largest, then sharpest, then oldest), ordered by what a clean-up frees. Only lists, unless
--trash: then every copy but the keeper is moved into MEDIAINDEX_HOME/trash/<batch>/ (never deleted) and out of the
index; --restore BATCH moves them back and indexes them again. --similar lists similar shots (bursts) apart: they
are never moved.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mediaindex.entrypoints.cli.common import UsageError, add_backend_options, app_from, print_json, shown

EPILOG = """\
examples:
  mediaindex duplicates                       the groups, the keeper marked, and what a clean-up frees
  mediaindex duplicates --json | jq '.groups[].files[].key'
  mediaindex duplicates --similar             bursts and the same scene twice, apart from copies
  mediaindex duplicates --trash               move every copy but the keeper to the trash (asks first)
  mediaindex duplicates --restore 20261207-121500-3fa9c1    move a batch back and index it again
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("duplicates", help="copies to clean up (resized, re-encoded, edited), the keeper suggested",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--similar", action="store_true", help="also list groups of similar shots (never moved)")
    p.add_argument("--trash", action="store_true",
                   help="move every copy but the suggested keeper into MEDIAINDEX_HOME/trash (restorable)")
    p.add_argument("--yes", action="store_true", help="with --trash: do not ask for confirmation")
    p.add_argument("--restore", metavar="BATCH", help="move a trash batch's files back and index them again")
    add_backend_options(p)
    p.set_defaults(func=run)


def trash_of(app: Any) -> Any:
    from mediaindex.adapters.media.folder import FolderMedia
    from mediaindex.services.trash import Trash

    if not app.settings.resolved_index_url.startswith("sqlite:"):
        raise UsageError("duplicates: the trash works on this machine's embedded index only")
    return Trash(app.index, app.pipeline.handle, app.settings.home / "trash", FolderMedia().path_of)


def run(args: argparse.Namespace) -> int:
    from mediaindex.services.look_alikes import find_duplicates

    if args.restore and args.trash:
        raise UsageError("duplicates: --trash or --restore, not both")
    writing = bool(args.trash or args.restore)
    app = app_from(args, read_only=not writing)
    app.index.ensure_ready()
    if args.restore:
        result = trash_of(app).restore(args.restore)
        if args.json:
            print_json(result)
        else:
            print(f"restored {result['restored']} file{'s' if result['restored'] != 1 else ''} of {args.restore}")
        return 0
    report = find_duplicates(app.index, app.vectors, args.similar)
    out = report.to_dict(args.similar)
    if not args.trash:
        if args.json:
            print_json(out)
        else:
            print(describe(out, app.vectors is not None))
        return 0
    ids = [f["id"] for g in out["groups"] for f in g["files"] if not f["keep"]]
    if not ids:
        print_json({"moved": 0}) if args.json else print("no copies to move")
        return 0
    if not args.json:
        print(describe(out, app.vectors is not None))
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("duplicates --trash: confirm with --yes when not at a terminal")
        answer = input(f"move {len(ids)} cop{'ies' if len(ids) != 1 else 'y'} ({size(out['reclaimable_bytes'])}) "
                       f"to {app.settings.home / 'trash'}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing moved")
            return 1
    result = trash_of(app).move(ids)
    restore = f"mediaindex duplicates --restore {result['batch']}"
    if args.json:
        print_json({**result, "restore": restore})
    else:
        print(f"moved {result['moved']} file{'s' if result['moved'] != 1 else ''} ({size(result['bytes'])}) to "
              f"{app.settings.home / 'trash' / result['batch']}; undo with: {restore}")
    return 0


def size(n: int) -> str:
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} bytes"


def describe(out: dict[str, Any], look_alikes: bool = True) -> str:
    lines = []
    for n, group in enumerate(out["groups"], 1):
        lines.append(f"group {n}: {size(group['reclaimable_bytes'])} to free")
        for f in group["files"]:
            mark = "keep " if f["keep"] else "     "
            why = "" if f["keep"] else f"  ({f.get('reason', 'copy')}"
            if not f["keep"] and f.get("similarity") is not None:
                why += f", similarity {f['similarity']:.2f}"
            why += ")" if why else ""
            lines.append(f"  {mark} {shown(f['key'])}  {size(f['size'])}, {f['pixels']:,} px{why}")
    for n, group in enumerate(out.get("similar") or [], 1):
        lines.append(f"similar {n} (not copies: never moved):")
        lines += [f"        {shown(f['key'])}  {size(f['size'])}" for f in group["files"]]
    groups = len(out["groups"])
    lines.append(f"-- {groups} group{'s' if groups != 1 else ''} of copies among {out['files']} files; "
                 f"{size(out['reclaimable_bytes'])} reclaimable" + ("; `--trash` moves the copies" if groups else ""))
    if not look_alikes:
        lines.append("(same bytes only: edited copies need the local analyzer's look vectors)")
    elif out.get("files_without_vector"):
        lines.append(f"({out['files_without_vector']} files have no look vector: too small or blank, or indexed "
                     "before look-alikes: run index again)")
    return "\n".join(lines)
