"""Realistic documents for the index contract, built the way the indexing use case builds them (document.py
from an Analysis), plus a failed document and a tombstone. Shared by the contract, property and backoff tests."""

from __future__ import annotations

import hashlib
import random
from typing import Any

from mediaindex.domain import document as docs
from mediaindex.domain.model import Analysis, Box, Emotion, Face, Instance, Label, Pose, Quality, TextLine

BUCKET = "media"


def label(name: str, confidence: float, parents=(), aliases=(), categories=(), boxes: int = 0) -> Label:
    return Label(
        name, confidence, list(parents), list(categories), list(aliases),
        [Instance(Box(0.1 * i, 0.1, 0.2, 0.3), confidence - i) for i in range(boxes)],
    )


def face(
    emotion: str | None = "CALM", emotion_confidence: float = 90.0, smile=False, eyeglasses=False, sunglasses=False,
    beard=False, mustache=False, gender="Male", age=(25, 35), person: str | None = None,
) -> Face:
    emotions = []
    if emotion:
        emotions = [Emotion(emotion, emotion_confidence)] + [
            Emotion(other, round((100 - emotion_confidence) / 7, 3))
            for other in ("HAPPY", "SAD", "ANGRY", "CONFUSED", "DISGUSTED", "SURPRISED", "CALM", "FEAR") if other != emotion
        ]
    return Face(
        Box(0.3, 0.2, 0.2, 0.25), 99.9, age[0] if age else None, age[1] if age else None, gender, emotions, smile,
        eyeglasses, sunglasses, beard, mustache, True, smile, Pose(1.0, -2.0, 3.0), Quality(80.0, 70.0),
        person=person, face_id=f"face-{person}" if person else None, similarity=97.5 if person else None,
    )


def make_doc(
    key: str, analysis: Analysis | None = None, taken_at: str | None = None, indexed_at: str = "2024-06-01T10:00:00.000Z",
    media_type: str = "image", status: str = docs.INDEXED, error: str | None = None, content: bytes | None = None,
    video: dict[str, Any] | None = None,
) -> dict[str, Any]:
    content = content if content is not None else key.encode()
    doc = {
        **docs.base_document(BUCKET, key, None),
        "indexed_at": indexed_at,
        "status": status,
        "error": error,
        "media_type": media_type,
        "content_type": "video/mp4" if media_type == "video" else "image/jpeg",
        "size": len(content),
        "etag": hashlib.md5(content).hexdigest(),
        "content_sha256": hashlib.sha256(content).hexdigest(),
        "last_modified": indexed_at,
        "width": 640, "height": 480, "taken_at": taken_at, "camera": "Canon EOS 5D",
        "location": {"lat": 48.8566, "lon": 2.3522},
        "sequencer": None,
    }
    if analysis is not None:
        doc.update(docs.analysis_fields(analysis))
    else:
        doc.update(face_count=0)
    if video is not None:
        doc["video"] = video
    return doc


DOG = dict(parents=["Animal", "Pet", "Mammal", "Canine"], categories=["Animals and Pets"])


