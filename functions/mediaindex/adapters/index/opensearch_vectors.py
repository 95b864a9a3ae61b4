"""Picture vectors in OpenSearch, beside the documents (the PictureVectors port): one index `<name>-vectors` (an
alias on `<name>-vectors-v1`), one document per (kind, content, part), so the cluster runs the same nearest-neighbour
search as the embedded default does in memory.

Each vector goes into the `knn_vector` field of its length (`values_1280` for the label model's feature; a
description model's 256-1024 numbers get their own field when first written), HNSW on the Faiss engine with inner
product over unit vectors (the cosine; Faiss takes cosine itself only from 2.19, and the Lucene engine only up to 1,024
numbers before 2.17). The search filters by kind and model inside the graph. The layout is kept, not indexed.

A cluster that refuses the `knn` query (osmem-server, the test server; a domain without the k-NN plugin) is searched
exactly instead: the vectors of the model are paged out and compared here, fine for tests and small libraries.
"""

from __future__ import annotations

import base64
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from opensearchpy import exceptions as os_errors
from opensearchpy import helpers

from mediaindex.adapters.index.opensearch_connection import OpenSearchConnection
from mediaindex.adapters.index.opensearch_query import knn_body
from mediaindex.domain.errors import TransientError
from mediaindex.ports import PictureVector


MAPPING_VERSION = 1
_PAGE = 500
_KEYWORD = {"type": "keyword"}
MAPPING: dict[str, Any] = {
    "dynamic": "false",
    "properties": {
        "kind": _KEYWORD, "model": _KEYWORD, "content_sha256": _KEYWORD, "part": {"type": "integer"},
        "layout": {"type": "binary"},
    },
}
SETTINGS = {"index": {"knn": True, "number_of_shards": 1}}


def values_field(dimensions: int) -> str:
    return f"values_{dimensions}"


def knn_field(dimensions: int) -> dict[str, Any]:
    return {"type": "knn_vector", "dimension": dimensions,
            "method": {"name": "hnsw", "engine": "faiss", "space_type": "innerproduct",
                       "parameters": {"m": 16, "ef_construction": 128}}}


def unit(values: Sequence[float]) -> list[float]:
    v = np.asarray(values, dtype=np.float64)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("a vector of zeros (or not numbers) has no direction")
    return [round(float(x), 6) for x in v / norm]


def doc_id(kind: str, content_sha256: str, part: int) -> str:
    return f"{kind}:{content_sha256}:{part}"


