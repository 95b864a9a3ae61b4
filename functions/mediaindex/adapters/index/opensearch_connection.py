"""One connection to an OpenSearch cluster, shared by the document index (opensearch.py) and the face vectors
beside it (opensearch_faces.py): the client, made from the index URL and the auth settings, and the one way every
request goes through it.

Throttling (429), server errors (5xx) and connection faults are retried by the client at once and then here in rounds
with exponential backoff and jitter; what still fails becomes a TransientError for the queue to retry. Refused
credentials (401, 403) become a ConfigurationError that says what to check.
"""

from __future__ import annotations

import logging
import random
import re
import time
from typing import Any, Callable, Iterator

from opensearchpy import OpenSearch, RequestsHttpConnection
from opensearchpy import exceptions as os_errors

from mediaindex.config import IndexUrl, Settings
from mediaindex.domain.errors import ConfigurationError, TransientError

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)


REQUEST_TIMEOUT = 30.0  # seconds one request may wait for its answer
CALL_DEADLINE = 75.0  # seconds a call may take with its retries: no retry starts that could not finish by then
INFO_TIMEOUT = 5.0  # seconds the server's version (check_server) may take: OpenSearch answers it at once


def client_for(url: str | IndexUrl, settings: Settings) -> OpenSearch:
    """A client for the cluster at `url`, signed (sigv4), with a user and password (basic) or neither, as the
    settings say; `auto` signs for *.amazonaws.com."""
    location = url if isinstance(url, IndexUrl) else IndexUrl.parse(url)
    if not location.is_opensearch or location.host is None:
        raise ConfigurationError(f"OpenSearch URL {location.url!r}: write https://host[:port]")
    host = location.host
    mode = (settings.opensearch_auth or "auto").lower()
    if mode == "auto":
        if host.endswith(".amazonaws.com"):
            mode = "sigv4"
        else:
            mode = "basic" if settings.opensearch_user else "none"
    kwargs: dict[str, Any] = {
        "hosts": [location.url],
        "connection_class": RequestsHttpConnection,
        "use_ssl": location.secure,
        "verify_certs": location.secure,
        "timeout": REQUEST_TIMEOUT,
        # the client retries at once; OpenSearchConnection.call then backs off between rounds. Not a timeout: a
        # server that accepts and never answers would hold each call for three timeouts; `call` decides instead,
        # within its deadline
        "retry_on_status": RETRY_STATUSES,
        "retry_on_timeout": False,
        "max_retries": 2,
    }
    if mode == "sigv4":
        kwargs["http_auth"] = sigv4_auth(host, settings)
    elif mode == "basic":
        if not settings.opensearch_user or settings.opensearch_password is None:
            raise ConfigurationError("basic auth needs MEDIAINDEX_OPENSEARCH_USER and MEDIAINDEX_OPENSEARCH_PASSWORD")
        kwargs["http_auth"] = (settings.opensearch_user, settings.opensearch_password)
    elif mode != "none":
        raise ConfigurationError(f"MEDIAINDEX_OPENSEARCH_AUTH={mode!r}: use sigv4, basic, none or auto")
    return OpenSearch(**kwargs)


def sigv4_auth(host: str, settings: Settings) -> Any:
    """Request signing for Amazon OpenSearch Service with the credentials boto3 finds (Lambda role, profile,
    environment), refreshed as they expire."""
    import boto3
    from requests_aws4auth import AWS4Auth

    # the endpoint's own region first: a signature for another region is refused
    region = _region_from_host(host) or settings.aws_region or boto3.session.Session().region_name
    if not region:
        raise ConfigurationError(f"cannot tell the AWS region of {host}: set AWS_REGION")
    credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        raise ConfigurationError("sigv4 signing needs AWS credentials (role, profile or AWS_* variables)")
    service = "aoss" if host.endswith(".aoss.amazonaws.com") else "es"
    return AWS4Auth(region=region, service=service, refreshable_credentials=credentials)


