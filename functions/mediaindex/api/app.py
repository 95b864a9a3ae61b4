"""The search API and the web gallery's files, as one router that both the local server (`mediaindex serve`) and
the Lambda handler (`aws_api.handler`) run. Each route is one small handler below, declared with its method and
path (`@routes.get("/api/search")`); each is described in openapi.json (a test holds the two together).

Read-only unless `writes` is on: naming and splitting a cluster, enrolling, forgetting and merging people, and
hiding a face answer 403 otherwise.
Media, thumbnails and face crops are addressed by document id only, and only for documents in the index.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable

from mediaindex.domain.capabilities import unsupported
from mediaindex import __version__
from mediaindex.api.http import HttpError, Request, Response, Router, Routes, security_headers
from mediaindex.api.media import MediaSource, ThumbnailCache, crop_face, render_face, render_thumbnail
from mediaindex.domain.errors import BadMedia, ConfigurationError, ObjectNotFound, TransientError
from mediaindex.domain.expressions import (
    FACETS, MAX_WINDOW, And, EmotionIs, Expr, FactIs, LabelIs, MediaTypeIs, PersonIs, simplify,
)
from mediaindex.domain.places import fold
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.query_syntax import ParseError, emotion_name, media_type_name, parse_query
from mediaindex.domain.vocabulary import Status
from mediaindex.ports import Index, ObjectRef
from mediaindex.services import search as searching

log = logging.getLogger(__name__)

READ_ONLY = ("this server is read-only: naming, enrolling and forgetting people are switched off. Start it with "
             "`mediaindex serve --allow-writes` (on AWS: set MEDIAINDEX_API_WRITES=1) to allow them")

# The page's files: a fixed list, so no client-given name ever reaches the file system.
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
MAX_LIMIT = 200
MAX_BODY = 64 * 1024
MAX_CLUSTERS = 60
FILES_PER_CLUSTER = 12


def _static(name: str) -> bytes:
    return resources.files("mediaindex.api").joinpath("static", name).read_bytes()


def openapi_document() -> dict[str, Any]:
    return json.loads(resources.files("mediaindex.api").joinpath("openapi.json").read_text("utf-8"))


def file_name(key: str) -> str:
    return key.rstrip("/").rsplit("/", 1)[-1] or key


def hit_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """What a grid tile needs: small, so a page of 60 hits stays a few kilobytes."""
    labels = sorted(doc.get("labels") or [], key=lambda label: -(label.get("confidence") or 0))
    return {
        "id": doc["id"],
        "key": doc.get("key"),
        "name": file_name(doc.get("key") or ""),
        "status": doc.get("status"),
        "error": doc.get("error"),
        "media_type": doc.get("media_type"),
        "width": doc.get("width"),
        "height": doc.get("height"),
        "taken_at": doc.get("taken_at"),
        "place": (doc.get("place") or {}).get("label") if isinstance(doc.get("place"), dict) else None,
        "labels": [label.get("name") for label in labels[:6]],
        "people": doc.get("people") or [],
        "face_count": doc.get("face_count", len(doc.get("faces") or [])),
        "duration": (doc.get("video") or {}).get("duration"),
    }


@dataclass
class MediaApi:
    index: Index
    media: MediaSource
    thumbnails: ThumbnailCache | None = None
    # builds the known-people service on first use (it may load models or need settings that are absent)
    people_factory: Callable[[], Any] | None = None
    writes: bool = False
    # where the page sends people to sign in when the API answers 401 (API Gateway's JWT authorizer)
    login_url: str | None = None
    # what the analyzer reports, so a search for what it never does is told so (domain/capabilities.py)
    capabilities: Any = None
    max_pixels: int = 150_000_000
    router: Router = field(default_factory=Router)
    _people: Any = field(default=None, init=False)
    _people_error: str | None = field(default=None, init=False)
    _write_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _people_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        build_router(self, self.router)
        self.headers = security_headers(self.media.media_origin)

    # ---- dispatch ------------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        try:
            route, params = self.router.match(request.method, request.path)
            request.params = params
            if route.write:
                self._check_write(request)
            response = route.handler(request)
        except HttpError as e:
            response = Response.error(e.status, e.message, **e.extra)
        except ParseError as e:
            response = Response.error(400, e.message, position=e.position, query=e.text)
        except (ValueError, ConfigurationError) as e:
            response = Response.error(400, str(e))
        except BadMedia as e:
            response = Response.error(422, str(e))
        except ObjectNotFound as e:
            response = Response.error(404, str(e))
        except TransientError as e:
            response = Response.error(503, f"a service is busy or down, try again: {e}")
        except Exception:
            log.exception("request failed", extra={"method": request.method, "path": request.path})
            response = Response.error(500, "internal error: see the server log")
        for name, value in self.headers.items():
            response.headers.setdefault(name, value)
        if request.method == "HEAD":
            response.headers.setdefault("Content-Length", str(response.length))
            response.body = b""
        return response

    def _check_write(self, request: Request) -> None:
        if not self.writes:
            raise HttpError(403, READ_ONLY)
        # Another site's page cannot post here: a JSON body needs a CORS preflight we never grant, and a browser
        # always names the page's origin, which must be this server.
        origin = request.headers.get("origin")
        host = request.headers.get("host")
        if origin is not None and host and not same_origin(origin, host, request.headers.get("x-forwarded-proto")):
            raise HttpError(403, f"cross-site request refused (Origin {origin[:100]} is not this server)")
        if len(request.body) > MAX_BODY:
            raise HttpError(413, "the body is too large")

    # ---- shared parts --------------------------------------------------------------------------------------------
    def document(self, doc_id: str) -> dict[str, Any]:
        found = self.index.get(doc_id)
        if found is None or found.doc.get("status") not in (Status.INDEXED, Status.FAILED):
            raise HttpError(404, "no such document in the index")
        return found.doc

    def people(self) -> Any:
        with self._people_lock:
            if self._people is None and self._people_error is None:
                if self.people_factory is None:
                    self._people_error = "known people are not available on this server"
                else:
                    try:
                        self._people = self.people_factory()
                    except ConfigurationError as e:
                        self._people_error = str(e)
        if self._people is None:
            raise HttpError(409, self._people_error or "known people are not available")
        return self._people


# ---- the routes: one small handler each, declared with its method and path ------------------------------------------
routes = Routes()


def build_router(api: MediaApi, router: Router) -> Router:
    return routes.bind(api, router)


# ---- the page ----------------------------------------------------------------------------------------------------
@routes.get("/")
def page(api: MediaApi, _: Request) -> Response:
    return Response(200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"},
                    _static("index.html"))


@routes.get("/assets/{name}")
def static(api: MediaApi, request: Request) -> Response:
    name = request.params["name"]
    if name not in STATIC_FILES:
        raise HttpError(404, "no such file")
    return Response(200, {"Content-Type": STATIC_FILES[name], "Cache-Control": "no-cache"}, _static(name))



@routes.get("/openapi.json")
def openapi(api: MediaApi, _: Request) -> Response:
    return Response.json(openapi_document())


@routes.get("/api/config")
def config(api: MediaApi, _: Request) -> Response:
    return Response.json({"version": __version__, "writes": api.writes, "facets": list(FACETS),
                          "max_limit": MAX_LIMIT, "login_url": api.login_url})


# ---- search ------------------------------------------------------------------------------------------------------
@routes.get("/api/search")
def search(api: MediaApi, request: Request) -> Response:
    answer = searching.run_search(api.index, search_query(request))
    result, query = answer.result, answer.query
    facets = {name: [{"value": v, "count": c} for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
              for name, counts in result.facets.items()}
    reasons = searching.explain_hits(query, result.hits)
    hits = []
    for doc in result.hits:
        hit = hit_summary(doc)
        if doc["id"] in reasons:  # where a plain word matched: the page says "file name only" beside facets
            hit["matched"] = reasons[doc["id"]]
        hits.append(hit)
    body: dict[str, Any] = {"total": result.total, "offset": query.offset, "limit": query.limit, "hits": hits,
                            "facets": facets}
    if not result.total and query.where != Query().where:
        body["suggestions"] = searching.suggestions(api.index, query)  # the closest labels and people
    if answer.not_understood:
        body["not_understood"] = list(answer.not_understood)
    if answer.relaxed:
        body["relaxed"] = True
    warnings = unsupported(query, api.capabilities)
    if warnings:
        body["warnings"] = warnings
    return Response.json(body)


def search_query(request: Request) -> Query:
    """The page's search: `q` in the query syntax, and the facets ticked (label=, person=, emotion=, type=), each
    narrowing it; every facet counted. A person= is a facet's value: exactly that name, as the facet counted it."""
    limit = request.int_arg("limit", 60, 0, MAX_LIMIT)
    offset = request.int_arg("offset", 0, 0, MAX_WINDOW - limit)
    text = request.arg("q") or None
    media_type = request.arg("type") or None
    parts: list[Expr] = [parse_query(text)] if text and text.strip() else []
    parts += [LabelIs(name) for name in request.args("label")]
    parts += [PersonIs(name, names=(name.strip().lower(),)) for name in request.args("person")]
    parts += [EmotionIs(emotion_name(e)) for e in request.args("emotion")]
    parts += [FactIs("place", fold(name)) for name in request.args("place") if fold(name)]
    if media_type:
        parts.append(MediaTypeIs(media_type_name(media_type)))
    include_failed = request.arg("failed") in ("1", "true")
    return Query(where=simplify(And(*parts)), sort=Sort.parse(request.arg("sort") or None), offset=offset,
                 limit=limit, facets=FACETS,
                 statuses=(Status.INDEXED, Status.FAILED) if include_failed else (Status.INDEXED,))


