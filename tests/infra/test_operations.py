"""Operations as AWS recommends for OpenSearch Service and the queues: replicas that fit the node count (checked
on osmem-server, which places replicas as a cluster does), the four recommended domain alarms, alarms that reach
someone (or a synthesis warning), a 14-day ingest queue, and S3 sending to it only for this bucket and account."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Annotations, Match
from opensearchpy import OpenSearch

from infra.parts.monitoring import NO_RECIPIENT
from infra.parts.queues import INGEST_RETENTION_DAYS
from tests.infra.conftest import resources, synthesize

DAY = 24 * 3600


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk"))


@pytest.fixture(scope="module")
def mailed(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk"), alarm_email="ops@example.com", opensearch_data_nodes="2",
                      opensearch_volume_gb="20", api="true")


def _env(template, stack, function):
    logical_id = stack.resolve(function.node.default_child.logical_id)
    return resources(template, "AWS::Lambda::Function")[logical_id]["Properties"]["Environment"]["Variables"]


def _domain_alarms(template):
    return {a["Properties"]["MetricName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("Namespace") == "AWS/ES"}


# ---- replicas ----------------------------------------------------------------------------------------------------
def test_replicas_follow_the_data_nodes(default, mailed):
    template, stack = default
    assert _env(template, stack, stack.indexer.function)["MEDIAINDEX_INDEX_REPLICAS"] == "0"  # one node
    template, stack = mailed
    assert _env(template, stack, stack.indexer.function)["MEDIAINDEX_INDEX_REPLICAS"] == "1"  # two nodes, two zones
    assert "MEDIAINDEX_INDEX_REPLICAS" not in _env(template, stack, stack.api.function)  # the indexer creates it


def test_an_existing_endpoint_keeps_its_own_replica_count(tmp_path):
    template, stack = synthesize(tmp_path, opensearch_endpoint="https://search-x.eu-west-1.es.amazonaws.com",
                                 opensearch_domain_arn="arn:aws:es:eu-west-1:123456789012:domain/x")
    assert "MEDIAINDEX_INDEX_REPLICAS" not in _env(template, stack, stack.indexer.function)


def _health(url: str, index: str) -> str:
    return OpenSearch(hosts=[url]).cluster.health(index=index)["status"]


def test_on_one_data_node_the_stacks_index_is_green_and_an_older_yellow_one_turns_green(default, osmem_clone):
    from mediaindex.adapters.index.opensearch import OpenSearchIndex
    from mediaindex.config import Settings

    template, stack = default
    replicas = _env(template, stack, stack.indexer.function)["MEDIAINDEX_INDEX_REPLICAS"]
    as_deployed = Settings.from_env({"MEDIAINDEX_INDEX_REPLICAS": replicas, "MEDIAINDEX_OPENSEARCH_AUTH": "none",
                                     "MEDIAINDEX_INDEX_NAME": "media"})
    before = Settings.from_env({"MEDIAINDEX_OPENSEARCH_AUTH": "none", "MEDIAINDEX_INDEX_NAME": "older"})
    assert (as_deployed.index_replicas, before.index_replicas) == (0, None)

    index = OpenSearchIndex.connect(osmem_clone.url, as_deployed)
    index.ensure_ready()
    index.face_vectors().ensure_ready()
    assert _health(osmem_clone.url, "media") == _health(osmem_clone.url, "media-faces") == "green"

    # an index created without a replica count (the stack before this setting): one replica nowhere to go
    OpenSearchIndex.connect(osmem_clone.url, before).ensure_ready()
    assert _health(osmem_clone.url, "older") == "yellow"
    OpenSearchIndex.connect(osmem_clone.url, Settings.from_env({
        "MEDIAINDEX_INDEX_REPLICAS": replicas, "MEDIAINDEX_OPENSEARCH_AUTH": "none", "MEDIAINDEX_INDEX_NAME": "older",
    })).ensure_ready()  # the next cold start of the deployed indexer
    assert _health(osmem_clone.url, "older") == "green"


# ---- alarms ------------------------------------------------------------------------------------------------------
def test_the_four_recommended_domain_alarms(default):
    template, stack = default
    alarms = _domain_alarms(template)
    assert set(alarms) == {"ClusterStatus.red", "ClusterIndexWritesBlocked", "FreeStorageSpace", "JVMMemoryPressure"}
    expected = {  # metric: (statistic, comparison, threshold, period s, periods)
        "ClusterStatus.red": ("Maximum", "GreaterThanOrEqualToThreshold", 1, 60, 1),
        "ClusterIndexWritesBlocked": ("Maximum", "GreaterThanOrEqualToThreshold", 1, 300, 1),
        "FreeStorageSpace": ("Minimum", "LessThanOrEqualToThreshold", 10 * 1024 * 0.25, 60, 1),
        "JVMMemoryPressure": ("Maximum", "GreaterThanOrEqualToThreshold", 95, 60, 3),
    }
    domain_id = stack.resolve(stack.search.domain.node.default_child.logical_id)
    for metric, (statistic, comparison, threshold, period, periods) in expected.items():
        alarm = alarms[metric]
        assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"], alarm["Period"],
                alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == \
               (statistic, comparison, threshold, period, periods, periods), metric
        dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dimensions == {"DomainName": {"Ref": domain_id}, "ClientId": {"Ref": "AWS::AccountId"}}


def test_free_storage_follows_the_volume_and_every_alarm_is_mailed(mailed):
    template, _ = mailed
    assert _domain_alarms(template)["FreeStorageSpace"]["Threshold"] == 20 * 1024 * 0.25
    topic = {"Ref": next(iter(resources(template, "AWS::SNS::Topic")))}
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    assert len(alarms) >= 8
    assert all(a["Properties"]["AlarmActions"] == [topic] == a["Properties"]["OKActions"] for a in alarms)


def test_alarms_without_a_recipient_are_a_synthesis_warning(default, mailed):
    Annotations.from_stack(default[1]).has_warning("*", Match.string_like_regexp("No alarm_email"))
    assert "alarm_email=you@example.com" in NO_RECIPIENT
    Annotations.from_stack(mailed[1]).has_no_warning("*", Match.string_like_regexp("No alarm_email"))


# ---- the ingest queue ----------------------------------------------------------------------------------------------
def test_the_ingest_queue_keeps_a_backlog_14_days(default):
    template, stack = default
    queue_id = stack.resolve(stack.ingest.queue.node.default_child.logical_id)
    assert INGEST_RETENTION_DAYS == 14
    assert resources(template, "AWS::SQS::Queue")[queue_id]["Properties"]["MessageRetentionPeriod"] == 14 * DAY


def test_s3_may_send_only_for_this_bucket_of_this_account(default):
    template, stack = default
    queue_id = stack.resolve(stack.ingest.queue.node.default_child.logical_id)
    bucket_id = stack.resolve(stack.media.bucket.node.default_child.logical_id)
    [(policy_id, policy)] = [(k, p) for k, p in resources(template, "AWS::SQS::QueuePolicy").items()
                             if p["Properties"]["Queues"] == [{"Ref": queue_id}]]
    [from_s3] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"]
                 if s.get("Principal") == {"Service": "s3.amazonaws.com"}]
    assert from_s3["Action"] == "sqs:SendMessage" and from_s3["Effect"] == "Allow"
    assert from_s3["Condition"] == {"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [bucket_id, "Arn"]}},
                                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    # S3 checks it may send when the notification is set: the notification waits for the policy
    [notifications] = template.find_resources("Custom::S3BucketNotifications").values()
    assert policy_id in notifications["DependsOn"]
