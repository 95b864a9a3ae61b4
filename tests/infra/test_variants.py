"""Every option turned the other way: direct S3 -> Lambda delivery, an existing OpenSearch endpoint, all analyses,
an alarm e-mail, destroy on delete, arm64. Still no cdk-nag finding left unacknowledged."""

from __future__ import annotations

import pytest

from tests.infra.conftest import as_list, only, resources, role_statements, synthesize

ENDPOINT = "https://search-photos-abc123.eu-west-1.es.amazonaws.com"
DOMAIN_ARN = "arn:aws:es:eu-west-1:123456789012:domain/photos"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return synthesize(
        tmp_path_factory.mktemp("cdk"),
        delivery="direct", opensearch_endpoint=ENDPOINT, opensearch_domain_arn=DOMAIN_ARN,
        features="labels,faces,people,text,moderation", alarm_email="ops@example.com", removal="destroy",
        architecture="arm64", log_retention_days="90",
    )


@pytest.fixture(scope="module")
def template(built):
    return built[0]


@pytest.fixture(scope="module")
def stack(built):
    return built[1]


def _id(stack, construct):
    return stack.resolve(construct.node.default_child.logical_id)


def test_direct_delivery_invokes_the_s3_handler_and_fails_over_to_the_dead_letter_queue(template, stack):
    function_id, dlq_id = _id(stack, stack.indexer.function), _id(stack, stack.dead_letters.queue)
    _, notifications = only(template, "Custom::S3BucketNotifications")
    config = notifications["Properties"]["NotificationConfiguration"]
    assert "QueueConfigurations" not in config
    events = {e for c in config["LambdaFunctionConfigurations"] for e in c["Events"]}
    assert events == {"s3:ObjectCreated:*", "s3:ObjectRestore:Completed", "s3:ObjectRemoved:Delete",
                      "s3:ObjectRemoved:DeleteMarkerCreated"}
    assert not resources(template, "AWS::Lambda::EventSourceMapping")
    assert len(resources(template, "AWS::SQS::Queue")) == 1  # only the dead-letter queue
    function = resources(template, "AWS::Lambda::Function")[function_id]["Properties"]
    assert function["Handler"] == "mediaindex.entrypoints.aws_lambda.s3_handler"
    assert function["Architectures"] == ["arm64"]
    _, invoke = only(template, "AWS::Lambda::EventInvokeConfig")
    assert invoke["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert invoke["Properties"]["MaximumRetryAttempts"] == 2
    _, permission = only(template, "AWS::Lambda::Permission")
    assert permission["Properties"]["Principal"] == "s3.amazonaws.com"


def test_an_existing_endpoint_gets_no_domain_and_iam_on_its_arn(template, stack):
    assert not resources(template, "AWS::OpenSearchService::Domain")
    function = resources(template, "AWS::Lambda::Function")[_id(stack, stack.indexer.function)]["Properties"]
    assert function["Environment"]["Variables"]["MEDIAINDEX_INDEX"] == ENDPOINT
    es = [s for s in role_statements(template, _id(stack, stack.indexer.role))
          if any(a.startswith("es:") for a in as_list(s["Action"]))]
    assert [s["Resource"] for s in es] == [[DOMAIN_ARN, f"{DOMAIN_ARN}/*"]]
    assert template.to_json()["Outputs"]["IndexEndpoint"]["Value"] == ENDPOINT


def test_every_enabled_analysis_is_granted(template, stack):
    granted = {a for s in role_statements(template, _id(stack, stack.indexer.role))
               for a in as_list(s["Action"]) if a.startswith("rekognition:Detect")}
    assert granted == {"rekognition:DetectLabels", "rekognition:DetectFaces", "rekognition:DetectText",
                       "rekognition:DetectModerationLabels"}


def test_alarms_mail_the_address_given(template):
    _, topic = only(template, "AWS::SNS::Topic")
    _, subscription = only(template, "AWS::SNS::Subscription")
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    assert len(alarms) == 2  # no queue backlog alarm without the ingest queue
    topic_id = next(iter(resources(template, "AWS::SNS::Topic")))
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for a in alarms)


def test_destroy_removes_the_buckets_with_their_objects(template):
    for bucket in resources(template, "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Delete"
    assert resources(template, "Custom::S3AutoDeleteObjects")


def test_log_retention_follows_the_context(template):
    assert {g["Properties"]["RetentionInDays"] for g in resources(template, "AWS::Logs::LogGroup").values()} == {90}
