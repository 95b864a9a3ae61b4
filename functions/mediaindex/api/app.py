"""The search API and the web gallery's files: one ASGI application (FastAPI), built by `create_app` from the
parts in a `MediaApi`, served by uvicorn on this machine (`mediaindex serve`, api/server.py) and by Mangum on
Lambda (entrypoints/aws_api.py): the same routes, the same policies, the same tests.

FastAPI (on Starlette) rather than Starlette alone: its typed path and query parameters and body models are the
validation, and the OpenAPI description at /openapi.json is generated from them, so no description is kept by
hand beside the routes. The routes are in api/routes/, one module per part of the API.

Read-only unless `writes` is on: naming and splitting a cluster, enrolling, forgetting and merging people,
hiding a face and moving duplicates to the trash (or back) answer 403 otherwise. Media, thumbnails and face crops are addressed by document id only, and only
for documents in the index.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from mediaindex import __version__
from mediaindex.api.errors import install_error_handlers
from mediaindex.api.guards import RequestShape, SecurityHeaders
from mediaindex.api.parts import MediaApi
from mediaindex.api.routes import documents, duplicates, library, page, people, search

DESCRIPTION = (
    "Search images and videos by what is in them; see thumbnails, faces and video timelines. Read-only unless the "
    "server was started with --allow-writes (MEDIAINDEX_API_WRITES=1 on AWS): the POST routes answer 403 otherwise. "
    "Files are addressed by document id only. Errors are JSON objects with `error` (a message for people) and "
    "`status`."
)
TAGS = [
    {"name": "page", "description": "The web gallery's files"},
    {"name": "search", "description": "Search with the query syntax and facet filters"},
    {"name": "documents", "description": "One indexed file, its bytes, thumbnail and faces"},
    {"name": "people", "description": "Known people and clusters of unnamed faces"},
    {"name": "library", "description": "The timeline, places and map of the library"},
    {"name": "duplicates", "description": "Copies to clean up (moved to a trash folder, restorable) and look-alikes"},
]


def create_app(api: MediaApi) -> FastAPI:
    """The application over these parts. No /docs page: its script and style would come from a CDN, which the
    Content-Security-Policy refuses; the description itself is at /openapi.json."""
    app = FastAPI(title="mediaindex search API", version=__version__, description=DESCRIPTION, openapi_tags=TAGS,
                  docs_url=None, redoc_url=None, license_info={"name": "MIT", "identifier": "MIT"})
    app.state.api = api
    for module in (page, search, documents, people, library, duplicates):
        app.include_router(module.router)
    install_error_handlers(app)
    describe_errors(app)
    app.add_middleware(RequestShape)
    app.add_middleware(SecurityHeaders, media_origin=api.media.media_origin)
    return app


ERROR_SCHEMA = {
    "type": "object", "required": ["error", "status"],
    "properties": {"error": {"type": "string", "description": "What went wrong, for people"},
                   "status": {"type": "integer"}},
    "additionalProperties": True,
}


def describe_errors(app: FastAPI) -> None:
    """The description says what the API answers: errors are `Error` objects, and a bad parameter or body is a
    400 (errors.py), where FastAPI's generated description would say 422 with its own schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        components["Error"] = ERROR_SCHEMA
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                if responses.pop("422", None) is not None:
                    responses["400"] = {"description": "A bad parameter or body: the error says which", "content": error}
                responses.setdefault("404", {"description": "No such document, face or route", "content": error})
                for code, answer in responses.items():
                    if code[0] in "45" and "content" not in answer:
                        answer["content"] = error
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def flag(value: str | None) -> bool:
    """An on/off environment setting: 1, true, yes, on."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
