"""The OpenAPI 3.1 description is generated from the routes: it is valid, the served document lists every route the
application answers (and nothing else), every path parameter is typed, and the write routes say they may be
refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from openapi_spec_validator import validate
from starlette.testclient import TestClient

from mediaindex.adapters.media.folder import FolderMedia
from mediaindex.api.app import MediaApi, create_app
from mediaindex.api.guards import WriteRoute


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app(MediaApi(index=None, media=FolderMedia()))  # type: ignore[arg-type]  # routes only


@pytest.fixture(scope="module")
def served(app) -> dict[str, Any]:
    response = TestClient(app, base_url="http://127.0.0.1").get("/openapi.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    return response.json()


def routes(app) -> list[APIRoute]:
    """Every route the application answers, through the routers it includes."""
    return [c.original_route for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]


def test_the_served_document_is_valid_openapi_3_1(served):
    assert served["openapi"].startswith("3.1")
    validate(served)


def test_every_route_is_described_and_nothing_more(app, served):
    answered = {(method.lower(), r.path) for r in routes(app) for method in r.methods}
    described = {(method, path) for path, item in served["paths"].items() for method in item}
    assert described == answered
    assert len(answered) == 27  # the page, its assets, config, search, stats, 6 document routes, 7 people routes,
    # the library: timeline, places, map, map/countries; and duplicates: the report, a file's look-alikes, the trash's
    # batches, moving to the trash and restoring


def test_path_parameters_are_typed_and_constrained(served):
    for path, item in served["paths"].items():
        names = {p.strip("{}") for p in path.split("/") if p.startswith("{")}
        for operation in item.values():
            declared = {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert set(declared) == names, path
            for name, schema in declared.items():
                # every path parameter is a pattern, a bounded number or a fixed list: nothing free reaches a handler
                assert "pattern" in schema or "maximum" in schema or "enum" in schema, (path, name, schema)


def test_write_routes_are_the_posts_and_say_they_may_be_refused(app, served):
    for route in routes(app):
        assert isinstance(route, WriteRoute) == ("POST" in route.methods), route.path
        if "POST" in route.methods:
            operation = served["paths"][route.path]["post"]
            assert "403" in operation["responses"]
            if route.body_field is not None:  # a JSON body, described by its model
                assert "415" in operation["responses"] and "requestBody" in operation


def test_query_parameters_carry_their_bounds(served):
    parameters = {p["name"]: p["schema"] for p in served["paths"]["/api/search"]["get"]["parameters"]}
    assert parameters["limit"]["maximum"] == 200 and parameters["limit"]["minimum"] == 0
    assert {"q", "label", "person", "emotion", "place", "type", "sort", "failed", "offset", "limit"} <= set(parameters)
