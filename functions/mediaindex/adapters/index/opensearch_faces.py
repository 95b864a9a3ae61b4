"""Face vectors in OpenSearch, beside the documents: the FaceVectorIndex port on the k-NN plugin's `knn_vector`.

Where they live: one index `<name>-faces` (an alias on `<name>-faces-v1`), one document per face, never inside the
file documents. The local collection keeps vectors by content (content_sha256, face index), not by file, and search
by face ranks faces, not files; a nested `faces.embedding` k-NN field would rank each file by its single nearest face
only (OpenSearch's nested k-NN rule) and rewrite the whole file document whenever a face is re-clustered. Remembered
faces (`kind: face`) and enrolled ones (`kind: person`) share the index, told apart by a keyword.

Each vector goes into the field of its space's metric (domain/face_vectors.py): `embedding_cosine` (space_type
cosinesimil, SFace's unit vectors) or `embedding_l2` (space_type l2, dlib's), both 128 numbers, HNSW on the Lucene
engine, which filters by `kind` and `model` inside the graph search. Scores are turned back into squared distances,
so the similarity is the one the local collection computes: cosinesimil's score is (1 + cos) / 2, so for unit
vectors d^2 = 4 (1 - score); l2's is 1 / (1 + d^2).

A cluster that refuses the `knn` query (osmem-server, the test server; a domain without the k-NN plugin) is searched
exactly instead: the vectors of the space are paged out and compared here, fine for tests and small collections,
far too slow for a million faces (docs/scale.md).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Iterator, Sequence

from opensearchpy import exceptions as os_errors
from opensearchpy import helpers

from mediaindex.adapters.index.opensearch_connection import OpenSearchConnection
from mediaindex.adapters.index.opensearch_query import knn_body
from mediaindex.domain.errors import TransientError
from mediaindex.domain.face_vectors import VectorSpace
from mediaindex.ports import FACE, StoredFaceVector


FACES_MAPPING_VERSION = 1
DIMENSIONS = 128  # SFace's and dlib's embeddings alike
_PAGE = 500
_KEYWORD = {"type": "keyword"}


def vector_field(metric: str) -> str:
    """The k-NN field that holds vectors of this metric."""
    return "embedding_cosine" if metric == "cosine" else "embedding_l2"


def _knn_field(space_type: str) -> dict[str, Any]:
    return {
        "type": "knn_vector", "dimension": DIMENSIONS,
        "method": {"name": "hnsw", "engine": "lucene", "space_type": space_type,
                   "parameters": {"m": 16, "ef_construction": 128}},
    }


FACES_MAPPING: dict[str, Any] = {
    "dynamic": "false",
    "properties": {
        "kind": _KEYWORD, "model": _KEYWORD,
        "content_sha256": _KEYWORD, "face_index": {"type": "integer"}, "cluster": {"type": "long"},
        "box": {"type": "object", "enabled": False},
        "person": _KEYWORD, "source": _KEYWORD, "created_at": _KEYWORD,
        vector_field("cosine"): _knn_field("cosinesimil"),
        vector_field("l2"): _knn_field("l2"),
    },
}
FACES_SETTINGS = {"index": {"knn": True, "number_of_shards": 1}}


def unit(embedding: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(float(x) * float(x) for x in embedding)) or 1e-12
    return [float(x) / norm for x in embedding]


def stored_embedding(embedding: Sequence[float], space: VectorSpace) -> list[float]:
    """The vector as it is indexed: unit length for a cosine space (as the local collection compares them)."""
    if len(embedding) != DIMENSIONS:
        raise ValueError(f"a face vector of {len(embedding)} numbers: {space.id} vectors have {DIMENSIONS}")
    return unit(embedding) if space.metric == "cosine" else [float(x) for x in embedding]


def squared_distance_from_score(score: float, space: VectorSpace) -> float:
    """The k-NN plugin's score (Lucene engine) back to the squared L2 distance the similarity scale starts from."""
    if space.metric == "cosine":
        return max(0.0, 4.0 * (1.0 - score))
    return max(0.0, 1.0 / max(score, 1e-12) - 1.0)


