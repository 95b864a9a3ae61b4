"""Clusters of the local collection's remembered faces (its FaceStore's): unnamed faces grouped.

Clusters are the connected groups of remembered faces within the match threshold of one another (single linkage).
They are computed when first asked for, for all faces remembered since, so indexing never pays for them: each new
face's neighbours within the threshold come from brute force while faces are few, and from the search graph's
nearest faces once they are many (local_search.py `close_pairs`), so 1,000 new faces cost the same at any size. A cluster's id is `c<row id of its oldest face>`: it
never changes as the cluster grows, and when two clusters are joined by a new face the older id stays.
"""

from __future__ import annotations

import json
from typing import Callable, Sequence

import numpy as np

from mediaindex.adapters.faces.local_search import FaceSearch
from mediaindex.adapters.faces.local_store import FaceStore
from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.face_clusters import ClusterMember, FaceRef, cluster_name
from mediaindex.domain.model import Box, FaceMatch
from mediaindex.adapters.faces.vectors import Embedding, VectorMatrix

_MATCH_BLOCK = 65_536  # faces matched against the enrolled ones at a time (clusters)


class FaceClusters:
    """The clusters of the store's remembered faces. `threshold` joins two faces (the collection's match threshold),
    `search` finds the faces close to a new one, and `match` names faces after the enrolled people (the
    collection's match_embeddings), to leave the named ones out."""

    def __init__(self, store: FaceStore, search: FaceSearch, threshold: float,
                 match: Callable[[Sequence[Embedding]], list[FaceMatch | None]]) -> None:
        self.store, self.search, self.threshold, self.match = store, search, threshold, match

    def clusters(self, min_size: int = 1, unnamed_only: bool = True) -> dict[str, list[ClusterMember]]:
        """Cluster id -> its faces, biggest cluster first (then by id), each cluster's faces oldest first. With
        `unnamed_only`, faces that match an enrolled person are left out, and `min_size` counts what is left (a
        cluster left empty or smaller disappears).

        Only the clusters that can be big enough are read: leaving named faces out only shrinks a cluster, so one
        of at least `min_size` faces in all (counted in SQL, on the (model, cluster) index) is a necessary
        condition, and only their faces are read and matched against the enrolled people."""
        store = self.store
        with store.lock:
            self.cluster_pending()
            if min_size <= 1:
                rows = store.db.execute("SELECT cluster, content_sha256, face_index, box, embedding FROM remembered "
                                        "WHERE model = ? ORDER BY cluster, id", (store.space.id,)).fetchall()
            else:
                rows = store.db.execute(
                    "SELECT cluster, content_sha256, face_index, box, embedding FROM remembered "
                    "WHERE model = ? AND cluster IN (SELECT cluster FROM remembered WHERE model = ? "
                    "GROUP BY cluster HAVING count(*) >= ?) ORDER BY cluster, id",
                    (store.space.id, store.space.id, min_size),
                ).fetchall()
        vectors = [np.frombuffer(r[4], dtype=np.float32) for r in rows]
        named: list[FaceMatch | None] = [None] * len(rows)
        if unnamed_only and rows:
            # in blocks, so the distances to the enrolled faces stay a bounded matrix
            for start in range(0, len(rows), _MATCH_BLOCK):
                named[start:start + _MATCH_BLOCK] = self.match(vectors[start:start + _MATCH_BLOCK])
        members: dict[int, list[ClusterMember]] = {}
        for row, vector, match in zip(rows, vectors, named):
            if match is not None:
                continue
            box = json.loads(row[3])
            members.setdefault(row[0], []).append(ClusterMember(FaceRef(row[1], row[2]), Box(**box), vector))
        ordered = sorted(members.items(), key=lambda item: (-len(item[1]), item[0]))
        return {cluster_name(c): m for c, m in ordered if len(m) >= min_size}

    def _apart_pairs(self, ids: list[int]) -> list[tuple[int, int]]:
        """The split constraints as pairs of positions in the in-memory vectors (rows since deleted drop out)."""
        rows = self.store.db.execute("SELECT a, b FROM cluster_apart").fetchall()
        if not rows:
            return []
        position = {row_id: i for i, row_id in enumerate(ids)}
        return [(position[a], position[b]) for a, b in rows if a in position and b in position]

    def split_cluster(self, cluster: int, refs: Sequence[FaceRef]) -> tuple[str, str]:
        """Move the faces `refs` of `cluster` into a cluster of their own, kept apart from what is left of it when
        later faces are clustered (a new face like both joins one of them only). Each part is named after its oldest
        face, as every cluster is. (the moved faces' cluster, the rest's cluster)."""
        store = self.store
        with store.lock:
            self.cluster_pending()
            rows = store.db.execute(
                "SELECT id, content_sha256, face_index FROM remembered WHERE cluster = ? AND model = ?",
                (cluster, store.space.id)).fetchall()
            wanted = {(r.content_sha256, r.face_index) for r in refs}
            moved = sorted(r[0] for r in rows if (r[1], r[2]) in wanted)
            rest = sorted(r[0] for r in rows if (r[1], r[2]) not in wanted)
            if len(moved) < len(wanted):
                raise ConfigurationError(f"{len(wanted) - len(moved)} of the faces given are not in {cluster_name(cluster)}")
            if not rest:
                raise ConfigurationError(f"that is every face of {cluster_name(cluster)}: leave at least one behind")
            with store.transaction(forget=store.forget_remembered) as db:
                for group in (moved, rest):
                    db.executemany("UPDATE remembered SET cluster = ? WHERE id = ?", [(group[0], i) for i in group])
                db.execute("INSERT OR IGNORE INTO cluster_apart (a, b) VALUES (?, ?)", (moved[0], rest[0]))
            store.forget_remembered()
        return cluster_name(moved[0]), cluster_name(rest[0])

    def cluster_of(self, ref: FaceRef) -> str | None:
        with self.store.lock:
            self.cluster_pending()
            row = self.store.db.execute(
                "SELECT cluster FROM remembered WHERE content_sha256 = ? AND face_index = ? AND model = ?",
                (ref.content_sha256, ref.face_index, self.store.space.id),
            ).fetchone()
        return cluster_name(row[0]) if row else None

    def cluster_pending(self) -> None:
        """Put every face not clustered yet into its cluster: union-find over the pairs within the threshold of a
        new face (close_pairs); the oldest face's id names each cluster."""
        with self.store.lock:
            ids, _, clusters, matrix = self.store.remembered()
            pending = [i for i, c in enumerate(clusters) if c == 0]
            if not pending:
                return
            parent: dict[int, int] = {}

            def find(x: int) -> int:
                root = x
                while parent.get(root, root) != root:
                    root = parent[root]
                while parent.get(x, x) != root:  # path compression
                    parent[x], x = root, parent[x]
                return root

            def label(i: int) -> int:
                return clusters[i] or ids[i]

            # clusters split by hand (split_cluster): a pair of faces whose clusters are never joined again
            apart = self._apart_pairs(ids)

            def separated(a: int, b: int) -> bool:
                for x, y in apart:
                    rx, ry = find(label(x)), find(label(y))
                    if {rx, ry} == {a, b}:
                        return True
                return False

            limit = self.store.space.squared_distance_for(self.threshold)
            for r, j in self.search.close_pairs(pending, limit):
                a, b = find(label(r)), find(label(j))
                if a != b and not (apart and separated(a, b)):
                    parent[max(a, b)] = min(a, b)
            changed: list[tuple[int, int]] = []
            for i in pending:
                clusters[i] = find(ids[i])
                changed.append((clusters[i], ids[i]))
            # clusters joined into an older one: their faces follow (one pass, no distances)
            moved = {x: root for x in list(parent) if (root := find(x)) != x}
            if moved:
                for i, c in enumerate(clusters):
                    if c in moved:
                        clusters[i] = moved[c]
                        changed.append((clusters[i], ids[i]))
            with self.store.transaction(forget=self.store.forget_remembered) as db:
                db.executemany("UPDATE remembered SET cluster = ? WHERE id = ?", changed)
