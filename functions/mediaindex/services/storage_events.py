"""Which use case a storage event is for: a file under the people prefix (default `people/<name>/...`) enrols or
forgets a known person; any other file is indexed or removed. The Lambda handlers and the CLI's in-process runs
(backfill, reconcile) route through this one rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from mediaindex.domain.messages import Outcome, StorageEvent
from mediaindex.services.indexing import Pipeline

if TYPE_CHECKING:
    from mediaindex.services.people import People


@dataclass
class StorageEventHandler:
    pipeline: Pipeline
    people_prefix: str | None
    people: Callable[[], People]  # the known-people use cases, built only when a people file arrives

    def __call__(self, event: StorageEvent) -> Outcome:
        if self.people_prefix and event.ref.key.startswith(self.people_prefix):
            return self.people().handle_enrolment_event(event)
        return self.pipeline.handle(event)
