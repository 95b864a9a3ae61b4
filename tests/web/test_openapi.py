"""The hand-written OpenAPI 3.1 document is valid and describes every route the router serves, and nothing else."""

from __future__ import annotations

from openapi_spec_validator import validate

from mediaindex.api.app import MediaApi, openapi_document
from mediaindex.api.media import FolderMedia
from mediaindex.api.http import PARAM_PATTERNS


def routes() -> set[tuple[str, str]]:
    api = MediaApi(index=None, media=FolderMedia())  # type: ignore[arg-type]  # routes only, nothing is called
    return {(r.method.lower(), r.template) for r in api.router.routes}


def test_document_is_valid_openapi_3_1():
    spec = openapi_document()
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_route_is_described_and_nothing_more():
    spec = openapi_document()
    described = {(method, path) for path, item in spec["paths"].items() for method in item
                 if method in ("get", "post", "put", "delete", "patch")}
    assert described == routes()


def test_path_parameters_match_the_router():
    spec = openapi_document()
    for path, item in spec["paths"].items():
        names = {p.strip("{}") for p in path.split("/") if p.startswith("{")}
        assert names <= set(PARAM_PATTERNS), path
        declared = set()
        for param in item.get("parameters", []) + [p for op in item.values() if isinstance(op, dict)
                                                   for p in op.get("parameters", [])]:
            if "$ref" in param:
                param = spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[-1]]
            if param["in"] == "path":
                declared.add(param["name"])
        assert declared == names, path


def test_write_routes_are_the_posts_and_say_they_may_be_refused():
    api = MediaApi(index=None, media=FolderMedia())  # type: ignore[arg-type]
    spec = openapi_document()
    for route in api.router.routes:
        assert route.write == (route.method == "POST")
        if route.write:
            assert "403" in spec["paths"][route.template]["post"]["responses"]


def test_served_document_is_the_same():
    from mediaindex.api.http import Request

    api = MediaApi(index=None, media=FolderMedia())  # type: ignore[arg-type]
    response = api.handle(Request.build("GET", "/openapi.json"))
    assert response.status == 200 and response.headers["Content-Type"].startswith("application/json")
    import json

    assert json.loads(response.body) == openapi_document()
