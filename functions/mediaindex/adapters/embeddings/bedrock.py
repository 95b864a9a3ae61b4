"""The TextImageEmbedder port on Amazon Titan Multimodal Embeddings G1 (`amazon.titan-embed-image-v1`, Bedrock
InvokeModel).

Request body: `{"inputImage": <base64>}` or `{"inputText": <text>}`, with `{"embeddingConfig":
{"outputEmbeddingLength": 256 | 384 | 1024}}`; answer: `{"embedding": [...], "inputTextTokenCount": n, "message":
...}`. Titan takes an image of at most 25 MB and 2048x2048 pixels: a larger picture is scaled down (and re-encoded as
JPEG or PNG) before it is sent; a picture too small or blank to mean anything is never sent (common.meaningless).
Text is English, at most 256 tokens: a longer description is cut. Throttling, timeouts and a model not ready are
retried by botocore's adaptive mode; what survives becomes a TransientError (the file is tried again later).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
from typing import Any, Iterator

from mediaindex.adapters.embeddings.common import meaningless, unit
from mediaindex.domain.errors import BadMedia, ConfigurationError, TransientError, UnsupportedMedia
from mediaindex.media.encode import ImageLimits, encode_picture
from mediaindex.media.picture import Picture

log = logging.getLogger(__name__)

MODEL_ID = "amazon.titan-embed-image-v1"
LENGTHS = (256, 384, 1024)
DEFAULT_LENGTH = 1024
# Titan Multimodal Embeddings G1's input limits (Bedrock user guide: image at most 25 MB, 2048x2048 pixels)
TITAN_IMAGE = ImageLimits(
    max_bytes=25 * 1024 * 1024,
    max_side=2048,
    min_side=1,
    formats=frozenset({"jpeg", "png"}),
    modes={"jpeg": frozenset({"L", "RGB"}), "png": frozenset({"L", "RGB", "RGBA", "P"})},
)
# 256 tokens of English is about 1,000 characters; a query is cut there rather than refused
MAX_TEXT_CHARS = 1000
RETRIES = {"mode": "adaptive", "max_attempts": 8}

_TRANSIENT_CODES = frozenset({
    "ThrottlingException", "ModelTimeoutException", "ModelNotReadyException", "ServiceUnavailableException",
    "InternalServerException", "ServiceQuotaExceededException", "RequestTimeout",
})


def model_arn(region: str) -> str:
    """The foundation model's ARN, which the IAM grant names (infra/)."""
    return f"arn:aws:bedrock:{region}::foundation-model/{MODEL_ID}"


def make_client(region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries=dict(RETRIES), connect_timeout=10, read_timeout=60, user_agent_extra="mediaindex")
    return boto3.client("bedrock-runtime", region_name=region, config=config)


@contextlib.contextmanager
def bedrock_errors(what: str) -> Iterator[None]:
    """What boto3 raises, as the errors the pipeline tells apart."""
    from botocore.exceptions import (
        BotoCoreError, ClientError, ConnectionError as BotoConnectionError, HTTPClientError, NoCredentialsError,
        NoRegionError,
    )

    try:
        yield
    except ClientError as e:
        info = e.response.get("Error", {})
        code, message = info.get("Code", ""), info.get("Message") or str(e)
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in _TRANSIENT_CODES or status >= 500 or status == 429:
            raise TransientError(f"Bedrock {MODEL_ID} ({what}) still failing after retries: {code or status}: "
                                 f"{message}") from e
        if code == "AccessDeniedException":
            raise ConfigurationError(
                f"access denied to Bedrock {MODEL_ID}: allow bedrock:InvokeModel on {MODEL_ID}'s ARN to this role "
                f"and enable the model's access in the Bedrock console ({message})") from e
        if code in ("ResourceNotFoundException", "UnrecognizedClientException"):
            raise ConfigurationError(f"Bedrock {MODEL_ID}: {code}: {message} (is the model offered in this "
                                     "region?)") from e
        if code == "ValidationException" and what == "image":
            raise UnsupportedMedia(f"Titan refused the picture: {message}") from e
        raise BadMedia(f"Bedrock {MODEL_ID} ({what}): {code or status}: {message}") from e
    except NoCredentialsError as e:
        raise ConfigurationError(f"no AWS credentials for Bedrock: {e}") from e
    except NoRegionError as e:
        raise ConfigurationError(f"no AWS region for Bedrock: set AWS_REGION ({e})") from e
    except (BotoConnectionError, HTTPClientError, BotoCoreError) as e:
        raise TransientError(f"Bedrock {MODEL_ID} unreachable after retries: {e}") from e


class TitanEmbedder:
    """Amazon Titan Multimodal Embeddings G1: one InvokeModel call a picture, and one a query."""

    def __init__(self, client: Any, length: int = DEFAULT_LENGTH) -> None:
        if length not in LENGTHS:
            raise ConfigurationError(f"Titan's output length is one of {', '.join(map(str, LENGTHS))}, not {length}")
        self.client = client
        self.dimensions = length
        self.model = f"titan-embed-image-v1:{length}"
        self.calls = 0  # paid InvokeModel calls made
        self.text_tokens = 0  # text tokens billed, as Titan counts them

    def _invoke(self, body: dict[str, Any], what: str) -> list[float]:
        body["embeddingConfig"] = {"outputEmbeddingLength": self.dimensions}
        with bedrock_errors(what):
            response = self.client.invoke_model(modelId=MODEL_ID, body=json.dumps(body),
                                                contentType="application/json", accept="application/json")
            answer = json.loads(response["body"].read())
        self.calls += 1
        self.text_tokens += int(answer.get("inputTextTokenCount") or 0)
        embedding = answer.get("embedding")
        if not isinstance(embedding, list) or len(embedding) != self.dimensions:
            got = len(embedding) if isinstance(embedding, list) else "no"
            raise BadMedia(f"Titan answered {got} numbers, not {self.dimensions}"
                           + (f": {answer['message']}" if answer.get("message") else ""))
        return unit(embedding)

    def embed_image(self, picture: Picture) -> list[float] | None:
        reason = meaningless(picture.working_image(512))
        if reason is not None:
            log.debug("no description vector: the picture is %s", reason)
            return None
        encoded = encode_picture(picture, TITAN_IMAGE)
        return self._invoke({"inputImage": base64.b64encode(encoded.data).decode("ascii")}, "image")

    def embed_text(self, text: str) -> list[float]:
        return self._invoke({"inputText": text.strip()[:MAX_TEXT_CHARS]}, "text")
