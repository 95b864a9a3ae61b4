"""The web gallery: its page, its two files (a fixed list, so no client-given name reaches the file system), and
the settings it reads first."""

from __future__ import annotations

from importlib import resources
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from mediaindex import __version__
from mediaindex.api.parts import Api
from mediaindex.domain.expressions import FACETS

router = APIRouter(tags=["page"])

STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
MAX_LIMIT = 200


def _static(name: str) -> bytes:
    return resources.files("mediaindex.api").joinpath("static", name).read_bytes()


@router.get("/", summary="The web gallery (HTML)", response_class=Response,
            responses={200: {"content": {"text/html": {}}, "description": "The page"}})
def page() -> Response:
    return Response(_static("index.html"), headers={"Cache-Control": "no-cache"},
                    media_type="text/html; charset=utf-8")


@router.get("/assets/{name}", summary="The page's script and style sheet", response_class=Response,
            responses={200: {"content": {"text/javascript": {}, "text/css": {}}, "description": "The file"}})
def asset(name: Literal["app.js", "style.css"]) -> Response:
    return Response(_static(name), headers={"Cache-Control": "no-cache"}, media_type=STATIC_FILES[name])


class Config(BaseModel):
    version: str
    writes: bool
    facets: list[str]
    max_limit: int
    login_url: str | None


@router.get("/api/config", summary="What this server allows")
def config(api: Api) -> Config:
    return Config(version=__version__, writes=api.writes, facets=list(FACETS), max_limit=MAX_LIMIT,
                  login_url=api.login_url)
