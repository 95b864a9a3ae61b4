"""Amazon Rekognition behind a real boto3 client, faked at the HTTP layer.

The client is the one the adapters build (`make_client`: adaptive retries), so serialisation, error parsing and
botocore's retry machinery all run for real; only the network is replaced (botocore's `before-send` event may answer
a request itself). Every canned response is checked against Rekognition's output shape from botocore's service model,
so a response of the wrong shape fails the test instead of passing it.

Scripted answers (`script`) are served first, in order, per operation; the collection operations (CreateCollection,
DescribeCollection, IndexFaces, ListFaces, DeleteFaces) otherwise behave like a small in-memory collection.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator


@dataclass
class Error:
    code: str
    message: str
    status: int = 400


THROTTLED = Error("ThrottlingException", "Rate exceeded")
NO_FACE_IN_CROP = Error("InvalidParameterException", "There are no faces in the image. Should be at least 1.")


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any):
        yield self.body


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    raise TypeError(type(value))


class FakeRekognition:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.model = client.meta.service_model
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.scripted: dict[str, deque[Any]] = defaultdict(deque)
        self.collections: dict[str, dict[str, dict[str, Any]]] = {}
        self.page_size = 4096  # ListFaces never returns more a page; lower it to exercise pagination
        client.meta.events.register("before-send.rekognition", self._on_send)

    # ---- what the test sets up and reads ---------------------------------------------------------------------------
    def script(self, operation: str, *outcomes: Any) -> None:
        """Queue answers for `operation`: response dicts (checked against its output shape), `Error`s (the
        service's error answers) or exceptions (raised as the HTTP layer would)."""
        shape = self.model.operation_model(operation).output_shape
        for outcome in outcomes:
            if isinstance(outcome, dict):
                report = ParamValidator().validate(outcome, shape)
                assert not report.has_errors(), f"{operation} response of the wrong shape:\n{report.generate_report()}"
            self.scripted[operation].append(outcome)

    def sent(self, operation: str) -> list[dict[str, Any]]:
        """The parameters of every request made to `operation`, image bytes decoded."""
        return [params for op, params in self.requests if op == operation]

    def operations(self) -> list[str]:
        return [op for op, _ in self.requests]

    def add_collection(self, collection_id: str) -> None:
        self.collections.setdefault(collection_id, {})

    # ---- the service -----------------------------------------------------------------------------------------------
    def _on_send(self, request: Any, **_: Any) -> AWSResponse:
        target = request.headers["X-Amz-Target"]
        operation = (target.decode() if isinstance(target, bytes) else target).split(".", 1)[1]
        params = json.loads(request.body or b"{}")
        for image in params.values():  # Image, or SourceImage and TargetImage
            if isinstance(image, dict) and "Bytes" in image:
                image["Bytes"] = base64.b64decode(image["Bytes"])
        self.requests.append((operation, params))
        if self.scripted[operation]:
            outcome = self.scripted[operation].popleft()
        else:
            handler = getattr(self, f"_{operation}", None)
            if handler is None:
                raise AssertionError(f"unexpected Rekognition call {operation} (nothing scripted)")
            outcome = handler(params)
            if isinstance(outcome, dict):
                report = ParamValidator().validate(outcome, self.model.operation_model(operation).output_shape)
                assert not report.has_errors(), report.generate_report()
        if isinstance(outcome, Exception):
            raise outcome  # what the HTTP layer raises: connection refused, timeouts
        if isinstance(outcome, Error):
            body = json.dumps({"__type": outcome.code, "Message": outcome.message}).encode()
            status = outcome.status
        else:
            body = json.dumps(outcome, default=_json_default).encode()
            status = 200
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, status, headers, _Raw(body))

    # ---- a small face collection -------------------------------------------------------------------------------------
    def _faces_of(self, collection_id: str) -> dict[str, dict[str, Any]] | Error:
        if collection_id not in self.collections:
            return Error("ResourceNotFoundException", f"The collection id: {collection_id} does not exist")
        return self.collections[collection_id]

    def _CreateCollection(self, params: dict[str, Any]) -> Any:
        cid = params["CollectionId"]
        if cid in self.collections:
            return Error("ResourceAlreadyExistsException", f"The collection id: {cid} already exists")
        self.collections[cid] = {}
        return {"StatusCode": 200, "CollectionArn": f"aws:rekognition:us-east-1:123456789012:collection/{cid}",
                "FaceModelVersion": "7.0"}

    def _DescribeCollection(self, params: dict[str, Any]) -> Any:
        faces = self._faces_of(params["CollectionId"])
        if isinstance(faces, Error):
            return faces
        return {
            "FaceCount": len(faces), "UserCount": 0, "FaceModelVersion": "7.0",
            "CollectionARN": f"arn:aws:rekognition:us-east-1:123456789012:collection/{params['CollectionId']}",
            "CreationTimestamp": dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc),
        }

    def _IndexFaces(self, params: dict[str, Any]) -> Any:
        faces = self._faces_of(params["CollectionId"])
        if isinstance(faces, Error):
            return faces
        face_id, image_id = str(uuid.uuid4()), str(uuid.uuid4())
        face = {
            "FaceId": face_id, "ImageId": image_id, "ExternalImageId": params.get("ExternalImageId"),
            "BoundingBox": {"Width": 0.296, "Height": 0.236, "Left": 0.384, "Top": 0.125}, "Confidence": 99.99,
            "IndexFacesModelVersion": "7.0",
        }
        faces[face_id] = face
        detail = {"BoundingBox": face["BoundingBox"], "Confidence": 99.99, "Landmarks": [], "Pose": {"Roll": 1.2, "Yaw": -3.4, "Pitch": 5.6},
                  "Quality": {"Brightness": 80.1, "Sharpness": 92.2}}
        return {"FaceRecords": [{"Face": dict(face), "FaceDetail": detail}], "FaceModelVersion": "7.0",
                "UnindexedFaces": []}

    def _ListFaces(self, params: dict[str, Any]) -> Any:
        faces = self._faces_of(params["CollectionId"])
        if isinstance(faces, Error):
            return faces
        ordered = sorted(faces.values(), key=lambda f: f["FaceId"])
        start = int(params.get("NextToken") or 0)
        size = min(int(params.get("MaxResults") or 1000), self.page_size)
        page = [copy.deepcopy(f) for f in ordered[start:start + size]]
        response: dict[str, Any] = {"Faces": page, "FaceModelVersion": "7.0"}
        if start + size < len(ordered):
            response["NextToken"] = str(start + size)
        return response

    def _DeleteFaces(self, params: dict[str, Any]) -> Any:
        faces = self._faces_of(params["CollectionId"])
        if isinstance(faces, Error):
            return faces
        deleted = [fid for fid in params["FaceIds"] if faces.pop(fid, None) is not None]
        return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": []}