def corpus() -> list[dict[str, Any]]:
    """A dozen files covering every query feature; tests below name them by key."""
    a = lambda *labels, faces=(), text=(): Analysis("rekognition", list(labels), list(faces), [TextLine(t, 99.0) for t in text],  # noqa: E731
                                                   model_versions={"labels": "3.0"})
    return [
        make_doc("holidays/2024/IMG_0001.jpg", a(
            label("Dog", 97.2, **DOG, boxes=2), label("Animal", 97.2), label("Beach", 88.0, parents=["Outdoors"]),
            faces=[face("HAPPY", 96.0, smile=True, gender="Female", age=(28, 36), person="Ada Lovelace")],
            text=["Happy Birthday Ada"]), taken_at="2024-07-14T12:30:00", indexed_at="2024-07-15T08:00:00.000Z"),
        make_doc("holidays/2024/IMG_0002.jpg", a(
            label("Siberian Husky", 71.5, aliases=["Husky"], **DOG), label("Snow", 93.0, parents=["Outdoors", "Nature"])),
            taken_at="2024-01-02T09:00:00", indexed_at="2024-07-15T08:00:01.000Z"),
        make_doc("holidays/2023/beach party.jpg", a(
            label("Person", 99.1), label("Beach", 95.5, parents=["Outdoors"]), label("Dog", 55.0, **DOG),
            faces=[face("HAPPY", 92.0, smile=True, beard=True, age=(40, 50), person="Barack Obama"),
                   face("SURPRISED", 70.0, sunglasses=True, gender="Female", age=(8, 12)),
                   face("CALM", 80.0, eyeglasses=True, mustache=True, age=(60, 70))],
            text=["Birthday party", "happy"]), taken_at="2023-08-20T18:00:00", indexed_at="2024-07-15T08:00:02.000Z"),
        make_doc("people/barack/portrait.jpg", a(
            label("Person", 99.8), label("Suit", 90.0, parents=["Clothing"]),
            faces=[face("CALM", 97.0, age=(55, 65), person="Barack Obama")]),
            taken_at="2012-11-06T22:00:00", indexed_at="2024-07-15T08:00:03.000Z"),
        make_doc("people/michelle/portrait.jpg", a(
            label("Person", 99.5),
            faces=[face("HAPPY", 88.0, smile=True, gender="Female", age=(45, 55), person="Michelle Obama")]),
            taken_at="2013-01-21T12:00:00", indexed_at="2024-07-15T08:00:04.000Z"),
        make_doc("cats/Élodie's cat.png", a(
            label("Cat", 92.5, parents=["Animal", "Pet", "Mammal"]), label("Animal", 92.5),
            text=["Café de Flore"]), taken_at=None, indexed_at="2024-07-16T10:00:00.000Z"),
        make_doc("cats/kitten.jpg", a(label("Cat", 60.0, parents=["Animal", "Pet", "Mammal"]), label("Animal", 60.0)),
                 taken_at="2020-02-29T23:59:59", indexed_at="2024-07-16T10:00:01.000Z"),
        make_doc("street/car.jpg", a(
            label("Car", 98.0, parents=["Vehicle", "Transportation"], boxes=3), label("Road", 85.0),
            faces=[face("SAD", 65.0, sunglasses=True, age=(20, 30)), face(None, age=None, gender=None)],
            text=["STOP", "Main Street"]), taken_at="2021-12-31T23:00:00", indexed_at="2024-07-16T10:00:02.000Z"),
        make_doc("video/hamilton.mp4", a(
            label("Person", 96.0), label("Stage", 80.0),
            faces=[face("HAPPY", 75.0, smile=True, person="Barack Obama", age=(50, 60))]),
            media_type="video", taken_at="2019-05-05T19:00:00", indexed_at="2024-07-16T10:00:03.000Z",
            video={"duration": 12.5, "codec": "h264", "fps": 25.0, "width": 1280, "height": 720,
                   "segments": {"people": [{"name": "Barack Obama", "start": 1.0, "end": 6.0}],
                                "labels": [{"name": "Stage", "start": 0.0, "end": 12.5}]}}),
        make_doc("misc/empty.jpg", None, status=docs.FAILED, error="empty_file: the file is empty",
                 taken_at=None, indexed_at="2024-07-16T11:00:00.000Z", content=b""),
        make_doc("misc/broken.heic", None, status=docs.FAILED, error="corrupt: cannot decode HEIC",
                 taken_at=None, indexed_at="2024-07-16T11:00:01.000Z"),
        {**docs.tombstone(BUCKET, "holidays/2024/deleted dog.jpg", "0055AED6DCD90281E5"),
         "indexed_at": "2024-07-16T12:00:00.000Z"},
    ]


def tombstone_with_dog() -> dict[str, Any]:
    """A tombstone that still carries a dog label (as if written carelessly): it must stay invisible anyway."""
    doc = make_doc("holidays/2024/ghost.jpg", Analysis("rekognition", [label("Dog", 99.0, **DOG)]),
                   indexed_at="2024-07-17T00:00:00.000Z")
    doc["status"] = docs.DELETED
    return doc