@routes.get("/api/stats")
def stats(api: MediaApi, _: Request) -> Response:
    return Response.json(api.index.stats())


# ---- one document ------------------------------------------------------------------------------------------------
@routes.get("/api/documents/{id}")
def get_document(api: MediaApi, request: Request) -> Response:
    doc = dict(api.document(request.params["id"]))
    doc["name"] = file_name(doc.get("key") or "")
    return Response.json(doc)


@routes.get("/api/documents/{id}/media")
def media(api: MediaApi, request: Request) -> Response:
    doc = api.document(request.params["id"])
    return api.media.serve(doc, request)


@routes.get("/api/documents/{id}/media-url")
def media_url(api: MediaApi, request: Request) -> Response:
    doc = api.document(request.params["id"])
    if doc.get("status") != Status.INDEXED:
        raise HttpError(404, "this file was not analysed: nothing to show")
    return Response.json({"url": api.media.url(doc), "media_type": doc.get("media_type")})


@routes.get("/api/documents/{id}/thumbnail")
def thumbnail(api: MediaApi, request: Request) -> Response:
    doc = api.document(request.params["id"])
    return _cached_jpeg(api, doc, "thumb", lambda: _make_thumbnail(api, doc))


@routes.get("/api/documents/{id}/faces/{face}")
def face(api: MediaApi, request: Request) -> Response:
    doc = api.document(request.params["id"])
    n = int(request.params["face"])
    faces = doc.get("faces") or []
    if n >= len(faces) or doc.get("media_type") == "video" or not faces[n].get("box"):
        raise HttpError(404, "no such face in this document")
    box = faces[n]["box"]
    # cached by the box, not the position alone: hiding a face moves the faces after it down one place
    kind = "face:" + ",".join(f"{float(box[k]):.5f}" for k in ("left", "top", "width", "height"))
    return _cached_jpeg(api, doc, kind, lambda: render_face(api.media.read(doc), box, api.max_pixels))


