"""Copies to clean up and look-alikes: the duplicates report (services/look_alikes.py), the look-alikes of one
file, and, on the embedded default with writes on, moving copies to a trash folder and back (services/trash.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query as Param
from pydantic import BaseModel, Field, StrictStr

from mediaindex.api.guards import WriteRoute
from mediaindex.api.parts import Api
from mediaindex.api.routes.documents import DocId
from mediaindex.api.routes.search import file_name, hit_summary
from mediaindex.domain.expressions import SimilarTo
from mediaindex.domain.query import Query
from mediaindex.services import look_alikes
from mediaindex.services.trash import MAX_FILES

router = APIRouter(tags=["duplicates"])
writes = APIRouter(route_class=WriteRoute, tags=["duplicates"],
                   responses={403: {"description": "Writes are off on this server, or the request is cross-site"},
                              409: {"description": "A file that cannot be moved (an S3 object, a restore whose "
                                                   "place is taken), or a server without a trash"},
                              415: {"description": "The body is not JSON"}})

DocumentId = Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{40}$")]


class ToTrash(BaseModel):
    ids: list[DocumentId] = Field(min_length=1, max_length=MAX_FILES, description="The documents whose files to move")


class Restore(BaseModel):
    batch: StrictStr = Field(max_length=40, description="The batch a move answered (`batch`)")


@router.get("/api/duplicates", summary="Groups of copies, each with the suggested one to keep",
            description="Copies of one shot (same bytes, near-identical, edited copy), ordered by what removing all "
                        "but the keeper frees; with similar=1, groups of similar shots (bursts) apart.")
def duplicates(api: Api, similar: bool = False) -> dict[str, Any]:
    report = look_alikes.find_duplicates(api.index, api.vectors, similar).to_dict(similar)
    found = api.index.get_many([f["id"] for g in [*report["groups"], *report.get("similar", [])] for f in g["files"]])
    for group in [*report["groups"], *report.get("similar", [])]:
        for f in group["files"]:
            f["name"] = file_name(f["key"])
            f["media_type"] = found[f["id"]].doc.get("media_type") if f["id"] in found else None
    report["writes"] = api.writes
    report["trash"] = api.writes and api.trash_factory is not None  # the page offers the move
    report["look_alikes"] = api.vectors is not None  # false: same bytes only (Rekognition makes no look vectors)
    return report


@router.get("/api/documents/{id}/similar", summary="The files that look most like this one, most alike first",
            description="Each hit carries `similarity` (0-1). A file without a look vector (too small or blank, a "
                        "video without frames, an index without look-alikes) has none: no hits, and `reason` says why.")
def similar(api: Api, id: DocId, limit: Annotated[int, Param(ge=1, le=60)] = 12) -> dict[str, Any]:
    doc = api.document(id)
    try:
        result, _ = look_alikes.search_similar(api.index, api.vectors, Query(where=SimilarTo(doc["id"]), limit=limit))
    except look_alikes.NotFound as e:  # the document is there (checked above): it has no look vector
        return {"total": 0, "hits": [], "reason": str(e).split(": ", 1)[-1]}
    return {"total": result.total, "hits": [hit_summary(hit) for hit in result.hits]}


@router.get("/api/duplicates/trash", summary="The batches in the trash, newest first",
            description="None (and `available` false) where nothing can be moved: writes off, or not the embedded index.")
def batches(api: Api) -> dict[str, Any]:
    if api.trash_factory is None:
        return {"available": False, "batches": []}
    return {"available": True, "batches": api.trash().batches()}


@writes.post("/api/duplicates/trash", summary="Move these files to the trash folder and out of the index")
def to_trash(api: Api, body: ToTrash) -> dict[str, Any]:
    with api.write_lock:
        result: dict[str, Any] = api.trash().move(body.ids)
    return result


@writes.post("/api/duplicates/restore", summary="Move a trash batch's files back and index them again")
def restore(api: Api, body: Restore) -> dict[str, Any]:
    with api.write_lock:
        result: dict[str, Any] = api.trash().restore(body.batch)
    return result


router.include_router(writes)
