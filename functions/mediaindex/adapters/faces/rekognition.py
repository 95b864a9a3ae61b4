"""Known people in an Amazon Rekognition face collection.

Matching: SearchFacesByImage only searches the largest face of the image it is given, so every detected face is
sent as its own crop (with a margin around it), one call per face. A crop in which Rekognition finds no face is no
match. Files are only searched when the collection holds faces (DescribeCollection, cached for a minute).

Enrolment: IndexFaces keeps one face per photo. Each face carries an ExternalImageId made of the person's name,
encoded reversibly into the characters Rekognition allows, and a short hash of the photo it came from, so that
forgetting a photo or a person finds its faces again with ListFaces.

The library's faces (MEDIAINDEX_LIBRARY_COLLECTION, optional): every newly analysed picture with faces is indexed
into a second collection (IndexFaces of the whole picture, ExternalImageId its content_sha256), so that after an
enrolment one SearchFacesByImage of the enrolment photo in that collection finds the indexed faces the new person
matches (services/rematch.py `name_matching_faces`), instead of one search per indexed face.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import threading
import time
from typing import Any, Callable, Iterable, Iterator, Sequence

from mediaindex.adapters.analysis.rekognition import make_client, rekognition_errors, to_box
from mediaindex.config import Settings
from mediaindex.domain.errors import BadMedia, ConfigurationError, MediaIndexError
from mediaindex.domain.model import Box, Face, FaceMatch
from mediaindex.media.encode import REKOGNITION, crop_face, encode_image, encode_picture
from mediaindex.media.picture import Picture
from mediaindex.ports import LibraryMatch

log = logging.getLogger(__name__)

EMPTY_CACHE_SECONDS = 60.0
CROP_MARGIN = 0.4  # of the face box's size on each side: Rekognition needs some head and background to find a face
DELETE_BATCH = 4096  # DeleteFaces takes at most 4096 face ids
LIST_PAGE = 4096  # ListFaces returns at most 4096 faces a page
LIBRARY_MAX_FACES = 100  # IndexFaces keeps at most this many faces of one picture in the library collection
LIBRARY_SEARCH_MAX = 4096  # the most faces one search returns: a search that fills it may have left some out

# ---- ExternalImageId: "<name>:<source hash>" ---------------------------------------------------------------------
# Rekognition allows [a-zA-Z0-9_.\-:]+, at most 255 characters. The name part is either readable (letters, digits and
# "-" as they are, a space as ".", every other UTF-8 byte as "_xx") or, when that is too long, "__" followed by the
# name's UTF-8 in unpadded base64url. A readable name never contains "__" (an escape is "_" and two hex digits) nor
# ":", so the two forms and the separator cannot be confused.
EXTERNAL_ID_MAX = 255
SOURCE_HASH_CHARS = 16
ALLOWED_EXTERNAL_ID = re.compile(r"[a-zA-Z0-9_.\-:]+")
_COLLECTION_ID = re.compile(r"[a-zA-Z0-9_.\-]{1,255}")
_NAME_MAX = EXTERNAL_ID_MAX - 1 - SOURCE_HASH_CHARS
_KEPT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_B64_MARK = "__"
# Every name of at most this many bytes of UTF-8 fits (in the base64url form at worst).
NAME_MAX_BYTES = (_NAME_MAX - len(_B64_MARK)) * 3 // 4
# "<name>:<source hash>:<version>" when it fits: the version of the photo the face came from (a hash of its ETag and
# size, people_rules.enrolment_version), so the same photo sent again is known unchanged. Faces enrolled before
# versions were kept, and names too long to leave room for one, have none.
VERSION_CHARS = 12
_EXTERNAL_ID = re.compile(
    r"^(?P<name>[a-zA-Z0-9_.\-]+):(?P<source>[0-9a-f]{%d})(?::(?P<version>[0-9a-f]{%d}))?$"
    % (SOURCE_HASH_CHARS, VERSION_CHARS))


_CROP_REFUSED = frozenset({"InvalidParameterException", "InvalidImageFormatException", "ImageTooLargeException"})


class FaceNotIndexed(BadMedia):
    """Rekognition found a face but would not keep it (too small, blurred, too dark...)."""

    code = "face_not_indexed"


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:SOURCE_HASH_CHARS]


def encode_name(name: str) -> str:
    """`name` in Rekognition's ExternalImageId alphabet, reversibly. Raises ConfigurationError when too long."""
    if not name:
        raise ConfigurationError("a person's name cannot be empty")
    raw = name.encode("utf-8", "surrogatepass")
    readable = "".join(
        chr(b) if chr(b) in _KEPT else "." if b == 0x20 else f"_{b:02x}" for b in raw
    )
    if len(readable) <= _NAME_MAX:
        return readable
    compact = _B64_MARK + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    if len(compact) <= _NAME_MAX:
        return compact
    raise ConfigurationError(
        f"the name {name[:40]!r}... is too long for a Rekognition face collection ({len(raw)} bytes of UTF-8; "
        f"every name of at most {NAME_MAX_BYTES} bytes fits)"
    )


