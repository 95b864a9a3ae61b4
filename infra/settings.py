"""Deployment settings, read from CDK context (`cdk.json` or `cdk deploy -c key=value`), checked once, with defaults.

Values given with `-c` arrive as strings; values in cdk.json keep their JSON type: both are accepted. The table of
options is in docs/deploy.md; keep the two in step.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping

# The analyses the handlers know (functions/mediaindex/config.py ALL_FEATURES).
ALL_FEATURES = ("labels", "faces", "people", "text", "moderation", "celebrities")

# Rekognition's default quota for each image API used here is 50 transactions per second in us-east-1 (also
# us-west-2 and eu-west-1); several other regions start lower. Check Service Quotas for your account and region.
DEFAULT_REKOGNITION_TPS = 50
# The quickest one Rekognition call completes (a SearchFacesByImage on a small face crop), measured from Lambda in
# the same region. One function instance calls Rekognition one call after the other, so it makes at most
# 1 / FASTEST_CALL_SECONDS calls a second of any one API.
FASTEST_CALL_SECONDS = 0.2

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                       2922, 3288, 3653)
_COLLECTION_ID = re.compile(r"^[a-zA-Z0-9_.\-]{1,255}$")
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,200}$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_AUTH_DOMAIN = re.compile(r"^(?!.*(aws|amazon|cognito))[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$")


# OpenSearch domain names: 3-28 characters
DOMAIN_NAME_LENGTH = 28


def stack_derived_name(name: str, length: int, stack_name: str | None = None) -> str:
    """`name` (lower-cased, characters other than a-z 0-9 _ . - made dashes) in at most `length` characters. A name
    cut short ends with a hash of the whole stack name, so two long stack names that start alike (two stacks in
    one account and region) still get two names."""
    whole = re.sub(r"[^a-z0-9_.\-]", "-", name.lower())
    if len(whole) <= length:
        return whole
    digest = hashlib.sha256((stack_name or name).encode()).hexdigest()[:6]
    return f"{whole[:length - 7].rstrip('-_.')}-{digest}"


class SettingsError(ValueError):
    """A context value that cannot be deployed; the message names the key and what is allowed."""


def concurrency_for_tps(tps: float, fastest_call_seconds: float = FASTEST_CALL_SECONDS) -> int:
    """How many function instances may run at once without exceeding `tps` calls a second of one Rekognition API.

    Each instance makes its calls one after the other, so it cannot exceed 1 / fastest_call_seconds calls a second
    of any single API: N instances stay under the quota when N / fastest_call_seconds <= tps. SQS event sources
    accept 2 to 1000.
    """
    return max(2, min(1000, math.floor(tps * fastest_call_seconds)))


@dataclass(frozen=True)
class DeploySettings:
    stack_name: str = "MediaIndex"
    # what the handlers do
    collection_id: str = ""  # "": <stack name, lower-cased>-faces, so two stacks in one region never share one
    index_name: str = "media"
    min_confidence: float = 55.0
    features: tuple[str, ...] = ("labels", "faces", "people")
    people_prefix: str = "people/"
    video_interval: float = 6.0
    log_level: str = "INFO"
    # the search index: a new domain, or an existing endpoint (then its domain ARN for IAM)
    opensearch_endpoint: str = ""
    opensearch_domain_arn: str = ""
    opensearch_domain_name: str = ""  # "": the stack name, lower-cased
    opensearch_reader_arns: tuple[str, ...] = ()  # IAM principals that may query the new domain
    opensearch_version: str = "2.19"
    opensearch_instance_type: str = "t3.small.search"
    opensearch_data_nodes: int = 1
    opensearch_volume_gb: int = 10
    # delivery of S3 notifications and the function's size
    delivery: str = "sqs"
    rekognition_tps: float = DEFAULT_REKOGNITION_TPS
    max_concurrency: int = 0  # 0: derived from rekognition_tps
    batch_size: int = 10
    max_receives: int = 5
    memory_mb: int = 2048
    timeout_seconds: int = 300
    architecture: str = "x86_64"
    # operations
    log_retention_days: int = 30
    alarm_email: str = ""
    removal: str = "retain"
    noncurrent_version_days: int = 30
    # optional parts (infra/parts/video.py, backfill.py, api.py)
    long_videos: bool = True  # a state table so a long video is analysed over several invocations (delivery=sqs)
    # with `people`: a second collection holding every indexed picture's faces, so an enrolment finds the faces
    # that match the new person with one search (one more IndexFaces per picture with faces)
    library_faces: bool = True
    backfill: bool = True  # a function that backfills the bucket from inside AWS (delivery=sqs)
    backfill_inventory_bucket: str = ""  # an S3 Inventory destination bucket the backfill function may read
    api: bool = False  # the search API: HTTP API + Cognito + a function
    api_writes: bool = False  # the API may change people (MEDIAINDEX_API_WRITES=1 and the IAM for it)
    # where the hosted sign-in may return to besides the API's own page (e.g. `mediaindex serve` on localhost)
    api_callback_urls: tuple[str, ...] = ()
    api_auth_domain: str = ""  # Cognito hosted UI domain prefix; "": <stack name>-<account id>
    api_rate: float = 20.0  # steady requests a second the API stage accepts
    api_burst: int = 40
    # search by description: Titan Multimodal Embeddings G1 on Bedrock for every picture and the query's words
    descriptions: bool = False
    description_length: int = 1024  # Titan's output length: 256, 384 or 1024 numbers a vector

    def __post_init__(self) -> None:
        if not self.collection_id:
            object.__setattr__(self, "collection_id", f"{stack_derived_name(self.stack_name, 255 - 6)}-faces")

    @property
    def keeps_library_faces(self) -> bool:
        return self.library_faces and "people" in self.features

    @property
    def library_collection_id(self) -> str:
        """The library face collection: the known people's collection id with `-library` (cut to fit)."""
        return f"{stack_derived_name(self.collection_id, 255 - 8, self.collection_id)}-library"

    @property
    def creates_domain(self) -> bool:
        return not self.opensearch_endpoint

    @property
    def domain_name(self) -> str:
        if self.opensearch_domain_name:
            return self.opensearch_domain_name
        name = re.sub(r"[^a-z0-9-]", "-", self.stack_name.lower()).strip("-")
        if len(name) < 3 or not name[0].isalpha():
            name = f"mediaindex-{name}".strip("-")
        return stack_derived_name(name, DOMAIN_NAME_LENGTH, self.stack_name)

    @property
    def index_replicas(self) -> int | None:
        """Replicas of each shard for the new domain: 0 on one data node (a replica is never placed on its own
        primary's node, so one replica there keeps the domain yellow), else 1; None for an existing endpoint,
        whose node count the stack does not know."""
        if not self.creates_domain:
            return None
        return 0 if self.opensearch_data_nodes == 1 else 1

    @property
    def effective_max_concurrency(self) -> int:
        return self.max_concurrency or concurrency_for_tps(self.rekognition_tps)

    @property
    def max_video_bytes(self) -> int:
        return self.memory_mb * 1024 * 1024 // 2

    @property
    def tmp_mb(self) -> int:
        """The indexer's /tmp (ephemeral storage, 512-10,240 MB): a video from S3 is streamed to a temporary file
        there rather than held in memory, so it holds the largest video the function takes, plus room to spare."""
        return min(10_240, max(512, self.max_video_bytes // 2**20 + 512))

    @property
    def destroys_data(self) -> bool:
        return self.removal == "destroy"

    @classmethod
    def from_context(cls, get: Callable[[str], Any] | Mapping[str, Any]) -> "DeploySettings":
        """Read every option from `get(key)` (a construct's `node.try_get_context`) or a mapping."""
        lookup = get.get if isinstance(get, Mapping) else get
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = lookup(f.name)
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, raw, getattr(defaults, f.name))
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        def fail(key: str, message: str) -> None:
            raise SettingsError(f"context {key}={getattr(self, key)!r}: {message}")

        if not _COLLECTION_ID.match(self.collection_id):
            fail("collection_id", "use 1-255 of a-z A-Z 0-9 _ . -")
        if not _INDEX_NAME.match(self.index_name):
            fail("index_name", "use lower-case letters, digits, _ and -, starting with a letter or digit")
        if not 0 <= self.min_confidence <= 100:
            fail("min_confidence", "a percentage from 0 to 100")
        unknown = sorted(set(self.features) - set(ALL_FEATURES))
        if unknown or not self.features:
            fail("features", f"a comma list of {', '.join(ALL_FEATURES)}")
        if self.people_prefix.startswith("/") or not self.people_prefix.endswith("/"):
            fail("people_prefix", "a key prefix such as people/ (no leading slash, a trailing slash)")
        if self.video_interval <= 0:
            fail("video_interval", "seconds between sampled frames, above 0")
        if self.delivery not in ("sqs", "direct"):
            fail("delivery", "sqs (default) or direct")
        if self.opensearch_endpoint:
            if not self.opensearch_endpoint.startswith("https://"):
                fail("opensearch_endpoint", "an https:// URL")
            if not self.opensearch_domain_arn.startswith("arn:"):
                fail("opensearch_domain_arn", "required with opensearch_endpoint: the domain's ARN, for IAM")
        if not re.match(r"^[a-z][a-z0-9\-]{2,27}$", self.domain_name):
            fail("opensearch_domain_name", "3-28 characters: a-z, 0-9 and -, starting with a letter")
        for arn in self.opensearch_reader_arns:
            if not arn.startswith("arn:"):
                fail("opensearch_reader_arns", "a comma list of IAM role or user ARNs")
        if self.opensearch_data_nodes < 1:
            fail("opensearch_data_nodes", "at least 1")
        if self.opensearch_volume_gb < 10:
            fail("opensearch_volume_gb", "at least 10 (GiB)")
        if not re.match(r"^\d+\.\d+$", self.opensearch_version):
            fail("opensearch_version", "an OpenSearch version such as 2.19")
        if self.rekognition_tps <= 0:
            fail("rekognition_tps", "the Rekognition quota in transactions per second, above 0")
        if self.max_concurrency and not 2 <= self.max_concurrency <= 1000:
            fail("max_concurrency", "2 to 1000 (the SQS event source's range)")
        if not 1 <= self.batch_size <= 10_000:
            fail("batch_size", "1 to 10000")
        if not 1 <= self.max_receives <= 1000:
            fail("max_receives", "1 to 1000")
        if not 128 <= self.memory_mb <= 10_240:
            fail("memory_mb", "128 to 10240")
        if not 10 <= self.timeout_seconds <= 900:
            fail("timeout_seconds", "10 to 900")
        if self.architecture not in ("x86_64", "arm64"):
            fail("architecture", "x86_64 or arm64")
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            fail("log_retention_days", f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            fail("log_level", "DEBUG, INFO, WARNING or ERROR")
        if self.alarm_email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", self.alarm_email):
            fail("alarm_email", "an e-mail address")
        if self.removal not in ("retain", "destroy"):
            fail("removal", "retain (default: keep the bucket and the domain) or destroy")
        if self.noncurrent_version_days < 1:
            fail("noncurrent_version_days", "at least 1")
        if self.backfill_inventory_bucket and not _BUCKET_NAME.match(self.backfill_inventory_bucket):
            fail("backfill_inventory_bucket", "an S3 bucket name (not an s3:// URL)")
        for url in self.api_callback_urls:
            if not re.match(r"^(https://|http://localhost[:/])", url):
                fail("api_callback_urls", "a comma list of https:// URLs (http:// only for localhost)")
        if self.api_auth_domain and not _AUTH_DOMAIN.match(self.api_auth_domain):
            fail("api_auth_domain", "1-63 of a-z, 0-9 and -, not starting or ending with -, without aws, amazon "
                                    "or cognito")
        if not 0 < self.api_rate <= 10_000:
            fail("api_rate", "requests a second, above 0 and at most 10000 (the account's default quota)")
        if not 0 <= self.api_burst <= 5_000:
            fail("api_burst", "0 to 5000")
        if self.description_length not in (256, 384, 1024):
            fail("description_length", "Titan's output length: 256, 384 or 1024")

    @property
    def auth_domain_base(self) -> str:
        """The start of the default Cognito domain prefix (infra/parts/api.py appends the account id, since a
        prefix must be unique in the region across all accounts): the stack name, lower-cased, without the words
        Cognito refuses."""
        name = re.sub(r"[^a-z0-9-]", "-", self.stack_name.lower())
        name = re.sub(r"aws|amazon|cognito", "x", name)
        return stack_derived_name(re.sub(r"-+", "-", name).strip("-"), 40, self.stack_name).strip("-") or "mediaindex"

    def handler_environment(self, index_url: str, dlq_url: str) -> dict[str, str]:
        """The variables functions/mediaindex/config.py reads."""
        return {
            "MEDIAINDEX_ANALYZER": "rekognition",
            "MEDIAINDEX_INDEX": index_url,
            "MEDIAINDEX_INDEX_NAME": self.index_name,
            "MEDIAINDEX_OPENSEARCH_AUTH": "sigv4",
            **({"MEDIAINDEX_INDEX_REPLICAS": str(self.index_replicas)} if self.index_replicas is not None else {}),
            "MEDIAINDEX_COLLECTION": self.collection_id,
            **({"MEDIAINDEX_LIBRARY_COLLECTION": self.library_collection_id} if self.keeps_library_faces else {}),
            "MEDIAINDEX_MIN_CONFIDENCE": _number(self.min_confidence),
            "MEDIAINDEX_FEATURES": ",".join(self.features),
            "MEDIAINDEX_PEOPLE_PREFIX": self.people_prefix,
            "MEDIAINDEX_VIDEO_INTERVAL": _number(self.video_interval),
            "MEDIAINDEX_DLQ_URL": dlq_url,
            # a video is held in memory while it is decoded: refuse (as a failed document) what cannot fit
            "MEDIAINDEX_MAX_VIDEO_BYTES": str(self.max_video_bytes),
            # the handler dead-letters with its reason on the delivery SQS would have dead-lettered it on
            "MEDIAINDEX_MAX_RECEIVES": str(self.max_receives),
            "MEDIAINDEX_DESCRIPTIONS": f"bedrock:{self.description_length}" if self.descriptions else "off",
            "POWERTOOLS_SERVICE_NAME": "mediaindex",
            "POWERTOOLS_METRICS_NAMESPACE": "MediaIndex",
            "POWERTOOLS_LOG_LEVEL": self.log_level.upper(),
        }


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _convert(key: str, raw: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes", "on")
        if isinstance(default, tuple):
            items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
            cleaned = (str(item).strip() for item in items)
            keep_case = key.endswith(("_arns", "_urls"))
            return tuple(item if keep_case else item.lower() for item in cleaned if item)
        if isinstance(default, int):
            number = float(raw)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if isinstance(default, float):
            return float(raw)
        return str(raw).strip()
    except (TypeError, ValueError):
        raise SettingsError(f"context {key}={raw!r}: expected {type(default).__name__}") from None