# ---- people ------------------------------------------------------------------------------------------------------
@routes.get("/api/people")
def people(api: MediaApi, request: Request) -> Response:
    min_size = request.int_arg("min_size", 2, 1, 1000)
    budget = [MAX_PEOPLE_FACES]
    counts = api.index.search(Query(limit=0, facets=("people",), facet_size=500)).facets.get("people", {})
    try:
        service = api.people()
    except HttpError as e:
        listed = [{"name": n, "faces": None, "files": c, "face": _face_of(api, n, budget)} for n, c in sorted(counts.items())]
        return Response.json({"available": False, "reason": e.message, "writes": api.writes, "people": listed,
                              "clusters": [], "clusters_reason": e.message})
    try:
        enrolled = service.list_people()
    except (ConfigurationError, TransientError) as e:  # the collection is unreachable: still list who is named
        enrolled, reason = {}, str(e)
    else:
        reason = None
    names = sorted(set(enrolled) | set(counts), key=str.casefold)
    listed = [{"name": n, "faces": enrolled.get(n), "files": counts.get(n, 0), "face": _face_of(api, n, budget)}
              for n in names]
    clusters, clusters_reason = _clusters(service, min_size)
    return Response.json({"available": reason is None, "reason": reason, "writes": api.writes, "people": listed,
                          "clusters": clusters, "clusters_reason": clusters_reason})