# ---- random documents (the property test and the benchmark) ---------------------------------------------------------
LABEL_POOL = [
    ("Dog", DOG), ("Cat", dict(parents=["Animal", "Pet", "Mammal"])), ("Siberian Husky", dict(aliases=["Husky"], **DOG)),
    ("Beach", dict(parents=["Outdoors"])), ("Snow", dict(parents=["Outdoors", "Nature"])), ("Person", {}),
    ("Car", dict(parents=["Vehicle"])), ("Tree", dict(parents=["Plant", "Nature"])), ("Cake", dict(parents=["Food"])),
    ("Bicycle", dict(parents=["Vehicle"])),
]
PEOPLE_POOL = ["Ada Lovelace", "Barack Obama", "Michelle Obama", "Grace Hopper"]
EMOTION_POOL = ["HAPPY", "SAD", "CALM", "SURPRISED", "ANGRY"]
WORD_POOL = ["happy", "birthday", "stop", "café", "flore", "main", "street", "party", "ada", "snow"]
FOLDERS = ["holidays/2023/", "holidays/2024/", "people/", "street/", "cats/", "misc/"]


def random_doc(rng: random.Random, n: int, statuses=True) -> dict[str, Any]:
    labels = [
        label(name, round(rng.uniform(50, 100), 1), **extra)
        for name, extra in rng.sample(LABEL_POOL, rng.randint(0, 4))
    ]
    faces = [
        face(rng.choice(EMOTION_POOL + [None]), round(rng.uniform(40, 99), 1), smile=rng.random() < 0.4,
             eyeglasses=rng.random() < 0.2, sunglasses=rng.random() < 0.1, beard=rng.random() < 0.2,
             mustache=rng.random() < 0.1, gender=rng.choice(["Male", "Female", None]),
             age=rng.choice([None, (rng.randint(0, 40), rng.randint(41, 90))]),
             person=rng.choice(PEOPLE_POOL + [None, None]))
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3]))
    ]
    text = [" ".join(rng.sample(WORD_POOL, rng.randint(1, 3))).title()] if rng.random() < 0.3 else []
    key = f"{rng.choice(FOLDERS)}{rng.choice(WORD_POOL)}_{n:06d}.{rng.choice(['jpg', 'png', 'mp4'])}"
    status = rng.choices([docs.INDEXED, docs.FAILED, docs.DELETED], [90, 5, 5])[0] if statuses else docs.INDEXED
    taken = None if rng.random() < 0.2 else (
        f"{rng.randint(2010, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00")
    indexed = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00.000Z"
    if status == docs.INDEXED:
        return make_doc(key, Analysis("local", labels, faces, [TextLine(t, 90.0) for t in text]), taken_at=taken,
                        indexed_at=indexed, media_type="video" if key.endswith(".mp4") else "image",
                        content=f"content-{n % 5000}".encode())
    if status == docs.FAILED:
        return make_doc(key, None, status=status, error="corrupt: bad bytes", indexed_at=indexed, taken_at=taken)
    return {**docs.tombstone(BUCKET, key, None), "indexed_at": indexed}


def plain_doc(key: str, labels=(), people=(), place=None, taken_at=None, camera=None, lens=None, width=4032,
              height=3024, content_type="image/jpeg", indexed_at="2026-01-01T00:00:00.000Z") -> dict[str, Any]:
    """A small indexed document: labels as (name, confidence, parents), a place, a date, a camera, a size."""
    entries = [{"name": name, "confidence": confidence, "aliases": [], "parents": list(parents), "broader": [],
                "categories": [], "instances": [],
                "names": sorted({name.lower(), *(p.lower() for p in parents)})}
               for name, confidence, parents in labels]
    return {**docs.base_document("b", key, None), "indexed_at": indexed_at, "status": "indexed",
            "media_type": "image", "content_type": content_type, "labels": entries,
            "label_names": sorted({n for e in entries for n in e["names"]}), "faces": [], "people": list(people),
            "place": place, "taken_at": taken_at, "camera": camera, "lens": lens, "width": width, "height": height}


PARIS = {"city": "Boulogne-Billancourt", "region": "Ile-de-France", "country": "France", "country_code": "FR",
         "metro": "Paris", "names": ["boulogne billancourt", "paris", "ile de france", "france", "fr"]}
NEW_YORK = {"city": "New York City", "region": "New York", "country": "United States", "country_code": "US",
            "metro": None, "names": ["new york city", "new york", "united states", "usa", "us"]}