def decode_name(encoded: str) -> str:
    """The inverse of `encode_name`. Raises ValueError for text that `encode_name` cannot have produced."""
    if encoded.startswith(_B64_MARK):
        body = encoded[len(_B64_MARK):]
        try:
            return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8", "surrogatepass")
        except (binascii.Error, UnicodeDecodeError) as e:
            raise ValueError(f"not an encoded name: {encoded!r}") from e
    out = bytearray()
    i = 0
    while i < len(encoded):
        c = encoded[i]
        if c in _KEPT:
            out.append(ord(c))
            i += 1
        elif c == ".":
            out.append(0x20)
            i += 1
        elif c == "_" and re.fullmatch(r"[0-9a-f]{2}", encoded[i + 1:i + 3]):
            out.append(int(encoded[i + 1:i + 3], 16))
            i += 3
        else:
            raise ValueError(f"not an encoded name: {encoded!r}")
    try:
        return out.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as e:
        raise ValueError(f"not an encoded name: {encoded!r}") from e


def external_image_id(name: str, source: str, version: str | None = None) -> str:
    external_id = f"{encode_name(name)}:{source_hash(source)}"
    if version and re.fullmatch(r"[0-9a-f]{%d}" % VERSION_CHARS, version) and (
            len(external_id) + 1 + VERSION_CHARS <= EXTERNAL_ID_MAX):
        external_id += f":{version}"
    return external_id


def version_of(external_id: str) -> str | None:
    """The photo version an ExternalImageId records, if any."""
    found = _EXTERNAL_ID.match(external_id or "")
    return found["version"] if found else None


def parse_external_image_id(external_id: str) -> tuple[str, str] | None:
    """(name, source hash) of an ExternalImageId written by `external_image_id`; None for any other."""
    found = _EXTERNAL_ID.match(external_id or "")
    if not found:
        return None
    try:
        return decode_name(found["name"]), found["source"]
    except ValueError:
        return None