def _clusters(service: Any, min_size: int) -> tuple[list[dict[str, Any]], str | None]:
    """The unnamed clusters to show (at most MAX_CLUSTERS, a few files each), or why there are none."""
    clusters: list[dict[str, Any]] = []
    try:
        for c in service.clusters(min_size=min_size)[:MAX_CLUSTERS]:
            clusters.append({"cluster": c["cluster"], "faces": c["faces"], "files": c["files"][:FILES_PER_CLUSTER],
                             "file_count": len(c["files"])})
    except ConfigurationError as e:
        return clusters, str(e)
    return clusters, None


@routes.post("/api/people/enroll", write=True)
def enroll(api: MediaApi, request: Request) -> Response:
    body = request.json()
    name = _name(body)
    doc_id = body.get("document_id")
    if not isinstance(doc_id, str) or not doc_id:
        raise HttpError(400, "document_id: the indexed photo to enrol the person from")
    doc = api.document(doc_id)
    if doc.get("media_type") != "image" or doc.get("status") != Status.INDEXED:
        raise HttpError(422, "enrol from an indexed photo (not a video or a failed file)")
    from mediaindex.media.picture import Picture

    data = api.media.read(doc)
    source = str(ObjectRef(doc.get("bucket") or "", doc["key"]))
    face_index = body.get("face_index")
    if face_index is not None:  # one face of the photo (the detail page's "Name this face"): enrol from its crop
        faces = doc.get("faces") or []
        if not isinstance(face_index, int) or isinstance(face_index, bool) or not 0 <= face_index < len(faces) \
                or not faces[face_index].get("box"):
            raise HttpError(400, f"face_index: a face of this photo, 0 to {len(faces) - 1}")
        data = crop_face(data, faces[face_index]["box"], api.max_pixels)
        source = f"{source}#face{face_index}"  # naming it again replaces this face's enrolment, not the photo's
    picture = Picture.from_bytes(data, api.max_pixels)
    with api._write_lock:
        enrolment = api.people().enroll(name, picture, source=source)
    return Response.json(enrolment.to_dict())


@routes.post("/api/people/forget", write=True)
def forget(api: MediaApi, request: Request) -> Response:
    name = _name(request.json())
    with api._write_lock:
        return Response.json(api.people().remove_person(name))


@routes.post("/api/people/merge", write=True)
def merge(api: MediaApi, request: Request) -> Response:
    body = request.json()
    source, target = _name({"name": body.get("from")}), _name({"name": body.get("into")})
    with api._write_lock:
        return Response.json(api.people().merge_people(source, target))


@routes.post("/api/documents/{id}/faces/{face}/hide", write=True)
def hide_face(api: MediaApi, request: Request) -> Response:
    doc = api.document(request.params["id"])
    if doc.get("status") != Status.INDEXED:
        raise HttpError(404, "no such indexed file")
    n = int(request.params["face"])
    faces = doc.get("faces") or []
    if n >= len(faces) or not faces[n].get("box"):
        raise HttpError(404, "no such face in this document")
    with api._write_lock:
        return Response.json(api.people().hide_face(doc["id"], n))


@routes.post("/api/people/clusters/{cluster}/name", write=True)
def name_cluster(api: MediaApi, request: Request) -> Response:
    name = _name(request.json())
    with api._write_lock:
        result = api.people().name_cluster(request.params["cluster"], name)
    return Response.json(result)


