"""Settings, read from the environment (Lambda, `mediaindex invoke`) and overridable by CLI options.

| variable | meaning | default |
|---|---|---|
| MEDIAINDEX_HOME | where the embedded default keeps its files | ~/.mediaindex |
| MEDIAINDEX_INDEX | `sqlite:///PATH`, or an `http(s)://` OpenSearch URL | sqlite:///$MEDIAINDEX_HOME/index.db |
| MEDIAINDEX_INDEX_NAME | OpenSearch index alias / SQLite table prefix | media |
| MEDIAINDEX_OPENSEARCH_AUTH | `sigv4` (Amazon OpenSearch Service), `basic`, `none`; `auto`: sigv4 for *.amazonaws.com | auto |
| MEDIAINDEX_OPENSEARCH_USER / _PASSWORD | basic auth for a self-hosted cluster | |
| MEDIAINDEX_INDEX_REPLICAS | OpenSearch replicas of each shard (the stack: 0 on one data node, where a replica can never be placed) | the cluster's (1) |
| MEDIAINDEX_ANALYZER | `rekognition` or `local` | local |
| MEDIAINDEX_COLLECTION | the Rekognition face collection id | mediaindex-faces |
| MEDIAINDEX_LIBRARY_COLLECTION | a second Rekognition collection holding every indexed picture's faces (one IndexFaces per picture with faces), so an enrolment finds the faces that match the new person with one search instead of one search a face | |
| MEDIAINDEX_MIN_CONFIDENCE | labels below this confidence (0-100) are dropped | 55 |
| MEDIAINDEX_MAX_LABELS | at most this many labels per picture | 50 |
| MEDIAINDEX_FEATURES | comma list of analyses: labels, faces, people, text, moderation, celebrities (Rekognition only) | labels,faces,people,text |
| MEDIAINDEX_TEXT | when `text` is listed: `auto` reads text on pictures likely to hold it, `always` on every picture, `never` on none | auto |
| MEDIAINDEX_FACE_MATCH_THRESHOLD | minimum similarity (0-100) to name a face | 80 |
| MEDIAINDEX_MAX_PIXELS | larger images are refused (decompression bombs) | 150000000 |
| MEDIAINDEX_VIDEO_INTERVAL | seconds between sampled video frames | 6 |
| MEDIAINDEX_VIDEO_SKIP_THRESHOLD | mean grey difference (0-255) under which a frame counts as unchanged | 2 |
| MEDIAINDEX_VIDEO_FOLLOW_FRAMES | frames after each sample searched for the same faces (local analyzer; 0: off) | 2 |
| MEDIAINDEX_VIDEO_SHOTS | also sample the first frame of each new shot between the regular samples (1: on, 0: off) | 1 |
| MEDIAINDEX_MAX_VIDEO_BYTES | larger videos get a `failed` document (read from its file, or from S3 through a temporary file in TMPDIR: never held in memory) | 2 GiB |
| MEDIAINDEX_MAX_VIDEO_SECONDS | longer videos (by their header, or by their frames) get a `failed` document | 21600 (6 h) |
| MEDIAINDEX_VIDEO_STATE_TABLE | DynamoDB table keeping a long video's partial timeline between invocations | |
| MEDIAINDEX_QUEUE_URL | the pipeline's SQS queue: backfill feeds it, a long video continues through it | |
| MEDIAINDEX_REMATCH_STEP_CALLS | with Rekognition and a queue: the paid calls one step of re-matching the library after an enrolment makes before it continues in a new invocation through the queue | 200 |
| MEDIAINDEX_PEOPLE_PREFIX | on S3, files under this prefix enrol known people (`people/<name>/...`) | people/ |
| MEDIAINDEX_DLQ_URL | SQS queue that receives a message, with its reason, once retries are spent | |
| MEDIAINDEX_MAX_RECEIVES | deliveries of one SQS message before it is dead-lettered with its reason | 5 |
| MEDIAINDEX_MODELS_DIR | a folder of model files that replace the packaged ones (local analyzer), and of the CLIP models `mediaindex models install` puts there | |
| MEDIAINDEX_DESCRIPTIONS | search by description: `off`; `bedrock` or `bedrock:256`/`:384`/`:1024` (Titan Multimodal Embeddings, output length, 1024 by default); `clip:NAME` (a CLIP model installed in MEDIAINDEX_MODELS_DIR) | off |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Literal, Mapping
from urllib.parse import urlparse

from mediaindex.domain.errors import ConfigurationError

ALL_FEATURES = ("labels", "faces", "people", "text", "moderation", "celebrities")
# A step of re-matching the library after an enrolment (Rekognition, on Lambda): at most this many paid calls, one
# SearchFacesByImage per face. A call with its share of reading and cropping the photo takes 0.2-0.6 s, so a step
# takes at most about two minutes, well inside the function's 300 s.
DEFAULT_REMATCH_STEP_CALLS = 200
DEFAULT_FEATURES = ("labels", "faces", "people", "text")
# When the "text" feature reads text: "auto" on pictures a cheap first look says likely hold some (screenshots,
# documents, signs: the local analyzer's text gate, the Rekognition analyzer's labels), "always" on every picture
# (what listing "text" meant before this setting), "never" on none (as if "text" were not listed).
TEXT_MODES = ("auto", "always", "never")
TITAN_LENGTHS = (256, 384, 1024)


def parse_descriptions(value: str | None) -> str:
    """MEDIAINDEX_DESCRIPTIONS checked and written one way: `off`, `bedrock:LENGTH` or `clip:NAME`."""
    text = (value or "off").strip()
    lowered = text.lower()
    if lowered in ("", "off", "none", "0", "false", "no"):
        return "off"
    kind, _, arg = text.partition(":")
    if kind.lower() == "bedrock":
        length = arg.strip() or "1024"
        if not length.isdigit() or int(length) not in TITAN_LENGTHS:
            raise ConfigurationError(f"MEDIAINDEX_DESCRIPTIONS={text!r}: Titan's output length is one of "
                                     f"{', '.join(map(str, TITAN_LENGTHS))}")
        return f"bedrock:{int(length)}"
    if kind.lower() == "clip" and arg.strip():
        name = arg.strip()
        if not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
            raise ConfigurationError(f"MEDIAINDEX_DESCRIPTIONS={text!r}: a model name is letters, digits, - _ .")
        return f"clip:{name}"
    raise ConfigurationError(f"MEDIAINDEX_DESCRIPTIONS={text!r}: use off, bedrock[:256|384|1024] or clip:NAME "
                             "(mediaindex models list)")


@dataclass(frozen=True)
class IndexUrl:
    """MEDIAINDEX_INDEX (or --index) read once: which backend it names and where. A URL that names neither keeps
    its `problem`: building the index refuses it with that message, while what only asks where faces.db goes (the
    `analyze` command) carries on as before."""

    url: str
    backend: Literal["sqlite", "opensearch"] | None
    # sqlite:///PATH as SQLAlchemy writes it: a relative path, /an/absolute/one, or :memory:
    sqlite_path: str | None = None
    # an OpenSearch endpoint: its host name, and whether it is reached over TLS
    host: str | None = None
    secure: bool = False
    problem: str | None = None

    @classmethod
    def parse(cls, url: str) -> "IndexUrl":
        if url.startswith("sqlite://"):
            path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
            if not path:
                return cls(url, "sqlite", problem=f"MEDIAINDEX_INDEX={url!r}: write sqlite:///relative.db or "
                                                  "sqlite:////abs/path.db")
            return cls(url, "sqlite", sqlite_path=path)
        if url.startswith(("http://", "https://")):
            parsed = urlparse(url)
            if not parsed.hostname:
                return cls(url, "opensearch", problem=f"OpenSearch URL {url!r}: write https://host[:port]")
            return cls(url, "opensearch", host=parsed.hostname, secure=parsed.scheme == "https")
        return cls(url, None, problem=f"MEDIAINDEX_INDEX={url!r}: use sqlite:///PATH or an http(s):// OpenSearch URL")

    @property
    def is_opensearch(self) -> bool:
        return self.backend == "opensearch"

    def sqlite_file(self) -> Path | None:
        """The SQLite index's file, None for an index in memory or not in SQLite."""
        if self.sqlite_path is None or self.sqlite_path == ":memory:":
            return None
        return Path(self.sqlite_path).expanduser()


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path.home() / ".mediaindex")
    index_url: str | None = None
    index_name: str = "media"
    opensearch_auth: str = "auto"
    opensearch_user: str | None = None
    opensearch_password: str | None = None
    index_replicas: int | None = None
    aws_region: str | None = None
    analyzer: str = "local"
    collection_id: str = "mediaindex-faces"
    library_collection_id: str | None = None
    min_confidence: float = 55.0
    max_labels: int = 50
    features: tuple[str, ...] = DEFAULT_FEATURES
    text: str = "auto"  # one of TEXT_MODES
    face_match_threshold: float = 80.0
    max_pixels: int = 150_000_000
    video_interval: float = 6.0
    video_skip_threshold: float = 2.0
    video_follow_frames: int = 2
    video_shots: bool = True
    max_video_bytes: int = 2 * 1024**3
    max_video_seconds: float = 6 * 3600.0
    video_state_table: str | None = None
    queue_url: str | None = None
    rematch_step_calls: int = DEFAULT_REMATCH_STEP_CALLS
    # set by the Lambda handler only (never from the environment): with a queue_url, the re-match after an
    # enrolment runs in steps of rematch_step_calls calls that continue through the queue
    rematch_in_steps: bool = False
    people_prefix: str = "people/"
    dlq_url: str | None = None
    max_receives: int = 5
    models_dir: Path | None = None
    # search by description (parse_descriptions): "off", "bedrock:LENGTH" or "clip:NAME"
    descriptions: str = "off"

    @property
    def resolved_index_url(self) -> str:
        return self.index_url or f"sqlite:///{self.home / 'index.db'}"

    @property
    def index_location(self) -> IndexUrl:
        return IndexUrl.parse(self.resolved_index_url)

    def beside_index(self, name: str) -> Path:
        """A file the index keeps beside it (`faces.db`, `vectors.db`): next to a SQLite index file (named
        `<stem>.<name>` unless the index is `index.db`, so each index has its own), else in MEDIAINDEX_HOME."""
        index_path = self.index_location.sqlite_file()
        if index_path is not None:
            return index_path.parent / (name if index_path.stem == "index" else f"{index_path.stem}.{name}")
        return Path(self.home).expanduser() / name

    def has(self, feature: str) -> bool:
        if feature == "text" and self.text == "never":
            return False
        return feature in self.features

    @property
    def every_picture_features(self) -> tuple[str, ...]:
        """The features that cost a call on every picture: "text" only when it is read always (in `auto` the
        Rekognition analyzer calls DetectText only on pictures its labels say hold text); "library_faces" (not a
        feature one lists) when the pictures' faces are kept in a library face collection."""
        every = tuple(f for f in self.features if f != "text" or self.text == "always")
        # with a library face collection, the faces of (at most) every picture are indexed into it as well
        return every + (("library_faces",) if self.library_collection_id and self.has("people") else ())

    def with_overrides(self, **changes: Any) -> "Settings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(f"MEDIAINDEX_{name}")
            return value if value not in (None, "") else None

        def number(name: str, default: float, kind: Callable[[str], float] = float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                return kind(raw)
            except ValueError:
                raise ConfigurationError(f"MEDIAINDEX_{name}={raw!r} is not a number") from None

        analyzer = (get("ANALYZER") or "local").lower()
        if analyzer not in ("local", "rekognition"):
            raise ConfigurationError(f"MEDIAINDEX_ANALYZER={analyzer!r}: use 'local' or 'rekognition'")
        features = tuple(f.strip().lower() for f in (get("FEATURES") or ",".join(DEFAULT_FEATURES)).split(",") if f.strip())
        unknown = sorted(set(features) - set(ALL_FEATURES))
        if unknown:
            raise ConfigurationError(f"MEDIAINDEX_FEATURES: unknown {unknown}; choose from {', '.join(ALL_FEATURES)}")
        text = (get("TEXT") or "auto").strip().lower()
        if text not in TEXT_MODES:
            raise ConfigurationError(f"MEDIAINDEX_TEXT={text!r}: use {', '.join(TEXT_MODES)}")
        home = Path(get("HOME") or Path.home() / ".mediaindex").expanduser()
        models_dir = get("MODELS_DIR")
        return cls(
            home=home,
            index_url=get("INDEX"),
            index_name=get("INDEX_NAME") or "media",
            opensearch_auth=(get("OPENSEARCH_AUTH") or "auto").lower(),
            index_replicas=None if get("INDEX_REPLICAS") is None else int(number("INDEX_REPLICAS", 0, int)),
            opensearch_user=get("OPENSEARCH_USER"),
            opensearch_password=get("OPENSEARCH_PASSWORD"),
            aws_region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
            analyzer=analyzer,
            collection_id=get("COLLECTION") or "mediaindex-faces",
            library_collection_id=get("LIBRARY_COLLECTION"),
            min_confidence=number("MIN_CONFIDENCE", 55.0),
            max_labels=int(number("MAX_LABELS", 50, int)),
            features=features,
            text=text,
            face_match_threshold=number("FACE_MATCH_THRESHOLD", 80.0),
            max_pixels=int(number("MAX_PIXELS", 150_000_000, int)),
            video_interval=number("VIDEO_INTERVAL", 6.0),
            video_skip_threshold=number("VIDEO_SKIP_THRESHOLD", 2.0),
            video_follow_frames=int(number("VIDEO_FOLLOW_FRAMES", 2, int)),
            video_shots=(get("VIDEO_SHOTS") or "1").strip().lower() not in ("0", "false", "no", "off"),
            max_video_bytes=int(number("MAX_VIDEO_BYTES", 2 * 1024**3, int)),
            max_video_seconds=number("MAX_VIDEO_SECONDS", 6 * 3600.0),
            video_state_table=get("VIDEO_STATE_TABLE"),
            queue_url=get("QUEUE_URL"),
            rematch_step_calls=int(number("REMATCH_STEP_CALLS", DEFAULT_REMATCH_STEP_CALLS, int)),
            people_prefix=get("PEOPLE_PREFIX") or "people/",
            dlq_url=get("DLQ_URL"),
            max_receives=int(number("MAX_RECEIVES", 5, int)),
            models_dir=Path(models_dir).expanduser() if models_dir else None,
            descriptions=parse_descriptions(get("DESCRIPTIONS")),
        )
