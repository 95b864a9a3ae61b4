"""What the routes work with (`MediaApi`: the index, the files behind documents, renderings, the known-people use
cases) and how a route asks for it (`Api`). Apart from app.py so that the routes and the application that includes
them do not import each other."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable

from fastapi import Depends, Request

from mediaindex.api.errors import ApiError
from mediaindex.domain.document import SearchDocument
from mediaindex.domain.errors import ConfigurationError
from mediaindex.domain.vocabulary import Status
from mediaindex.ports import Index, MediaFiles, RenderingCache

log = logging.getLogger(__name__)


@dataclass
class MediaApi:
    """What the routes work with: the index, the files behind documents, and the known-people use cases."""

    index: Index
    media: MediaFiles
    thumbnails: RenderingCache | None = None
    # builds the known-people service on first use (it may load models or need settings that are absent)
    people_factory: Callable[[], Any] | None = None
    writes: bool = False
    # where the page sends people to sign in when the API answers 401 (API Gateway's JWT authorizer)
    login_url: str | None = None
    # what the analyzer reports, so a search for what it never does is told so (domain/capabilities.py)
    capabilities: Any = None
    # builds the image-text embedder of search by description on first use (None: keywords only)
    describer_factory: Callable[[], Any] | None = None
    vectors_factory: Callable[[], Any] | None = None  # the pictures' vectors by content, for the describer
    max_pixels: int = 150_000_000
    # look-alike vectors by content (ports.PictureVectors; None with Rekognition): `similar:` and duplicates
    vectors: Any = None
    # builds the trash (services/trash.py) on first use: the embedded default only (None: the API refuses, 409)
    trash_factory: Callable[[], Any] | None = None
    _trash: Any = field(default=None, init=False)
    _people: Any = field(default=None, init=False)
    _people_error: str | None = field(default=None, init=False)
    _describer: Any = field(default=None, init=False)
    _vectors: Any = field(default=None, init=False)
    _describer_built: bool = field(default=False, init=False)
    write_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _people_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def document(self, doc_id: str) -> SearchDocument:
        found = self.index.get(doc_id)
        if found is None or found.doc.get("status") not in (Status.INDEXED, Status.FAILED):
            raise ApiError(404, "no such document in the index")
        return found.doc

    def trash(self) -> Any:
        if self.trash_factory is None:
            raise ApiError(409, "moving files to the trash works on this machine's embedded index only "
                                "(`mediaindex serve`); here, remove copies where the files are kept")
        with self._people_lock:
            if self._trash is None:
                self._trash = self.trash_factory()
        return self._trash

    def describer(self) -> Any:
        """The embedder of search by description, built once; None when it is off or cannot be built (logged)."""
        with self._people_lock:
            if not self._describer_built:
                self._describer_built = True
                if self.describer_factory is not None:
                    try:
                        self._describer = self.describer_factory()
                        if self._describer is not None and self.vectors_factory is not None:
                            self._vectors = self.vectors_factory()
                    except ConfigurationError as e:
                        log.warning("search by description is off: %s", e)
        return self._describer

    def meaning_vectors(self) -> Any:
        """Where the pictures' meaning vectors are kept (built with the describer); None when it is off."""
        self.describer()
        return self._vectors

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
            raise ApiError(409, self._people_error or "known people are not available")
        return self._people


def the_api(request: Request) -> MediaApi:
    api: MediaApi = request.app.state.api
    return api


# what a route declares to get the API's parts: `def search(api: Api, ...)`
Api = Annotated[MediaApi, Depends(the_api)]