def _region_from_host(host: str) -> str | None:
    m = re.search(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.(?:es|aoss)\.amazonaws\.com$", host)
    return m.group(1) if m else None


class OpenSearchConnection:
    """A client and its retry policy: `call` is the way every request of the index and the face vectors goes."""

    def __init__(self, client: OpenSearch, attempts: int = 5, backoff_base: float = 0.2,
                 backoff_cap: float = 8.0) -> None:
        self.client = client
        self.attempts = attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` (a method of the client, or a helper given the client), retried with backoff."""
        last: Exception | None = None
        started = time.monotonic()
        for attempt in range(self.attempts):
            if attempt:
                delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
                if time.monotonic() - started + delay + REQUEST_TIMEOUT > CALL_DEADLINE:
                    raise TransientError(f"OpenSearch did not answer: {attempt} attempts in "
                                         f"{time.monotonic() - started:.0f} s, and no time left for another "
                                         f"within {CALL_DEADLINE:.0f} s: {last}") from last
                time.sleep(random.uniform(delay / 2, delay))  # jitter: workers throttled together spread out
            try:
                return fn(*args, **kwargs)
            except os_errors.ConnectionError as e:  # also timeouts
                last = e
            except os_errors.TransportError as e:
                status = e.status_code
                if status in (401, 403):
                    raise ConfigurationError(f"OpenSearch refused the request ({status}): check the credentials "
                                             f"and the domain's access policy / role mapping: {e.error}") from e
                if not (isinstance(status, int) and (status == 429 or status >= 500)):
                    raise
                last = e
            log.warning("OpenSearch busy or unreachable, retrying: %s", last)
        raise TransientError(f"OpenSearch unavailable after {self.attempts} attempts: {last}") from last

    def scan(self, index: str, query: dict[str, Any], page: int = 500) -> Iterator[dict[str, Any]]:
        """Every hit of `query` in `index`, a page at a time in id order (search_after): for walks that read all
        of a kind (the exact search of a cluster without the k-NN plugin, a content's vectors)."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"query": query, "size": page, "sort": [{"_id": "asc"}]}
            if after is not None:
                body["search_after"] = after
            hits = self.call(self.client.search, index=index, body=body)["hits"]["hits"]
            yield from hits
            if len(hits) < page:
                return
            after = hits[-1]["sort"]

    def knn_search(self, index: str, body: dict[str, Any], what: str) -> dict[str, Any] | None:
        """The answer to a `knn` query, or None (said once in the log) when the cluster refuses that query: the
        test server, a domain without the k-NN plugin. `what` names the vectors for the log."""
        try:
            answer: dict[str, Any] = self.call(self.client.search, index=index, body=body)
        except os_errors.RequestError as e:
            refused = e.error in ("unsupported_operation_exception", "parsing_exception", "x_content_parse_exception")
            if not (refused and "knn" in f"{e.error} {e.info}".lower()):
                raise
            log.warning("the cluster refuses the k-NN query (%s): searching %s exactly", e.error, what)
            return None
        return answer

    def check_server(self) -> None:
        """Raise a ConfigurationError when the URL does not lead to OpenSearch (a web page, another service), so
        the user hears that instead of a stray HTTP error. Only asked after something failed or was missing."""
        try:
            info = self.client.info(request_timeout=INFO_TIMEOUT)
            ok = isinstance(info, dict) and isinstance(info.get("version"), dict) and "number" in info["version"]
            why = "" if ok else f"it answered {str(info)[:80]!r}"
        except os_errors.ConnectionError:
            return  # unreachable (down, or a wrong port): the caller's TransientError says so, and it may pass
        except os_errors.TransportError as e:
            status = e.status_code if isinstance(e.status_code, int) else 0
            if status in (401, 403, 429) or status >= 500:
                return  # credentials (which `call` names), or a cluster busy or down: a passing fault, retried
            ok, why = False, f"HTTP {e.status_code}"
        except Exception as e:  # noqa: BLE001 - any other answer (HTML, not JSON) means it is not OpenSearch
            ok, why = False, f"{type(e).__name__}: {str(e)[:120]}"
        if not ok:
            hosts = ", ".join(f"{h.get('host')}:{h.get('port')}" if isinstance(h, dict) else str(h)
                              for h in self.client.transport.hosts)
            raise ConfigurationError(f"MEDIAINDEX_INDEX: the server at {hosts} does not answer as OpenSearch ({why}): "
                                     "check the URL and port")
