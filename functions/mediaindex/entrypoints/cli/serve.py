"""`mediaindex serve`: the search API (described at /openapi.json) and the web gallery, on 127.0.0.1 by default.

Read-only unless --allow-writes: naming clusters, enrolling and forgetting people are refused (403) otherwise.
Only indexed files are served, addressed by document id; a folder file is served only when no symlink lies on
its indexed path, or, with --root, when its real path (symlinks followed) is inside a --root folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mediaindex.config import Settings
from mediaindex.domain.errors import ConfigurationError
from mediaindex.entrypoints.cli.common import UsageError, add_backend_options, settings_from

EXAMPLES = """\
examples:
  mediaindex serve                          http://127.0.0.1:8765/ on the default index
  mediaindex serve --port 9000 --allow-writes   and let the people page name clusters
  mediaindex serve --root ~/Pictures        serve only files under ~/Pictures
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="search API and web gallery in the browser", description=__doc__,
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 shares it on the network)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--allow-writes", action="store_true",
                   help="let the page name clusters, enrol and forget people, and move duplicates to the trash "
                        "(off: read-only)")
    p.add_argument("--root", action="append", type=Path, default=[], metavar="DIR",
                   help="serve files whose real path is under DIR, following symlinks (repeatable; default: any indexed "
                        "file with no symlink on its path)")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="another host name the browser may use to reach this server (DNS rebinding guard)")
    add_backend_options(p)
    p.set_defaults(func=run)


def build_local_api(settings: Settings, roots: list[Path] | None = None, writes: bool = False,
                    index: Any = None, people_factory: Any = "default") -> Any:
    """The API on this machine's settings: the index, folder files (and S3 objects, for documents with a
    bucket), thumbnails cached under MEDIAINDEX_HOME/thumbnails, known people built when first asked for."""
    from mediaindex.adapters.media.folder import FolderMedia
    from mediaindex.adapters.media.thumbnail_cache import home_cache
    from mediaindex.adapters.storage.routing import RoutingMedia
    from mediaindex.api.app import MediaApi
    from mediaindex.bootstrap import build_app

    app = build_app(settings, read_only=True, index=index)
    app.index.ensure_ready()
    # naming faces and enrolling from the gallery need the people feature, whatever the index was built with
    people_app = build_app(settings if settings.has("people") else settings.with_overrides(
        features=(*settings.features, "people")), index=app.index)
    return MediaApi(
        vectors=app.vectors,
        trash_factory=trash_factory(settings, app.index, roots or []) if writes and is_embedded(settings) else None,
        index=app.index,
        media=RoutingMedia(FolderMedia(roots or [])),
        thumbnails=home_cache(settings.home),
        people_factory=(lambda: people_app.people) if people_factory == "default" else people_factory,
        writes=writes,
        max_pixels=settings.max_pixels,
        capabilities=app.capabilities,
        describer_factory=lambda: app.describer,
        vectors_factory=lambda: app.vectors,
    )


def is_embedded(settings: Settings) -> bool:
    """The embedded default (a SQLite file on this machine), where the duplicates' trash works."""
    return settings.resolved_index_url.startswith("sqlite:")


def trash_factory(settings: Settings, index: Any, roots: list[Path]) -> Any:
    """Builds the trash (services/trash.py) when first used: its pipeline (which loads the analyzer to index a
    restored file again) writes to `index`; files are moved by the gallery's rule of what is served."""
    def build() -> Any:
        from mediaindex.adapters.media.folder import FolderMedia
        from mediaindex.bootstrap import build_app
        from mediaindex.services.trash import Trash

        writer = build_app(settings, index=index)
        return Trash(index, writer.pipeline.handle, settings.home / "trash", FolderMedia(roots).path_of)

    return build


def run(args: argparse.Namespace) -> int:
    from mediaindex.api.server import LocalServer, port_error

    if not 0 <= args.port <= 65535:
        raise ConfigurationError(f"--port {args.port}: a port from 0 to 65535")
    for root in args.root:
        if not root.expanduser().is_dir():
            raise ConfigurationError(f"--root {root}: not a folder")
    api = build_local_api(settings_from(args), args.root, args.allow_writes)
    try:
        server = LocalServer(api, args.host, args.port, args.allowed_host)
    except OSError as e:
        message = port_error(e, args.host, args.port)
        if message:
            raise UsageError(message) from None
        raise
    mode = "writes allowed" if args.allow_writes else "read-only"
    print(f"mediaindex: serving {server.url} ({mode}; API description at {server.url}openapi.json); Ctrl-C stops",
          file=sys.stderr, flush=True)
    server.serve_forever()
    return 0
