"""One indexed file: its document, its bytes (a local file with Range and ETag, or a redirect to a presigned S3
link), its thumbnail or poster frame, and its face crops."""

from __future__ import annotations

from typing import Annotated, Any, Callable

from fastapi import APIRouter, Path as Param, Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import NotModifiedResponse
from starlette.types import Receive, Scope, Send

from mediaindex.api.errors import ApiError
from mediaindex.api.guards import HEAD_ONLY
from mediaindex.api.parts import Api, MediaApi
from mediaindex.api.routes.search import file_name
from mediaindex.domain.document import SearchDocument
from mediaindex.domain.errors import BadMedia, MediaTooLarge
from mediaindex.domain.vocabulary import Status
from mediaindex.media.thumbnails import (
    MAX_THUMB_SOURCE_BYTES, render_face, render_preview, render_thumbnail, video_face, video_poster,
)
from mediaindex.ports import LocalFile, ObjectRef

router = APIRouter(tags=["documents"])

# a document id is the SHA-1 of its bucket and key; a face is its place in the document's list
DocId = Annotated[str, Param(pattern=r"^[0-9a-f]{40}$", description="The document's id (40 hex digits)")]
FaceNumber = Annotated[int, Param(ge=0, le=9999, description="The face's place in the document's faces, from 0")]


def ref_of(doc: SearchDocument) -> ObjectRef:
    return ObjectRef(doc.get("bucket") or "", doc["key"])


@router.get("/api/documents/{id}", summary="One indexed file's document (labels, faces, text, video timeline)")
def get_document(api: Api, id: DocId) -> dict[str, Any]:
    doc = api.document(id)
    return {**doc, "name": file_name(doc["key"])}


class _File(FileResponse):
    """The framework's file response (Range, If-Range, Content-Length), told when a HEAD was answered as GET so
    that it sends no bytes."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get(HEAD_ONLY):
            scope = {**scope, "method": "HEAD"}
        await super().__call__(scope, receive, send)


@router.get("/api/documents/{id}/media", summary="The file itself (Range requests; a redirect for S3 files)",
            response_class=Response, responses={200: {"description": "The file's bytes"},
                                                206: {"description": "A range of them"},
                                                302: {"description": "Where to fetch it (S3, presigned)"},
                                                304: {"description": "Not modified"}})
def media(api: Api, id: DocId, request: Request) -> Response:
    doc = api.document(id)
    where = api.media.locate(ref_of(doc), doc.get("content_type"))
    if not isinstance(where, LocalFile):
        return RedirectResponse(where.url, 302, headers={"Cache-Control": "no-store"})
    stat = where.path.stat()
    response = _File(where.path, media_type=where.content_type, stat_result=stat, content_disposition_type="inline",
                     headers={"Cache-Control": "private, max-age=300", "Content-Disposition": "inline"})
    wanted = [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]
    if response.headers["etag"] in wanted:
        return NotModifiedResponse(response.headers)
    return response


@router.get("/api/documents/{id}/media-url", summary="Where the browser loads the file from")
def media_url(api: Api, id: DocId) -> dict[str, Any]:
    doc = api.document(id)
    if doc.get("status") != Status.INDEXED:
        raise ApiError(404, "this file was not analysed: nothing to show")
    where = api.media.locate(ref_of(doc), doc.get("content_type"))
    url = f"/api/documents/{doc['id']}/media" if isinstance(where, LocalFile) else where.url
    return {"url": url, "media_type": doc.get("media_type")}


@router.get("/api/documents/{id}/thumbnail", summary="A small JPEG (a poster frame for a video)",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}, "description": "JPEG"}})
def thumbnail(api: Api, id: DocId) -> Response:
    doc = api.document(id)
    return _cached_jpeg(api, doc, "thumb", lambda: _make_thumbnail(api, doc))


@router.get("/api/documents/{id}/preview", summary="A photo at display size (2048 px at most), as JPEG",
            description="What the viewer shows: every image format, HEIC and TIFF included, in any browser.",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}, "description": "JPEG"}})
def preview(api: Api, id: DocId) -> Response:
    doc = api.document(id)
    if doc.get("media_type") != "image" or doc.get("status") != Status.INDEXED:
        raise ApiError(404, "no preview: not an indexed photo (a video plays from /media)")
    return _cached_jpeg(api, doc, "preview", lambda: render_preview(read_for_rendering(api, doc), api.max_pixels))


@router.get("/api/documents/{id}/faces/{face}", summary="A crop of one face of a photo or a video",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}}, "description": "JPEG"}})
def face(api: Api, id: DocId, face: FaceNumber) -> Response:
    doc = api.document(id)
    faces = doc.get("faces") or []
    if face >= len(faces) or not faces[face].get("box"):
        raise ApiError(404, "no such face in this document")
    box = faces[face]["box"]
    # cached by the box, not the position alone: hiding a face moves the faces after it down one place
    kind = "face:" + ",".join(f"{float(box[k]):.5f}" for k in ("left", "top", "width", "height"))
    if doc.get("media_type") == "video":
        at = _seen_at(doc, face)
        where = api.media.locate(ref_of(doc), doc.get("content_type"))
        if at is None or not isinstance(where, LocalFile):
            raise ApiError(404, "no frame for this face here: the page shows an icon")
        return _cached_jpeg(api, doc, f"{kind}@{at:.3f}", lambda: video_face(where.path, at, box, api.max_pixels))
    return _cached_jpeg(api, doc, kind, lambda: render_face(read_for_rendering(api, doc), box, api.max_pixels))


def _seen_at(doc: SearchDocument, face: int) -> float | None:
    """When a video's face was seen: the time of the frame it was kept from, else (documents indexed before that
    was kept) the start of its first span on the timeline."""
    found = (doc.get("faces") or [])[face].get("at")
    if found is not None:
        return float(found)
    spans = [row for row in ((doc.get("video") or {}).get("segments") or {}).get("faces") or []
             if row.get("face") == face]
    return min(float(row.get("start") or 0.0) for row in spans) if spans else None


def read_for_rendering(api: MediaApi, doc: SearchDocument) -> bytes:
    """The file's bytes, to draw a thumbnail or a face from (bigger files get none: an icon is shown)."""
    try:
        return api.media.read(ref_of(doc), MAX_THUMB_SOURCE_BYTES)
    except MediaTooLarge:
        raise BadMedia("too big to make a thumbnail of") from None


def _make_thumbnail(api: MediaApi, doc: SearchDocument) -> bytes:
    if doc.get("media_type") == "video":
        where = api.media.locate(ref_of(doc), doc.get("content_type"))
        if not isinstance(where, LocalFile):
            raise ApiError(404, "no poster frame for this video here: the page shows an icon")
        return video_poster(where.path, api.max_pixels)
    return render_thumbnail(read_for_rendering(api, doc), api.max_pixels)


def _cached_jpeg(api: MediaApi, doc: SearchDocument, kind: str, make: Callable[[], bytes]) -> Response:
    data = api.thumbnails.get(doc, kind) if api.thumbnails else None
    if data is None:
        try:
            data = make()
        except BadMedia as e:  # the page shows an icon instead
            raise ApiError(404, f"no thumbnail: {e}") from None
        if api.thumbnails:
            api.thumbnails.put(doc, kind, data)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"})
