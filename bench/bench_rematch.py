"""How long bringing the index up to date takes after an enrolment and a removal, on the local collection and the
SQLite index, for N indexed pictures with faces (synthetic vectors, no models run).

    python bench/bench_rematch.py [--docs 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_faces import synthetic  # noqa: E402

from mediaindex.adapters.faces.local import LocalFaceCollection  # noqa: E402
from mediaindex.adapters.index.sqlite import SqliteIndex  # noqa: E402
from mediaindex.config import Settings  # noqa: E402
from mediaindex.domain import document as docs  # noqa: E402
from mediaindex.domain.model import Box  # noqa: E402
from mediaindex.services.indexing import Pipeline  # noqa: E402
from mediaindex.services.people import People  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    args = parser.parse_args()
    vectors = synthetic(args.docs * 2)  # two faces a picture
    box = Box(0.1, 0.1, 0.2, 0.2)
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home))
        index = SqliteIndex(str(Path(home) / "index.db"))
        index.ensure_ready()
        collection = LocalFaceCollection(settings)
        t = time.perf_counter()
        for n in range(args.docs):
            sha = f"{n:064x}"
            doc = {**docs.base_document("", f"/photos/{n}.jpg", None), "status": docs.INDEXED, "media_type": "image",
                   "content_sha256": sha, "people": [], "face_count": 2,
                   "faces": [{"box": box.__dict__, "confidence": 99.0, "person": None, "face_id": None,
                              "similarity": None} for _ in range(2)]}
            index.put(doc, None)
        collection.import_faces((f"{i // 2:064x}", i % 2, box, vectors[i]) for i in range(len(vectors)))
        build = time.perf_counter() - t
        people = People(settings=settings, pipeline=Pipeline(storage=None, analyzer=None, index=index, faces=collection),
                        memory=collection)
        # enrol the identity of face 0: about 1 face in 10 per identity... pick one seen several times
        target = vectors[0]
        t = time.perf_counter()
        collection.enroll_embeddings("Someone", [target + 0.01], "bench")
        enrolled = people.rematch()
        t_enrol = time.perf_counter() - t
        t = time.perf_counter()
        removed = people.remove_person("Someone")
        t_remove = time.perf_counter() - t
    print(f"documents: {args.docs:,} pictures, {len(vectors):,} faces (built in {build:.1f} s)")
    print(f"after an enrolment: {t_enrol:.2f} s, {enrolled.documents_updated} documents updated of "
          f"{enrolled.documents_checked:,} checked")
    print(f"after a removal:    {t_remove:.2f} s, {removed['documents_updated']} documents updated")
    if args.json:
        args.json.write_text(json.dumps({
            "documents": args.docs, "faces": len(vectors), "build_s": build, "after_enrolment_s": t_enrol,
            "enrolment_documents_updated": enrolled.documents_updated, "after_removal_s": t_remove,
            "removal_documents_updated": removed["documents_updated"],
        }, indent=2))


if __name__ == "__main__":
    main()
