"""Known people and clusters of unnamed faces: listed to anyone who may read; named, enrolled, forgotten, merged,
split and hidden only when writes are on (`WriteRoute`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path as Param, Query as QueryParam
from pydantic import BaseModel, Field, StrictInt, StrictStr

from mediaindex.api.errors import ApiError
from mediaindex.api.guards import WriteRoute
from mediaindex.api.parts import Api, MediaApi
from mediaindex.api.routes.documents import DocId, FaceNumber, read_for_rendering
from mediaindex.domain.errors import ConfigurationError, TransientError
from mediaindex.domain.expressions import And, MediaTypeIs, PersonIs
from mediaindex.domain.query import Query, Sort
from mediaindex.domain.vocabulary import Status
from mediaindex.ports import ObjectRef

router = APIRouter(tags=["people"])
writes = APIRouter(route_class=WriteRoute,
                   responses={403: {"description": "Writes are off on this server, or the request is cross-site"},
                              415: {"description": "The body is not JSON"}})

MAX_CLUSTERS = 60
FILES_PER_CLUSTER = 12
MAX_PEOPLE_FACES = 100  # people listed with a face crop (one small search each)
ClusterId = Annotated[str, Param(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="An unnamed cluster's id")]


# ---- bodies: what each write takes (strict: "0" is not a face number, true is not 1) ---------------------------------
DocumentId = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{40}$")]  # as a path's DocId, inside a body


class Named(BaseModel):
    name: StrictStr = Field(description="The person's name, as search will show it", max_length=1000)


class Enrol(Named):
    document_id: DocumentId = Field(description="The indexed photo to enrol the person from")
    face_index: StrictInt | None = Field(None, ge=0, le=9999,
                                         description="One face of the photo (from 0); without it, the photo's largest")


class Merge(BaseModel):
    source: StrictStr = Field(alias="from", max_length=1000, description="The name to merge away")
    into: StrictStr = Field(max_length=1000, description="The name that stays")


class FaceToMove(BaseModel):
    id: DocumentId
    face_index: StrictInt = Field(ge=0, le=9999)


class Split(BaseModel):
    faces: list[FaceToMove] = Field(min_length=1, max_length=1000, description="The faces to move out")


def _name(value: str) -> str:
    """A person's name by the same rule as the CLI's; a clear 400 otherwise."""
    from mediaindex.services.people import check_person_name

    if not " ".join(value.split()):
        raise ApiError(400, "name: the person's name, as search will show it")
    try:
        return check_person_name(value)
    except ConfigurationError as e:
        raise ApiError(400, f"name: {e}") from None


# ---- reading -------------------------------------------------------------------------------------------------------
@router.get("/api/people", summary="Known people (with a face to show) and clusters of unnamed faces")
def people(api: Api, min_size: Annotated[int, QueryParam(ge=1, le=1000)] = 2) -> dict[str, Any]:
    budget = [MAX_PEOPLE_FACES]
    counts = api.index.search(Query(limit=0, facets=("people",), facet_size=500)).facets.get("people", {})
    try:
        service = api.people()
    except ApiError as e:
        listed = [{"name": n, "faces": None, "files": c, "face": _face_of(api, n, budget)}
                  for n, c in sorted(counts.items())]
        return {"available": False, "reason": e.message, "writes": api.writes, "people": listed,
                "clusters": [], "clusters_reason": e.message}
    reason: str | None
    try:
        enrolled = service.list_people()
    except (ConfigurationError, TransientError) as e:  # the collection is unreachable: still list who is named
        enrolled, reason = {}, str(e)
    else:
        reason = None
    names = sorted(set(enrolled) | set(counts), key=str.casefold)
    listed = [{"name": n, "faces": enrolled.get(n), "files": counts.get(n, 0), "face": _face_of(api, n, budget)}
              for n in names]
    clusters, clusters_reason = _clusters(service, min_size, api)
    return {"available": reason is None, "reason": reason, "writes": api.writes, "people": listed,
            "clusters": clusters, "clusters_reason": clusters_reason}


def _clusters(service: Any, min_size: int, api: MediaApi | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """The unnamed clusters to show (at most MAX_CLUSTERS, a few files each), or why there are none. Each file says
    its media_type: a face in a video has no crop to show (its frame is not kept), so the page shows the video's
    poster frame instead."""
    clusters: list[dict[str, Any]] = []
    try:
        for c in service.clusters(min_size=min_size)[:MAX_CLUSTERS]:
            clusters.append({"cluster": c["cluster"], "faces": c["faces"], "files": c["files"][:FILES_PER_CLUSTER],
                             "file_count": len(c["files"])})
    except ConfigurationError as e:
        return clusters, str(e)
    if api is not None and clusters:
        found = api.index.get_many(list({f["id"] for c in clusters for f in c["files"]}))
        clusters = [{**c, "files": [{**f, "media_type": found[f["id"]].doc.get("media_type") if f["id"] in found
                                     else None} for f in c["files"]]} for c in clusters]
    return clusters, None


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


# ---- writing -------------------------------------------------------------------------------------------------------
@writes.post("/api/people/enroll", summary="Enrol a person from an indexed photo (or one face of it)")
def enroll(api: Api, body: Enrol) -> dict[str, Any]:
    from mediaindex.media.picture import Picture
    from mediaindex.media.thumbnails import crop_face

    name = _name(body.name)
    doc = api.document(body.document_id)
    if doc.get("media_type") != "image" or doc.get("status") != Status.INDEXED:
        raise ApiError(422, "enrol from an indexed photo (not a video or a failed file)")
    data = read_for_rendering(api, doc)
    source = str(ObjectRef(doc.get("bucket") or "", doc["key"]))
    n = body.face_index
    if n is not None:  # one face of the photo (the detail page's "Name this face"): enrol from its crop
        faces = doc.get("faces") or []
        if n >= len(faces) or not faces[n].get("box"):
            raise ApiError(400, f"face_index: a face of this photo, 0 to {len(faces) - 1}")
        data = crop_face(data, faces[n]["box"], api.max_pixels)
        source = f"{source}#face{n}"  # naming it again replaces this face's enrolment, not the photo's
    picture = Picture.from_bytes(data, api.max_pixels)
    with api.write_lock:
        enrolment = api.people().enroll(name, picture, source=source)
    result: dict[str, Any] = enrolment.to_dict()
    return result


@writes.post("/api/people/forget", summary="Forget a person: their enrolled faces and their name on files")
def forget(api: Api, body: Named) -> dict[str, Any]:
    name = _name(body.name)
    with api.write_lock:
        result: dict[str, Any] = api.people().remove_person(name)
    return result


@writes.post("/api/people/merge", summary="Merge one person into another")
def merge(api: Api, body: Merge) -> dict[str, Any]:
    source, target = _name(body.source), _name(body.into)
    with api.write_lock:
        result: dict[str, Any] = api.people().merge_people(source, target)
    return result


@writes.post("/api/documents/{id}/faces/{face}/hide", summary="Hide a face that is not a face (or not wanted)")
def hide_face(api: Api, id: DocId, face: FaceNumber) -> dict[str, Any]:
    doc = api.document(id)
    if doc.get("status") != Status.INDEXED:
        raise ApiError(404, "no such indexed file")
    faces = doc.get("faces") or []
    if face >= len(faces) or not faces[face].get("box"):
        raise ApiError(404, "no such face in this document")
    with api.write_lock:
        result: dict[str, Any] = api.people().hide_face(doc["id"], face)
    return result


@writes.post("/api/people/clusters/{cluster}/name", summary="Name a cluster of unnamed faces")
def name_cluster(api: Api, cluster: ClusterId, body: Named) -> dict[str, Any]:
    name = _name(body.name)
    with api.write_lock:
        result: dict[str, Any] = api.people().name_cluster(cluster, name)
    return result


@writes.post("/api/people/clusters/{cluster}/split", summary="Move faces out of a cluster")
def split_cluster(api: Api, cluster: ClusterId, body: Split) -> dict[str, Any]:
    chosen: list[tuple[str, int | None]] = [(api.document(f.id)["id"], f.face_index) for f in body.faces]
    with api.write_lock:
        result: dict[str, Any] = api.people().split_cluster(cluster, chosen)
    return result


router.include_router(writes)