class OpenSearchFaceVectors:
    """Face vectors in the index `name` (`<document index name>-faces`), through the document index's connection."""

    def __init__(self, connection: OpenSearchConnection, name: str, replicas: int | None = None) -> None:
        self.connection = connection
        self.client = connection.client
        self.name = name
        self.replicas = replicas  # as the document index's: None leaves the cluster's default
        self.knn_refused = False  # set once the cluster refuses a `knn` query: exact search from then on

    def concrete_name(self) -> str:
        return f"{self.name}-v{FACES_MAPPING_VERSION}"

    # ---- layout --------------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return bool(self.connection.call(self.client.indices.exists_alias, name=self.name))

    def ensure_ready(self) -> None:
        indices = self.client.indices
        if self.exists():
            return
        settings = FACES_SETTINGS if self.replicas is None else \
            {"index": {**FACES_SETTINGS["index"], "number_of_replicas": self.replicas}}
        body = {"settings": settings, "mappings": FACES_MAPPING, "aliases": {self.name: {}}}
        try:
            self.connection.call(indices.create, index=self.concrete_name(), body=body)
        except os_errors.RequestError as e:
            if e.error != "resource_already_exists_exception":
                raise
            if not self.exists():
                self.connection.call(indices.put_alias, index=self.concrete_name(), name=self.name)

    def refresh(self) -> None:
        self.connection.call(self.client.indices.refresh, index=self.name)

    # ---- writing -------------------------------------------------------------------------------------------------
    @staticmethod
    def source_of(vector: StoredFaceVector, space: VectorSpace) -> dict[str, Any]:
        return {**vector.fields, "kind": vector.kind, "model": vector.model,
                vector_field(space.metric): stored_embedding(vector.embedding, space)}

    def put_vectors(self, vectors: Iterable[StoredFaceVector], chunk_size: int = 500) -> int:
        from mediaindex.domain.face_vectors import space_of

        def actions() -> Iterator[dict[str, Any]]:
            for v in vectors:
                yield {"_index": self.name, "_id": v.id, "_source": self.source_of(v, space_of(v.model))}

        written = 0
        batch: list[dict[str, Any]] = []
        for action in actions():
            batch.append(action)
            if len(batch) == chunk_size:
                written += self._bulk(batch)
                batch = []
        if batch:
            written += self._bulk(batch)
        return written

    def _bulk(self, actions: list[dict[str, Any]]) -> int:
        ok, errors = self.connection.call(helpers.bulk, self.client, actions, raise_on_error=False)
        if errors:
            raise TransientError(f"bulk write of face vectors failed for {len(errors)}: {errors[:3]}")
        return int(ok)

    def delete_vectors(self, ids: Sequence[str]) -> int:
        actions = [{"_op_type": "delete", "_index": self.name, "_id": i} for i in ids]
        if not actions:
            return 0
        ok, _missing = self.connection.call(helpers.bulk, self.client, actions, raise_on_error=False)
        return int(ok)

    # ---- reading -------------------------------------------------------------------------------------------------
    def count_vectors(self, kind: str) -> int:
        body = {"query": {"term": {"kind": kind}}}
        return int(self.connection.call(self.client.count, index=self.name, body=body)["count"])

    def nearest_vectors(self, embedding: Sequence[float], space: VectorSpace, k: int = 10, kind: str = FACE,
                        min_similarity: float | None = None) -> list[tuple[StoredFaceVector, float]]:
        query = stored_embedding(embedding, space)
        found: list[tuple[StoredFaceVector, float]] | None = None
        if not self.knn_refused:
            found = self._nearest_knn(query, space, k, kind)
        if found is None:
            found = self._nearest_exact(query, space, k, kind)
        if min_similarity is not None:
            found = [(v, s) for v, s in found if s >= min_similarity]
        return found

    def _nearest_knn(self, query: list[float], space: VectorSpace, k: int,
                     kind: str) -> list[tuple[StoredFaceVector, float]] | None:
        body = knn_body(vector_field(space.metric), query, k, {"kind": kind, "model": space.id})
        answer = self.connection.knn_search(self.name, body, "face vectors")
        if answer is None:
            self.knn_refused = True  # exact search from then on
            return None
        return [(self._vector(hit), space.similarity(squared_distance_from_score(float(hit["_score"]), space)))
                for hit in answer["hits"]["hits"]]

    def _nearest_exact(self, query: list[float], space: VectorSpace, k: int,
                       kind: str) -> list[tuple[StoredFaceVector, float]]:
        """Every vector of the space compared here: exact, and linear in the collection's size."""
        field = vector_field(space.metric)
        scored: list[tuple[float, StoredFaceVector]] = []
        for hit in self._scan({"bool": {"filter": [{"term": {"kind": kind}}, {"term": {"model": space.id}}]}}):
            vector = hit["_source"].get(field)
            if not vector:
                continue
            d2 = sum((a - b) ** 2 for a, b in zip(query, vector))
            scored.append((d2, self._vector(hit)))
        scored.sort(key=lambda pair: (pair[0], pair[1].id))
        return [(v, space.similarity(d2)) for d2, v in scored[:k]]

    def _scan(self, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return self.connection.scan(self.name, query, _PAGE)

    @staticmethod
    def _vector(hit: dict[str, Any]) -> StoredFaceVector:
        source = dict(hit.get("_source") or {})
        kind, model = source.pop("kind", FACE), source.pop("model", "")
        for field in (vector_field("cosine"), vector_field("l2")):
            source.pop(field, None)
        return StoredFaceVector(kind=kind, id=hit["_id"], model=model, embedding=[], fields=source)
