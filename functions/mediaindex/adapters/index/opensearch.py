"""The index on Amazon OpenSearch Service (or any OpenSearch cluster).

Layout: an alias `<name>` points at a concrete index `<name>-v<N>` whose mapping this module installs, so the
mapping can evolve by `reindex_to(N + 1)`: create the new index, copy the documents, swap the alias atomically.
Procedure for a mapping change: bump MAPPING_VERSION, deploy, call `reindex_to(MAPPING_VERSION)` once (e.g. from
a one-off Lambda or `python -c`), then run `mediaindex reconcile` to re-apply any write that landed in the old
index during the copy (writes go through the alias throughout).

Writes are compare-and-set with `if_seq_no`/`if_primary_term` (creation with `op_type=create`); a 409 is a
VersionConflict. Every request goes through the connection (opensearch_connection.py), which retries throttling,
server errors and connection faults with backoff; what still fails becomes a TransientError for the queue to retry.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Iterable, Iterator, Sequence

from opensearchpy import OpenSearch, helpers
from opensearchpy import exceptions as os_errors

from mediaindex.adapters.index import common
from mediaindex.adapters.index.opensearch_connection import OpenSearchConnection, client_for
from mediaindex.adapters.index.opensearch_faces import OpenSearchFaceVectors
from mediaindex.adapters.index.opensearch_query import AIDS, compile_where, facet_agg, ranked_query, sort_for
from mediaindex.config import IndexUrl, Settings
from mediaindex.domain.document import DocumentFields, SearchDocument
from mediaindex.domain.errors import ConfigurationError, TransientError, VersionConflict
from mediaindex.domain.expressions import FACE_BOOLEANS, FACT_FIELDS, Expr, resolve_people
from mediaindex.domain.query import Query
from mediaindex.ports import SearchResult, Versioned

log = logging.getLogger(__name__)

MAPPING_VERSION = 1
_PAGE = 500

_KEYWORD = {"type": "keyword"}
_DOUBLE = {"type": "double"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_TIME = {"type": "keyword"}  # ISO 8601 strings, compared as strings exactly as the SQLite index does
_SEGMENT = {"type": "nested", "properties": {"name": _KEYWORD, "start": _DOUBLE, "end": _DOUBLE}}

MAPPING: dict[str, Any] = {
    "dynamic": "false",  # unknown fields are kept in _source but not indexed: the mapping stays what we wrote
    "properties": {
        **{f: _KEYWORD for f in (
            "id", "bucket", "key", "status", "media_type", "content_type", "etag", "content_sha256", "analyzer",
            "camera", "sequencer", "label_names", "people",
        )},
        "error": {"type": "keyword", "ignore_above": 1024},
        "size": {"type": "long"},
        "width": _INT,
        "height": _INT,
        "face_count": _INT,
        "moderation": _DOUBLE,
        "taken_at": _TIME,
        "indexed_at": _TIME,
        "last_modified": _TIME,
        "location": {"type": "geo_point"},
        "text": {"type": "text"},
        "model_versions": {"type": "object", "enabled": False},
        "labels": {
            "type": "nested",  # ties each name to its own confidence
            "properties": {
                "name": _KEYWORD, "confidence": _DOUBLE, "parents": _KEYWORD, "categories": _KEYWORD,
                "aliases": _KEYWORD, "names": _KEYWORD, "instances": {"type": "object", "enabled": False},
            },
        },
        "faces": {
            "type": "nested",  # ties every attribute to its own face
            "properties": {
                "box": {"type": "object", "enabled": False},
                "confidence": _DOUBLE,
                "age_low": _INT,
                "age_high": _INT,
                "gender": _KEYWORD,
                "emotions": {"type": "nested", "properties": {"type": _KEYWORD, "confidence": _DOUBLE}},
                "emotion": _KEYWORD,
                **{b: _BOOL for b in FACE_BOOLEANS},
                "pose": {"properties": {"roll": _DOUBLE, "yaw": _DOUBLE, "pitch": _DOUBLE}},
                "quality": {"properties": {"brightness": _DOUBLE, "sharpness": _DOUBLE}},
                "person": _KEYWORD,
                "face_id": _KEYWORD,
                "similarity": _DOUBLE,
            },
        },
        "video": {
            "dynamic": "false",
            "properties": {
                "duration": _DOUBLE, "codec": _KEYWORD, "fps": _DOUBLE, "width": _INT, "height": _INT,
                "segments": {"properties": {"people": _SEGMENT, "labels": _SEGMENT}},
            },
        },
        AIDS: {
            "properties": {
                "people": _KEYWORD,  # lower-cased, for case-insensitive person queries
                "emotions": _KEYWORD,  # each face's top emotion, for facets
                "words": _KEYWORD,  # text_tokens of the OCR text and the key
                "text": {"type": "text", "analyzer": "whitespace"},  # already tokenized: phrases
                "key_text": {"type": "text", "analyzer": "whitespace"},
                # each label entry's names by how specifically they name it, for relevance (common.label_tiers_doc)
                "labels": {"type": "nested", "properties": {
                    "own": _KEYWORD, "parents": _KEYWORD, "broader": _KEYWORD, "confidence": _DOUBLE}},
                # domain/facts.py: place names, kinds, camera words, month and day taken; the place facets count
                "facts": {"properties": {field: _KEYWORD for field in FACT_FIELDS}},
                "place": _KEYWORD,
            },
        },
    },
}

INDEX_SETTINGS = {"index": {"number_of_shards": 1, "max_result_window": 10_000}}


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class OpenSearchIndex:
    def __init__(
        self, client: OpenSearch, name: str, attempts: int = 5, backoff_base: float = 0.2, backoff_cap: float = 8.0,
        replicas: int | None = None,
    ) -> None:
        self.connection = OpenSearchConnection(client, attempts, backoff_base, backoff_cap)
        self.client = client
        self.name = common.check_name(name)
        # replicas of each shard: None leaves the cluster's default (1), which one data node can never place
        self.replicas = replicas

    # ---- connecting ----------------------------------------------------------------------------------------------
    @classmethod
    def connect(cls, url: str | IndexUrl, settings: Settings, **options: Any) -> "OpenSearchIndex":
        return cls(client_for(url, settings), settings.index_name, replicas=settings.index_replicas, **options)

    # ---- layout --------------------------------------------------------------------------------------------------
    def index_settings(self, base: dict[str, Any] = INDEX_SETTINGS) -> dict[str, Any]:
        """`base` with this index's replica count, when one is set."""
        if self.replicas is None:
            return base
        return {"index": {**base["index"], "number_of_replicas": self.replicas}}

    def concrete_name(self, version: int = MAPPING_VERSION) -> str:
        return f"{self.name}-v{version}"

    def exists(self) -> bool:
        """Is the index there (its alias)? A reader with read-only access asks this instead of ensure_ready."""
        return bool(self.connection.call(self.client.indices.exists_alias, name=self.name))

    def check_server(self) -> None:
        self.connection.check_server()

    def ensure_ready(self) -> None:
        try:
            self._ensure_ready()
        except (TransientError, os_errors.TransportError, os_errors.SerializationError):
            self.check_server()
            raise

    def _ensure_ready(self) -> None:
        """Create `<name>-v<N>` with the mapping and the alias `<name>` in one request. Safe when several
        processes race: whoever loses sees the index exist and only makes sure the alias points at it."""
        indices = self.client.indices
        call = self.connection.call
        if call(indices.exists_alias, name=self.name):
            self._add_new_fields()
            self._fit_replicas()
            return
        if call(indices.exists, index=self.name) and not call(indices.exists_alias, name=self.name):
            raise ConfigurationError(
                f"an index named {self.name!r} exists but is not an alias: move it aside or reindex it into "
                f"{self.concrete_name()} and add the alias {self.name!r}"
            )
        body = {"settings": self.index_settings(), "mappings": MAPPING, "aliases": {self.name: {}}}
        try:
            call(indices.create, index=self.concrete_name(), body=body)
        except os_errors.RequestError as e:
            if e.error != "resource_already_exists_exception":
                raise
            if not call(indices.exists_alias, name=self.name):
                call(indices.put_alias, index=self.concrete_name(), name=self.name)

    def face_vectors(self) -> OpenSearchFaceVectors:
        """The face vectors beside these documents (`<name>-faces`, k-NN fields), through the same connection."""
        return OpenSearchFaceVectors(self.connection, f"{self.name}-faces", replicas=self.replicas)

    def picture_vectors(self) -> Any:
        """The picture vectors beside these documents (`<name>-vectors`, k-NN fields): adapters/index/opensearch_vectors.py
        (imported here only when asked: it needs NumPy, which the Lambda bundle has not)."""
        from mediaindex.adapters.index.opensearch_vectors import OpenSearchPictureVectors

        return OpenSearchPictureVectors(self.connection, f"{self.name}-vectors", replicas=self.replicas)

    def current_index(self) -> str:
        aliases = self.connection.call(self.client.indices.get_alias, name=self.name)
        return sorted(aliases)[0]

    def _add_new_fields(self) -> None:
        """Fields added to the mapping since an index was created (search_aids.labels, for relevance) are added to
        it, so a document written now never maps them by guess; documents written before rank once re-indexed."""
        try:
            self.connection.call(self.client.indices.put_mapping, index=self.name,
                       body={"properties": {AIDS: MAPPING["properties"][AIDS]}})
        except (os_errors.AuthorizationException, os_errors.RequestError) as e:  # a read-only role; a conflict
            log.warning("could not add the new search fields to %s (%s): relevance needs them", self.name, e)

    def _fit_replicas(self) -> None:
        """An index created with another replica count gets this one (a dynamic setting): an index made before the
        count was set, on one data node, stays yellow until then."""
        if self.replicas is None:
            return
        try:
            self.connection.call(self.client.indices.put_settings, index=self.name,
                                 body={"index": {"number_of_replicas": self.replicas}})
        except (os_errors.AuthorizationException, os_errors.RequestError) as e:  # a read-only role
            log.warning("could not set %s replicas of %s (%s)", self.replicas, self.name, e)

    def reindex_to(self, version: int) -> str:
        """Copy every document into `<name>-v<version>` (created with the current MAPPING; the search aids computed
        anew) and swap the alias to it atomically. Returns the new index's name; the old one is kept for a rollback (delete it when happy)."""
        old, new = self.current_index(), self.concrete_name(version)
        if old == new:
            return new
        self.connection.call(self.client.indices.create, index=new,
                             body={"settings": self.index_settings(), "mappings": MAPPING})
        # copied through this client rather than the server's _reindex, so that every document's search aids are
        # computed again by this version (a new field such as search_aids.labels is filled for old documents too)
        def actions() -> Iterator[dict[str, Any]]:
            for doc in self.iter_documents(include_deleted=True):
                yield {"_index": new, "_id": doc["id"], "_source": self._stored(doc)}

        for chunk in _chunks(actions(), 500):
            ok, errors = self._bulk(chunk)
            if errors:
                raise TransientError(f"reindex: bulk write failed for {len(errors)} documents: {errors[:3]}")
        self.connection.call(self.client.indices.refresh, index=new)
        self.connection.call(self.client.indices.update_aliases, body={"actions": [
            {"remove": {"index": old, "alias": self.name}},
            {"add": {"index": new, "alias": self.name}},
        ]})
        return new

    # ---- documents -----------------------------------------------------------------------------------------------
    @staticmethod
    def _stored(doc: SearchDocument) -> dict[str, Any]:
        return {**doc, AIDS: common.search_aids(doc)}

    def get(self, doc_id: str) -> Versioned | None:
        try:
            found = self.connection.call(self.client.get, index=self.name, id=doc_id, _source_excludes=[AIDS])
        except os_errors.NotFoundError:
            return None
        return Versioned(found["_source"], (found["_seq_no"], found["_primary_term"]))

    def get_many(self, doc_ids: Sequence[str]) -> dict[str, Versioned]:
        """The documents of these ids by `mget`, `_PAGE` ids a request; ids not held are absent."""
        found: dict[str, Versioned] = {}
        for chunk in _chunks(dict.fromkeys(doc_ids), _PAGE):
            answer = self.connection.call(self.client.mget, index=self.name, body={"ids": chunk},
                                          _source_excludes=[AIDS])
            for hit in answer["docs"]:
                if hit.get("found"):
                    found[hit["_id"]] = Versioned(hit["_source"], (hit["_seq_no"], hit["_primary_term"]))
        return found

    def put(self, doc: SearchDocument, expected_version: Any | None) -> None:
        doc_id = doc["id"]
        try:
            if expected_version is None:
                self.connection.call(self.client.index, index=self.name, id=doc_id, body=self._stored(doc),
                                     op_type="create")
            else:
                seq_no, primary_term = expected_version
                self.connection.call(self.client.index, index=self.name, id=doc_id, body=self._stored(doc),
                           if_seq_no=seq_no, if_primary_term=primary_term)
        except os_errors.ConflictError as e:
            raise VersionConflict(f"document {doc_id}: {e.error}") from e

    def _bulk(self, chunk: list[dict[str, Any]]) -> tuple[int, list[Any]]:
        """One bulk request: (written, errors). A server that answers it with JSON that is not OpenSearch's (no
        `items`) is named as such, not left as the bulk helper's KeyError."""
        try:
            return self.connection.call(helpers.bulk, self.client, chunk, raise_on_error=False)
        except (KeyError, TypeError, AttributeError, os_errors.SerializationError) as e:
            self.check_server()
            raise ConfigurationError(f"MEDIAINDEX_INDEX: the server does not answer a bulk write as OpenSearch "
                                     f"({type(e).__name__}: {str(e)[:80]}): check the URL and port") from None

    def put_many(self, docs: Iterable[SearchDocument], chunk_size: int = 500) -> int:
        """Write documents unconditionally in bulk (no compare-and-set): for loading an index that nobody else is
        writing (migrations, benchmarks, tests). Returns how many were written."""
        def actions() -> Iterator[dict[str, Any]]:
            for doc in docs:
                yield {"_index": self.name, "_id": doc["id"], "_source": self._stored(doc)}

        written = 0
        for chunk in _chunks(actions(), chunk_size):
            ok, errors = self._bulk(chunk)
            if errors:
                raise TransientError(f"bulk write failed for {len(errors)} documents: {errors[:3]}")
            written += ok
        return written

    def update_fields(self, doc_id: str, fields: DocumentFields, expected_version: Any) -> None:
        """Replace top-level fields if the document is still at `expected_version` (the whole document is
        rewritten so the search aids follow; derived fields like `people` are the caller's to pass)."""
        current = self.get(doc_id)
        if current is None or tuple(current.version) != tuple(expected_version):
            raise VersionConflict(f"document {doc_id} changed or is gone")
        if dict(fields).get("id", doc_id) != doc_id:  # not a field of DocumentFields: a caller's slip
            raise ValueError("update_fields cannot change a document's id")
        self.put({**current.doc, **fields}, expected_version)

    def delete_document(self, doc_id: str) -> None:
        try:
            self.connection.call(self.client.delete, index=self.name, id=doc_id)
        except os_errors.NotFoundError:
            pass

    def purge_tombstones(self, older_than_iso: str) -> int:
        query = {"bool": {"filter": [{"term": {"status": "deleted"}}, {"range": {"indexed_at": {"lt": older_than_iso}}}]}}
        result = self.connection.call(self.client.delete_by_query, index=self.name, body={"query": query},
                            refresh=True, conflicts="proceed")
        return int(result.get("deleted", 0))

    def find_by_content(self, content_sha256: str, analyzer: str) -> SearchDocument | None:
        body = {
            "query": {"bool": {"filter": [
                {"term": {"content_sha256": content_sha256}}, {"term": {"analyzer": analyzer}},
                {"term": {"status": "indexed"}},
            ]}},
            "size": 1,
            "sort": [{"indexed_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
        }
        hits = self.connection.call(self.client.search, index=self.name, body=body,
                                    _source_excludes=[AIDS])["hits"]["hits"]
        return hits[0]["_source"] if hits else None

    def documents_with_content(self, content_sha256s: Sequence[str]) -> list[SearchDocument]:
        wanted = sorted(set(content_sha256s))
        found: list[SearchDocument] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            after_sort: list[Any] | None = None
            while True:
                body: dict[str, Any] = {
                    "query": {"bool": {"filter": [{"terms": {"content_sha256": chunk}},
                                                  {"term": {"status": "indexed"}}]}},
                    "size": _PAGE, "sort": [{"id": "asc"}]}
                if after_sort is not None:
                    body["search_after"] = after_sort
                hits = self.connection.call(self.client.search, index=self.name, body=body,
                                            _source_excludes=[AIDS])["hits"]["hits"]
                found += [hit["_source"] for hit in hits]
                if len(hits) < _PAGE:
                    break
                after_sort = hits[-1]["sort"]
        return sorted(found, key=lambda d: d["id"])

    def iter_documents(self, include_deleted: bool = False, after: str | None = None) -> Iterator[SearchDocument]:
        query: dict[str, Any] = {"match_all": {}} if include_deleted else {
            "bool": {"must_not": [{"term": {"status": "deleted"}}]}}
        # in id order already: `after` resumes the walk from the first id above it
        after_sort: list[Any] | None = [after] if after is not None else None
        while True:
            body: dict[str, Any] = {"query": query, "size": _PAGE, "sort": [{"id": "asc"}]}
            if after_sort is not None:
                body["search_after"] = after_sort
            hits = self.connection.call(self.client.search, index=self.name, body=body,
                                        _source_excludes=[AIDS])["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            if len(hits) < _PAGE:
                return
            after_sort = hits[-1]["sort"]

    def refresh(self) -> None:
        self.connection.call(self.client.indices.refresh, index=self.name)

    # ---- search --------------------------------------------------------------------------------------------------
    def person_names(self) -> list[str]:
        """Every known person some searchable document shows (lower case), page by page."""
        names: list[str] = []
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": 1000, "sources": [{"name": {"terms": {"field": f"{AIDS}.people"}}}]}
            if after:
                composite["after"] = after
            body = {"size": 0, "query": {"bool": {"must_not": [{"term": {"status": "deleted"}}]}},
                    "aggs": {"people": {"composite": composite}}}
            agg = self.connection.call(self.client.search, index=self.name, body=body)["aggregations"]["people"]
            names += [b["key"]["name"] for b in agg["buckets"]]
            after = agg.get("after_key")
            if not agg["buckets"] or not after:
                return names

    def _resolved(self, query: Query | Expr | str | None) -> Query:
        query = Query.coerce(query)
        where = resolve_people(query.where, self.person_names)
        return query if where is query.where else replace(query, where=where)

    def search(self, query: Query | Expr | str | None) -> SearchResult:
        try:
            query = self._resolved(query)
        except os_errors.RequestError as e:  # a 400 for the names the query's words may mean: the query's fault
            raise ValueError(f"OpenSearch refused the query: {str(e.info)[:300] if e.info else e.error}") from None
        where = query.effective_where()
        body: dict[str, Any] = {
            "query": ranked_query(where) if query.sort.field == "relevance" else compile_where(where),
            "from": query.offset,
            "size": query.limit,
            "track_total_hits": True,
            "sort": sort_for(query),
        }
        aggs = {name: facet_agg(name, query.facet_size) for name in query.facets}
        if aggs:
            body["aggs"] = aggs
        try:
            result = self.connection.call(self.client.search, index=self.name, body=body, _source_excludes=[AIDS])
        except os_errors.RequestError as e:  # a 400: the query, not the cluster, is at fault (a clear error, not a trace)
            raise ValueError(f"OpenSearch refused the query: {str(e.info)[:300] if e.info else e.error}") from None
        facets = {
            name: {b["key"]: b["doc_count"] for b in result["aggregations"][name]["buckets"]}
            for name in query.facets
        }
        return SearchResult(
            total=result["hits"]["total"]["value"], hits=[h["_source"] for h in result["hits"]["hits"]], facets=facets,
        )

    def count(self, query: Query | Expr | str | None) -> int:
        try:
            query = self._resolved(query)
            body = {"query": compile_where(query.effective_where())}
            return int(self.connection.call(self.client.count, index=self.name, body=body)["count"])
        except os_errors.RequestError as e:  # a 400: the query's fault, as in search
            raise ValueError(f"OpenSearch refused the query: {str(e.info)[:300] if e.info else e.error}") from None

    # ---- overview ------------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        limit = common.STATS_LIMIT
        indexed = {"term": {"status": "indexed"}}
        body = {
            "size": 0,
            "track_total_hits": True,
            "aggs": {
                "status": {"terms": {"field": "status", "size": 10}},
                "live": {"filter": {"bool": {"must_not": [{"term": {"status": "deleted"}}]}},
                         "aggs": {"media_types": {"terms": {"field": "media_type", "size": 50,
                                                            "order": [{"_count": "desc"}, {"_key": "asc"}]}}}},
                "indexed": {"filter": indexed, "aggs": {
                    "labels": {"terms": {"field": "label_names", "size": limit, "order": [{"_count": "desc"}, {"_key": "asc"}]}},
                    "people": {"terms": {"field": "people", "size": limit, "order": [{"_count": "desc"}, {"_key": "asc"}]}},
                }},
            },
        }
        result = self.connection.call(self.client.search, index=self.name, body=body)
        aggs = result["aggregations"]
        by_status = {b["key"]: b["doc_count"] for b in aggs["status"]["buckets"]}
        failures_body = {
            "query": {"term": {"status": "failed"}}, "size": limit, "_source": ["key", "error"],
            "sort": [{"indexed_at": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
        }
        failed = self.connection.call(self.client.search, index=self.name, body=failures_body)["hits"]["hits"]
        return {
            "documents": by_status.get("indexed", 0) + by_status.get("failed", 0),
            "indexed": by_status.get("indexed", 0),
            "failed": by_status.get("failed", 0),
            "deleted": by_status.get("deleted", 0),
            "media_types": {b["key"]: b["doc_count"] for b in aggs["live"]["media_types"]["buckets"]},
            "top_labels": [[b["key"], b["doc_count"]] for b in aggs["indexed"]["labels"]["buckets"]],
            "people": [[b["key"], b["doc_count"]] for b in aggs["indexed"]["people"]["buckets"]],
            "failures": [{"key": h["_source"].get("key"), "error": h["_source"].get("error")} for h in failed],
        }