class OpenSearchPictureVectors:
    def __init__(self, connection: OpenSearchConnection, name: str, replicas: int | None = None) -> None:
        self.connection = connection
        self.client = connection.client
        self.name = name
        self.replicas = replicas
        self.knn_refused = False
        self._fields: set[int] = set()

    # ---- layout --------------------------------------------------------------------------------------------------
    def concrete_name(self) -> str:
        return f"{self.name}-v{MAPPING_VERSION}"

    def exists(self) -> bool:
        return bool(self.connection.call(self.client.indices.exists_alias, name=self.name))

    def ensure_ready(self) -> None:
        if self.exists():
            return
        settings = SETTINGS if self.replicas is None else {"index": {**SETTINGS["index"],
                                                                     "number_of_replicas": self.replicas}}
        body = {"settings": settings, "mappings": MAPPING, "aliases": {self.name: {}}}
        try:
            self.connection.call(self.client.indices.create, index=self.concrete_name(), body=body)
        except os_errors.RequestError as e:
            if e.error != "resource_already_exists_exception":
                raise
            if not self.exists():
                self.connection.call(self.client.indices.put_alias, index=self.concrete_name(), name=self.name)

    def _field_for(self, dimensions: int) -> str:
        """The k-NN field for vectors of this length, added to the mapping the first time."""
        if dimensions not in self._fields:
            self.ensure_ready()
            self.connection.call(self.client.indices.put_mapping, index=self.name,
                                 body={"properties": {values_field(dimensions): knn_field(dimensions)}})
            self._fields.add(dimensions)
        return values_field(dimensions)

    def refresh(self) -> None:
        self.connection.call(self.client.indices.refresh, index=self.name)

    # ---- writing -------------------------------------------------------------------------------------------------
    def remember(self, kind: str, vectors: Sequence[PictureVector]) -> None:
        if not vectors:
            return
        if len({v.content_sha256 for v in vectors}) != 1:
            raise ValueError("remember takes the vectors of one content at a time")
        self.forget(kind, [vectors[0].content_sha256])
        self.put_many(kind, vectors)

    def put_many(self, kind: str, vectors: Iterable[PictureVector]) -> int:
        actions = []
        for v in vectors:
            source: dict[str, Any] = {"kind": kind, "model": v.model, "content_sha256": v.content_sha256,
                                      "part": v.part, self._field_for(len(v.values)): unit(v.values)}
            if v.layout:
                source["layout"] = base64.b64encode(v.layout).decode("ascii")
            actions.append({"_index": self.name, "_id": doc_id(kind, v.content_sha256, v.part), "_source": source})
        if not actions:
            return 0
        ok, errors = self.connection.call(helpers.bulk, self.client, actions, raise_on_error=False)
        if errors:
            raise TransientError(f"bulk write of picture vectors failed for {len(errors)}: {errors[:3]}")
        return int(ok)

    def forget(self, kind: str, content_sha256s: Iterable[str]) -> int:
        hashes = list(content_sha256s)
        if not hashes or not self.exists():
            return 0
        body = {"query": {"bool": {"filter": [{"term": {"kind": kind}}, {"terms": {"content_sha256": hashes}}]}}}
        answer = self.connection.call(self.client.delete_by_query, index=self.name, body=body, refresh=True)
        return int(answer.get("deleted", 0))

    # ---- reading -------------------------------------------------------------------------------------------------
    def has(self, kind: str, content_sha256: str, model: str) -> bool:
        body = {"query": {"bool": {"filter": [{"term": {"kind": kind}}, {"term": {"content_sha256": content_sha256}},
                                              {"term": {"model": model}}]}}}
        return bool(self.exists() and self.connection.call(self.client.count, index=self.name, body=body)["count"])

    def vectors_of(self, kind: str, content_sha256: str) -> list[PictureVector]:
        if not self.exists():
            return []
        query = {"bool": {"filter": [{"term": {"kind": kind}}, {"term": {"content_sha256": content_sha256}}]}}
        found = [self._vector(hit) for hit in self._scan(query)]
        return sorted(found, key=lambda v: v.part)

    def iter_vectors(self, kind: str, model: str | None = None, after: int = 0) -> Iterator[tuple[int, PictureVector]]:
        filters: list[dict[str, Any]] = [{"term": {"kind": kind}}]
        if model is not None:
            filters.append({"term": {"model": model}})
        for position, hit in enumerate(self._scan({"bool": {"filter": filters}}), start=1):
            if position > after:
                yield position, self._vector(hit)

    def count(self, kind: str) -> int:
        if not self.exists():
            return 0
        body = {"query": {"term": {"kind": kind}}}
        return int(self.connection.call(self.client.count, index=self.name, body=body)["count"])

    def nearest(self, kind: str, model: str, values: Sequence[float], k: int = 20,
                min_cosine: float | None = None) -> list[tuple[str, float]]:
        if k <= 0 or not self.exists():
            return []
        query = unit(values)
        field = values_field(len(query))
        hits: list[tuple[str, float]] | None = None
        if not self.knn_refused:
            hits = self._nearest_knn(field, query, k * 4, kind, model)
        if hits is None:
            hits = self._nearest_exact(field, query, kind, model)
        best: dict[str, float] = {}
        for sha, cosine in hits:
            best[sha] = max(best.get(sha, -2.0), cosine)
        ranked = sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))
        if min_cosine is not None:
            ranked = [(sha, c) for sha, c in ranked if c >= min_cosine]
        return [(sha, round(c, 4)) for sha, c in ranked[:k]]

    def _nearest_knn(self, field: str, query: list[float], k: int, kind: str,
                     model: str) -> list[tuple[str, float]] | None:
        body = knn_body(field, query, k, {"kind": kind, "model": model})
        body["_source"] = ["content_sha256"]
        answer = self.connection.knn_search(self.name, body, "picture vectors")
        if answer is None:
            self.knn_refused = True  # exact search from then on
            return None
        # Faiss inner product scores are 1 + ip for a positive product, 1 / (1 - ip) otherwise
        out = []
        for hit in answer["hits"]["hits"]:
            score = float(hit["_score"])
            cosine = score - 1.0 if score >= 1.0 else 1.0 - 1.0 / max(score, 1e-12)
            out.append((hit["_source"]["content_sha256"], cosine))
        return out

    def _nearest_exact(self, field: str, query: list[float], kind: str, model: str) -> list[tuple[str, float]]:
        q = np.asarray(query)
        out = []
        for hit in self._scan({"bool": {"filter": [{"term": {"kind": kind}}, {"term": {"model": model}}]}}):
            vector = hit["_source"].get(field)
            if vector:
                out.append((hit["_source"]["content_sha256"], float(np.dot(q, vector))))
        return out

    def _scan(self, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return self.connection.scan(self.name, query, _PAGE)

    @staticmethod
    def _vector(hit: dict[str, Any]) -> PictureVector:
        source = hit["_source"]
        values: list[float] = next((v for k, v in source.items() if k.startswith("values_")), [])
        layout = base64.b64decode(source["layout"]) if source.get("layout") else None
        return PictureVector(source["content_sha256"], source["model"], list(values), int(source.get("part", 0)),
                             layout)