class RekognitionFaceCollection:
    """The FaceCollection port on one Rekognition collection (settings.collection_id). It keeps enrolled faces only,
    so it is no FaceMemory; comparing two pictures is RekognitionComparer's (rekognition_compare.py)."""

    def __init__(self, settings: Settings, client: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        if not _COLLECTION_ID.fullmatch(settings.collection_id or ""):
            raise ConfigurationError(
                f"MEDIAINDEX_COLLECTION={settings.collection_id!r}: a Rekognition collection id is 1 to 255 of "
                "a-z A-Z 0-9 _ . -"
            )
        self.collection_id = settings.collection_id
        self.threshold = float(settings.face_match_threshold)
        self.client = client if client is not None else make_client(settings)
        self._clock = clock
        self._lock = threading.Lock()
        self._empty: tuple[bool, float] | None = None  # (is empty, when asked)
        self._collection_ready = False
        self.library_collection_id = settings.library_collection_id or None
        if self.library_collection_id and not _COLLECTION_ID.fullmatch(self.library_collection_id):
            raise ConfigurationError(
                f"MEDIAINDEX_LIBRARY_COLLECTION={self.library_collection_id!r}: a Rekognition collection id is 1 to "
                "255 of a-z A-Z 0-9 _ . -"
            )
        self._library_ready = False

    # ---- matching ------------------------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        with self._lock:
            if self._empty is not None and self._clock() - self._empty[1] < EMPTY_CACHE_SECONDS:
                return self._empty[0]
        empty = self.face_count() == 0
        with self._lock:
            self._empty = (empty, self._clock())
        return empty

    def face_count(self) -> int:
        """Faces in the collection; 0 (and a log line) when the collection does not exist."""
        from botocore.exceptions import ClientError

        with rekognition_errors("DescribeCollection", self.collection_id, image=False):
            try:
                response = self.client.describe_collection(CollectionId=self.collection_id)
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
                log.warning(
                    "face collection does not exist: no known people to match", extra={"collection": self.collection_id}
                )
                return 0
        return int(response.get("FaceCount") or 0)

    def identify(self, picture: Picture, faces: Sequence[Face]) -> tuple[list[FaceMatch | None], int]:
        matches: list[FaceMatch | None] = []
        calls = 0
        if not faces:
            return matches, 0
        image = picture.image
        for face in faces:
            if face.box.width <= 0 or face.box.height <= 0:
                matches.append(None)
                continue
            crop, inner = crop_face(image, face.box, CROP_MARGIN, REKOGNITION.min_side)
            encoded = encode_image(crop, REKOGNITION)
            calls += 1
            matches.append(self._search(encoded.data, inner))
        return matches, calls

    def _search(self, data: bytes, face_in_crop: Box) -> FaceMatch | None:
        from botocore.exceptions import ClientError

        with rekognition_errors("SearchFacesByImage", self.collection_id):
            try:
                response = self.client.search_faces_by_image(
                    CollectionId=self.collection_id, Image={"Bytes": data}, MaxFaces=1,
                    FaceMatchThreshold=self.threshold,
                )
            except ClientError as e:
                error = e.response.get("Error", {})
                if error.get("Code") == "InvalidParameterException" and "no faces" in (error.get("Message") or "").lower():
                    return None  # Rekognition does not see a face in this crop: nobody to name
                if error.get("Code") in _CROP_REFUSED:
                    # the file itself was analysed; one crop Rekognition will not take must not fail it
                    log.warning("face crop refused: %s", error.get("Message"), extra={"collection": self.collection_id})
                    return None
                raise
        searched = to_box(response.get("SearchedFaceBoundingBox"))
        if searched is not None and not _centre_inside(searched, face_in_crop):
            # the crop's largest face is a neighbour's, not the one we asked about
            log.info("searched face is not the cropped face; no match", extra={"collection": self.collection_id})
            return None
        found = response.get("FaceMatches") or []
        if not found:
            return None
        best = max(found, key=lambda m: float(m.get("Similarity") or 0.0))
        face = best.get("Face") or {}
        return FaceMatch(
            person=self.name_of(face.get("ExternalImageId") or ""),
            face_id=face.get("FaceId") or "",
            similarity=round(float(best.get("Similarity") or 0.0), 2),
        )

    def remember(self, content_sha256: str, faces: Sequence[Face]) -> None:
        """Nothing to keep: the faces of indexed files are searched again from their boxes when people change."""

    def has_remembered(self, content_sha256: str, face_count: int) -> bool:
        return True  # remember() keeps nothing, so nothing can be missing

    def hidden_boxes(self, content_sha256: str) -> list[Box]:
        return []  # "not a face" marks are kept by the local collection only

    # ---- the library's faces (MEDIAINDEX_LIBRARY_COLLECTION) --------------------------------------------------------
    @property
    def keeps_library_faces(self) -> bool:
        return bool(self.library_collection_id)

    def keep_library_faces(self, content_sha256: str, picture: Picture) -> tuple[bool, int]:
        """IndexFaces of the whole picture into the library collection, every face Rekognition finds (no quality
        filter), each tagged with the picture's content_sha256: one paid call. A refusal is logged, never fails
        the file: the picture is then re-matched face by face as before."""
        from botocore.exceptions import ClientError

        collection = self.library_collection_id
        if not collection or not re.fullmatch(r"[0-9a-f]{64}", content_sha256 or ""):
            return False, 0
        if not self._library_ready:
            self._ensure(collection)
            self._library_ready = True
        encoded = encode_picture(picture, REKOGNITION)
        try:
            with rekognition_errors("IndexFaces", collection):
                response = self.client.index_faces(
                    CollectionId=collection, Image={"Bytes": encoded.data}, ExternalImageId=content_sha256,
                    MaxFaces=LIBRARY_MAX_FACES, QualityFilter="NONE", DetectionAttributes=["DEFAULT"],
                )
        except (MediaIndexError, ClientError) as e:
            # the file is indexed all the same, without the mark: an enrolment then searches its faces one by one
            log.warning("library faces not kept: %s", e, extra={"collection": collection})
            return False, 1
        return True, 1

    def library_matches(self, picture: Picture) -> tuple[list[LibraryMatch], bool, int]:
        """SearchFacesByImage of the enrolment photo's largest face in the library collection: up to
        LIBRARY_SEARCH_MAX faces (Rekognition's limit), above the match threshold; one paid call."""
        from botocore.exceptions import ClientError

        collection = self.library_collection_id
        if not collection:
            return [], True, 0
        encoded = encode_picture(picture, REKOGNITION)
        with rekognition_errors("SearchFacesByImage", collection):
            try:
                response = self.client.search_faces_by_image(
                    CollectionId=collection, Image={"Bytes": encoded.data}, MaxFaces=LIBRARY_SEARCH_MAX,
                    FaceMatchThreshold=self.threshold,
                )
            except ClientError as e:
                error = e.response.get("Error", {})
                if error.get("Code") == "ResourceNotFoundException":
                    return [], False, 1  # nothing indexed into it yet
                if error.get("Code") == "InvalidParameterException" and "no faces" in (error.get("Message") or "").lower():
                    return [], False, 1
                raise
        found: list[LibraryMatch] = []
        for match in response.get("FaceMatches") or []:
            face = match.get("Face") or {}
            box = to_box(face.get("BoundingBox"))
            sha = face.get("ExternalImageId") or ""
            if box is not None and re.fullmatch(r"[0-9a-f]{64}", sha):
                found.append(LibraryMatch(sha, box, round(float(match.get("Similarity") or 0.0), 2),
                                          face.get("FaceId") or ""))
        return found, len(response.get("FaceMatches") or []) >= LIBRARY_SEARCH_MAX, 1

    def forget_library_faces(self, face_ids: Sequence[str]) -> int:
        if not self.library_collection_id:
            return 0
        return self._delete(face_ids, self.library_collection_id)

    def _ensure(self, collection: str) -> None:
        """Create the library collection where it does not exist (the stack creates it; a role without
        CreateCollection just carries on)."""
        from botocore.exceptions import ClientError

        try:
            self.client.create_collection(CollectionId=collection)
            log.info("face collection created", extra={"collection": collection})
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                log.info("library collection not created here: %s", e, extra={"collection": collection})

    # ---- enrolment -----------------------------------------------------------------------------------------------
    def ensure_collection(self) -> bool:
        """Create the collection when it does not exist; True when it was created."""
        from botocore.exceptions import ClientError

        with rekognition_errors("CreateCollection", self.collection_id, image=False):
            try:
                self.client.describe_collection(CollectionId=self.collection_id)
                created = False
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
                try:
                    self.client.create_collection(CollectionId=self.collection_id)
                    created = True
                    log.info("face collection created", extra={"collection": self.collection_id})
                except ClientError as e2:
                    if e2.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                        raise
                    created = False  # someone else created it meanwhile
        self._collection_ready = True
        return created

    def enrolled_versions(self, source: str) -> set[str]:
        """The photo versions the faces enrolled from `source` record (ListFaces; no paid call)."""
        wanted = source_hash(source)
        versions: set[str] = set()
        for face in self._faces():
            external_id = face.get("ExternalImageId") or ""
            if (parse_external_image_id(external_id) or ("", ""))[1] == wanted:
                versions.add(version_of(external_id) or "")
        return versions

    def enroll_version(self, name: str, picture: Picture, source: str, version: str) -> list[str]:
        return self.enroll(name, picture, source, version)

    def enroll(self, name: str, picture: Picture, source: str, version: str | None = None) -> list[str]:
        """Index the largest face of `picture` as `name`; the face ids kept ([] when there is no face). `version`:
        the photo's version (people_rules.enrolment_version), recorded in the ExternalImageId."""
        name = " ".join(name.split())
        external_id = external_image_id(name, source, version)
        if not self._collection_ready:
            self.ensure_collection()
        encoded = encode_picture(picture, REKOGNITION)
        with rekognition_errors("IndexFaces", self.collection_id):
            response = self.client.index_faces(
                CollectionId=self.collection_id, Image={"Bytes": encoded.data}, ExternalImageId=external_id,
                MaxFaces=1, QualityFilter="AUTO", DetectionAttributes=["DEFAULT"],
            )
        self._forget_count()
        face_ids = [r["Face"]["FaceId"] for r in response.get("FaceRecords") or [] if (r.get("Face") or {}).get("FaceId")]
        if not face_ids:
            refused = [u for u in response.get("UnindexedFaces") or [] if "EXCEEDS_MAX_FACES" not in (u.get("Reasons") or [])]
            if refused:
                reasons = sorted({r.lower().replace("_", " ") for u in refused for r in u.get("Reasons") or []})
                raise FaceNotIndexed(f"the face in {source} is not good enough to enrol: {', '.join(reasons)}")
        log.info("face enrolled", extra={"person": name, "faces": len(face_ids), "collection": self.collection_id})
        return face_ids

    def remove_source(self, source: str, keep: Iterable[str] = ()) -> int:
        """Delete the faces enrolled from `source` except those in `keep` (just enrolled from it again); how many
        were deleted."""
        wanted, kept = source_hash(source), set(keep)
        return self._delete(
            f["FaceId"] for f in self._faces()
            if (parse_external_image_id(f.get("ExternalImageId") or "") or ("", ""))[1] == wanted
            and f["FaceId"] not in kept
        )

    def remove_person(self, name: str) -> int:
        """Delete every face enrolled as `name`; how many were deleted."""
        name = " ".join(name.split())
        return self._delete(f["FaceId"] for f in self._faces() if self.name_of(f.get("ExternalImageId") or "") == name)

    def list_people(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for face in self._faces():
            external_id = face.get("ExternalImageId")
            if external_id:
                person = self.name_of(external_id)
                counts[person] = counts.get(person, 0) + 1
        return dict(sorted(counts.items()))

    def name_of(self, external_image_id: str) -> str:
        """The person an ExternalImageId names; a face enrolled by another tool is named by its id as it is."""
        parsed = parse_external_image_id(external_image_id)
        return parsed[0] if parsed else external_image_id

    # ---- helpers -------------------------------------------------------------------------------------------------
    def _faces(self) -> Iterator[dict[str, Any]]:
        """Every face of the collection (ListFaces, page by page); none when the collection does not exist."""
        from botocore.exceptions import ClientError

        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"CollectionId": self.collection_id, "MaxResults": LIST_PAGE}
            if token:
                kwargs["NextToken"] = token
            with rekognition_errors("ListFaces", self.collection_id, image=False):
                try:
                    response = self.client.list_faces(**kwargs)
                except ClientError as e:
                    if e.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                        return
                    raise
            yield from response.get("Faces") or []
            token = response.get("NextToken")
            if not token:
                return

    def _delete(self, face_ids: Iterable[str], collection: str | None = None) -> int:
        ids = list(dict.fromkeys(face_ids))
        collection = collection or self.collection_id
        deleted = 0
        for start in range(0, len(ids), DELETE_BATCH):
            batch = ids[start:start + DELETE_BATCH]
            with rekognition_errors("DeleteFaces", collection, image=False):
                response = self.client.delete_faces(CollectionId=collection, FaceIds=batch)
            deleted += len(response.get("DeletedFaces") or [])
            for failure in response.get("UnsuccessfulFaceDeletions") or []:
                log.warning("face not deleted", extra={"face_id": failure.get("FaceId"), "reasons": failure.get("Reasons")})
        if ids:
            self._forget_count()
        return deleted

    def _forget_count(self) -> None:
        with self._lock:
            self._empty = None


def _centre_inside(searched: Box, expected: Box) -> bool:
    """Is the centre of the face Rekognition searched inside the face we cropped for (with some slack)?"""
    cx, cy = searched.left + searched.width / 2, searched.top + searched.height / 2
    slack_x, slack_y = expected.width * 0.2, expected.height * 0.2
    return (expected.left - slack_x <= cx <= expected.left + expected.width + slack_x
            and expected.top - slack_y <= cy <= expected.top + expected.height + slack_y)