@routes.post("/api/people/clusters/{cluster}/split", write=True)
def split_cluster(api: MediaApi, request: Request) -> Response:
    body = request.json()
    faces = body.get("faces")
    if not isinstance(faces, list) or not faces or len(faces) > 1000:
        raise HttpError(400, "faces: a list of {\"id\": document id, \"face_index\": from 0} to move out")
    chosen: list[tuple[str, int]] = []
    for face in faces:
        n = face.get("face_index") if isinstance(face, dict) else None
        if not isinstance(n, int) or isinstance(n, bool) or n < 0 or not isinstance(face.get("id"), str):
            raise HttpError(400, "faces: each one {\"id\": document id, \"face_index\": from 0}")
        chosen.append((api.document(face["id"])["id"], n))
    with api._write_lock:
        return Response.json(api.people().split_cluster(request.params["cluster"], chosen))


MAX_PEOPLE_FACES = 100  # people listed with a face crop (one small search each)


def _face_of(api: MediaApi, name: str, budget: list[int]) -> dict[str, Any] | None:
    """A photo with this person's face, to show beside the name: {"id", "face_index"} (None: no photo of them, or
    the request's budget of look-ups is spent)."""
    if budget[0] <= 0:
        return None
    budget[0] -= 1
    where = And(PersonIs(name, names=(name.lower(),)), MediaTypeIs("image"))
    for doc in api.index.search(Query(where=where, limit=1, sort=Sort("indexed_at"))).hits:
        faces = [(f.get("similarity") or 0, i) for i, f in enumerate(doc.get("faces") or [])
                 if f.get("person") == name and f.get("box")]
        if faces:
            return {"id": doc["id"], "face_index": max(faces)[1]}
    return None


def _name(body: dict[str, Any]) -> str:
    from mediaindex.services.people import check_person_name

    name = body.get("name")
    if not isinstance(name, str) or not " ".join(name.split()):
        raise HttpError(400, "name: the person's name, as search will show it")
    try:
        return check_person_name(name)  # the same rule as the CLI's
    except ConfigurationError as e:
        raise HttpError(400, f"name: {e}") from None


def same_origin(origin: str, host: str, forwarded_proto: str | None = None) -> bool:
    """Is `origin` (the browser's Origin header) this server, named by its Host header? Scheme, host (case-
    insensitively) and port must all match; "null" and anything unparsable do not. The server speaks http unless
    a proxy in front says https (X-Forwarded-Proto, which a cross-site page cannot set without a preflight)."""
    from urllib.parse import urlsplit

    scheme = (forwarded_proto or "http").split(",")[0].strip().lower()
    default = {"http": 80, "https": 443}.get(scheme)
    try:
        o = urlsplit(origin.strip())
        h = urlsplit(f"{scheme}://{host.strip()}")
        if o.scheme.lower() != scheme or not o.hostname or not h.hostname or o.path or o.query or o.username:
            return False
        return o.hostname.lower() == h.hostname.lower() and (o.port or default) == (h.port or default)
    except ValueError:  # a port that is not a number, brackets that do not close
        return False


def _make_thumbnail(api: MediaApi, doc: dict[str, Any]) -> bytes:
    if doc.get("media_type") == "video":
        poster = api.media.poster(doc, api.max_pixels)
        if poster is None:
            raise HttpError(404, "no poster frame for this video here: the page shows an icon")
        return poster
    return render_thumbnail(api.media.read(doc), api.max_pixels)


def _cached_jpeg(api: MediaApi, doc: dict[str, Any], kind: str, make: Callable[[], bytes]) -> Response:
    data = api.thumbnails.get(doc, kind) if api.thumbnails else None
    if data is None:
        try:
            data = make()
        except BadMedia as e:
            raise HttpError(404, f"no thumbnail: {e}") from None
        if api.thumbnails:
            api.thumbnails.put(doc, kind, data)
    return Response(200, {"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=300"}, data)


def flag(value: str | None) -> bool:
    """An on/off environment setting: 1, true, yes, on."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
