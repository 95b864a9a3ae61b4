"""`mediaindex migrate`: how long copying an embedded index into OpenSearch takes.

    python bench/bench_migrate.py --docs 100000 --faces 100000 [--json FILE]

Builds a SQLite index of --docs generated documents (tests/index/corpus.py, every status) and a faces.db with
--faces remembered SFace vectors and 100 enrolled faces, then runs the migrate use case into osmem-server (started
here, an in-memory OpenSearch-compatible server) through opensearch-py, as the command does: bulk batches, a
checkpoint after each, the count check at the end. The target is a local in-memory server sharing the machine's
cores, so this measures the copy's own cost (reading SQLite, JSON, bulk requests); a managed domain adds the
network and its own indexing (docs/scale.md).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from mediaindex.adapters.checkpoint.file import StateFile  # noqa: E402
from mediaindex.adapters.export.local_faces import LocalFaceVectorFile  # noqa: E402
from mediaindex.adapters.faces.local import LocalFaceCollection  # noqa: E402
from mediaindex.adapters.index.opensearch import OpenSearchIndex  # noqa: E402
from mediaindex.adapters.index.sqlite import SqliteIndex  # noqa: E402
from mediaindex.config import Settings  # noqa: E402
from mediaindex.domain.face_vectors import SFACE  # noqa: E402
from mediaindex.domain.model import Box  # noqa: E402
from mediaindex.services.migrate import Migration  # noqa: E402
from tests.index.corpus import random_doc  # noqa: E402


def build_source(workdir: Path, docs: int, faces: int) -> tuple[SqliteIndex, Path, float]:
    started = time.perf_counter()
    rng = random.Random(42)
    index = SqliteIndex(str(workdir / "index.db"))
    index.ensure_ready()
    index.put_many(random_doc(rng, n) for n in range(docs))
    collection = LocalFaceCollection(Settings(home=workdir), path=workdir / "faces.db", space=SFACE)
    vrng = random.Random(7)
    collection.import_faces((f"content-{n // 2}", n % 2, Box(0.1, 0.1, 0.2, 0.2), [vrng.gauss(0, 1) for _ in range(128)])
                            for n in range(faces))
    for person in range(20):
        collection.enroll_embeddings(f"person {person}", [[vrng.gauss(0, 1) for _ in range(128)] for _ in range(5)],
                                     source=f"/people/{person}.jpg")
    collection.close()
    return index, workdir / "faces.db", time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--json", type=Path, metavar="FILE")
    args = parser.parse_args()

    from opensearchpy import OpenSearch
    from osmem_server import OsmemServer

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        source, faces_db, build_s = build_source(workdir, args.docs, args.faces)
        server = OsmemServer.start(seed=[], freeze=False, japanese=False)
        try:
            target = OpenSearchIndex(OpenSearch(hosts=[server.url], timeout=120), "media")
            copied: dict[str, float] = {}
            marks: dict[str, float] = {}

            def progress(what: str, n: int) -> None:
                marks.setdefault(f"{what}_start", time.perf_counter())
                marks[f"{what}_end"] = time.perf_counter()
                copied[what] = copied.get(what, 0) + n

            migration = Migration(source, target, StateFile(workdir / "migrate.json", "bench"),
                                  source_vectors=LocalFaceVectorFile(faces_db), target_vectors=target.face_vectors(),
                                  batch_size=args.batch_size, progress=progress)
            plan_started = time.perf_counter()
            plan = migration.plan()
            plan_s = time.perf_counter() - plan_started
            started, cpu_started = time.perf_counter(), time.process_time()
            report = migration.run()
            total_s, client_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        finally:
            server.close()
    verify_s = total_s - (marks.get("people_end", marks.get("documents_end", started)) - started)
    docs_s = marks["documents_end"] - started
    faces_s = marks.get("faces_end", marks["documents_end"]) - marks["documents_end"]
    result = {
        "docs": args.docs, "faces": args.faces, "batch_size": args.batch_size,
        "build_source_s": round(build_s, 1), "dry_run_s": round(plan_s, 2),
        "estimated_document_mb": round(plan["estimated_document_bytes"] / 1e6, 1),
        "migrate_total_s": round(total_s, 1),
        "documents_s": round(docs_s, 1), "documents_per_s": round(args.docs / docs_s),
        "faces_s": round(faces_s, 1), "faces_per_s": round(args.faces / faces_s) if faces_s else None,
        "verify_s": round(verify_s, 1),
        # this process's CPU for the whole copy (reading SQLite, JSON, requests): the rest of the wall time is the
        # target indexing, which a real domain does on its own nodes
        "client_cpu_s": round(client_cpu_s, 1),
        "verified": report["verified"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    width = max(map(len, result))
    for name, value in result.items():
        print(f"{name:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
