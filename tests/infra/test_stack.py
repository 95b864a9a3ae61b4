"""The default stack (cdk.json's context): notification wiring, queues, the function, IAM, encryption, alarms,
outputs, and cdk-nag with nothing left unacknowledged. One template for the whole module."""

from __future__ import annotations

import pytest

from tests.infra.conftest import as_list, only, resources, role_statements, synthesize

DETECT_DEFAULT = {"rekognition:DetectFaces", "rekognition:DetectLabels"}
COLLECTION_ACTIONS = {
    "rekognition:SearchFacesByImage", "rekognition:IndexFaces", "rekognition:ListFaces", "rekognition:DeleteFaces",
    "rekognition:DescribeCollection",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk"))


@pytest.fixture(scope="module")
def template(built):
    return built[0]


@pytest.fixture(scope="module")
def stack(built):
    return built[1]


@pytest.fixture(scope="module")
def ids(stack):
    def logical(construct):
        return stack.resolve(construct.node.default_child.logical_id)

    return {
        "media": logical(stack.media.bucket), "logs": logical(stack.media.access_logs),
        "queue": logical(stack.ingest.queue), "dlq": logical(stack.dead_letters.queue),
        "function": logical(stack.indexer.function), "role": logical(stack.indexer.role),
        "domain": logical(stack.search.domain), "collection": stack.resolve(stack.faces.resource.logical_id),
        "library": stack.resolve(stack.faces.library.logical_id),
        "log_group": logical(stack.indexer.log_group), "backfill_role": logical(stack.backfill.role),
        "backfill_failures": logical(stack.backfill.failures),
    }


def test_bucket_notifications_go_to_the_ingest_queue(template, ids):
    _, notifications = only(template, "Custom::S3BucketNotifications")
    props = notifications["Properties"]
    assert props["BucketName"] == {"Ref": ids["media"]}
    configs = props["NotificationConfiguration"]["QueueConfigurations"]
    events = {event for c in configs for event in c["Events"]}
    assert events == {"s3:ObjectCreated:*", "s3:ObjectRestore:Completed", "s3:ObjectRemoved:Delete",
                      "s3:ObjectRemoved:DeleteMarkerCreated"}
    assert all(c["QueueArn"] == {"Fn::GetAtt": [ids["queue"], "Arn"]} for c in configs)
    assert "LambdaFunctionConfigurations" not in props["NotificationConfiguration"]


def test_s3_may_send_to_the_queue_only_from_this_bucket(template, ids):
    statements = [
        s for policy in resources(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": ids["queue"]} in policy["Properties"]["Queues"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    s3_statements = [s for s in statements if s.get("Principal", {}).get("Service") == "s3.amazonaws.com"]
    assert len(s3_statements) == 1
    assert s3_statements[0]["Condition"]["ArnLike"]["aws:SourceArn"] == {"Fn::GetAtt": [ids["media"], "Arn"]}


def test_ingest_queue_dead_letters_after_max_receives(template, ids):
    queue = resources(template, "AWS::SQS::Queue")[ids["queue"]]["Properties"]
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [ids["dlq"], "Arn"]}, "maxReceiveCount": 5}
    assert queue["SqsManagedSseEnabled"] is True
    function = resources(template, "AWS::Lambda::Function")[ids["function"]]["Properties"]
    # visibility timeout six times the function timeout (AWS's advice for SQS event sources)
    assert queue["VisibilityTimeout"] == 6 * function["Timeout"]
    env = function["Environment"]["Variables"]
    assert env["MEDIAINDEX_MAX_RECEIVES"] == "5"  # the handler dead-letters on the delivery SQS would
    assert env["MEDIAINDEX_DLQ_URL"] == {"Ref": ids["dlq"]}


def test_dead_letter_queue_keeps_messages_14_days(template, ids):
    dlq = resources(template, "AWS::SQS::Queue")[ids["dlq"]]["Properties"]
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dlq["SqsManagedSseEnabled"] is True
    assert "RedrivePolicy" not in dlq


def test_queues_refuse_plain_http(template):
    for policy in resources(template, "AWS::SQS::QueuePolicy").values():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_event_source_reports_batch_item_failures_with_bounded_concurrency(template, ids):
    _, mapping = only(template, "AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    assert props["FunctionName"] == {"Ref": ids["function"]}
    assert props["EventSourceArn"] == {"Fn::GetAtt": [ids["queue"], "Arn"]}
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["ScalingConfig"]["MaximumConcurrency"] == 10
    assert props["BatchSize"] == 10


def test_function_runs_the_sqs_handler_on_python_3_12_with_its_settings(template, ids):
    function = resources(template, "AWS::Lambda::Function")[ids["function"]]["Properties"]
    assert function["Handler"] == "mediaindex.entrypoints.aws_lambda.sqs_handler"
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["x86_64"]  # the wheels are fetched for manylinux x86_64
    assert function["TracingConfig"] == {"Mode": "Active"}
    env = function["Environment"]["Variables"]
    assert env["MEDIAINDEX_ANALYZER"] == "rekognition"
    assert env["MEDIAINDEX_OPENSEARCH_AUTH"] == "sigv4"
    assert env["MEDIAINDEX_INDEX"] == {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [ids["domain"], "DomainEndpoint"]}]]}
    assert env["MEDIAINDEX_INDEX_NAME"] == "media"
    assert env["MEDIAINDEX_COLLECTION"] == "mediaindex-faces"
    assert env["MEDIAINDEX_FEATURES"] == "labels,faces,people"
    assert env["MEDIAINDEX_MIN_CONFIDENCE"] == "55"
    assert env["MEDIAINDEX_PEOPLE_PREFIX"] == "people/"
    assert env["MEDIAINDEX_VIDEO_INTERVAL"] == "6"
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"} <= set(env)
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": ids["log_group"]}


def test_function_logs_are_kept_for_the_retention_set(template, ids):
    group = resources(template, "AWS::Logs::LogGroup")[ids["log_group"]]["Properties"]
    assert group["RetentionInDays"] == 30
    assert all("RetentionInDays" in g["Properties"] for g in resources(template, "AWS::Logs::LogGroup").values())


def _actions(statement):
    return set(as_list(statement["Action"]))


def test_role_has_no_managed_policies_and_no_action_wildcards(template, ids):
    role = resources(template, "AWS::IAM::Role")[ids["role"]]["Properties"]
    assert "ManagedPolicyArns" not in role
    for statement in role_statements(template, ids["role"]):
        assert statement["Effect"] == "Allow"
        assert not any(a == "*" or a.endswith(":*") for a in _actions(statement)), statement


def test_rekognition_grants_only_the_calls_made(template, ids):
    # action -> resources, whichever statements carry them (the minimizePolicies feature flag merges statements)
    granted: dict[str, list] = {}
    for statement in role_statements(template, ids["role"]):
        for action in _actions(statement):
            if action.startswith("rekognition:"):
                granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    assert set(granted) == DETECT_DEFAULT | COLLECTION_ACTIONS  # no DetectText/DetectModerationLabels: not enabled
    library = {"rekognition:IndexFaces", "rekognition:SearchFacesByImage", "rekognition:DeleteFaces"}
    for action in COLLECTION_ACTIONS:  # the library face collection: only what keeping and searching it takes
        arns = [{"Fn::GetAtt": [ids["collection"], "Arn"]}] + (
            [{"Fn::GetAtt": [ids["library"], "Arn"]}] if action in library else [])
        assert sorted(map(str, granted[action])) == sorted(map(str, arns)), action
    for action in DETECT_DEFAULT:  # Detect* support no resource-level permissions
        assert granted[action] == ["*"]


def test_s3_access_is_read_only_on_the_media_bucket(template, ids):
    statements = [s for s in role_statements(template, ids["role"]) if any(a.startswith("s3:") for a in _actions(s))]
    granted = {a: s["Resource"] for s in statements for a in _actions(s)}
    assert set(granted) == {"s3:GetObject", "s3:ListBucket"}
    assert granted["s3:ListBucket"] == {"Fn::GetAtt": [ids["media"], "Arn"]}
    assert granted["s3:GetObject"] == {"Fn::Join": ["", [{"Fn::GetAtt": [ids["media"], "Arn"]}, "/*"]]}


def test_opensearch_access_is_this_domain_only(template, ids):
    statements = [s for s in role_statements(template, ids["role"]) if any(a.startswith("es:") for a in _actions(s))]
    assert len(statements) == 1
    assert _actions(statements[0]) == {"es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"}
    rendered = [str(r) for r in statements[0]["Resource"]]
    assert all(":domain/mediaindex" in r for r in rendered)


def test_function_may_send_to_the_dead_letter_queue_and_back_to_the_ingest_queue(template, ids):
    sends = [s for s in role_statements(template, ids["role"]) if "sqs:SendMessage" in _actions(s)]
    # the ingest queue: a long video's continuation message (long_videos, on by default)
    assert sorted(str(s["Resource"]) for s in sends) == sorted(
        str({"Fn::GetAtt": [ids[q], "Arn"]}) for q in ("dlq", "queue"))


def test_media_bucket_is_private_encrypted_versioned_and_logged(template, ids):
    buckets = resources(template, "AWS::S3::Bucket")
    media = buckets[ids["media"]]
    props = media["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": ids["logs"]}
    # the user's media outlive the stack by default, but not the rollback of a failed first create
    assert (media["DeletionPolicy"], media["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    for bucket_id in (ids["media"], ids["logs"]):
        policy = next(p for p in resources(template, "AWS::S3::BucketPolicy").values()
                      if p["Properties"]["Bucket"] == {"Ref": bucket_id})
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
        assert any(s["Condition"] == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in denies)


def test_domain_is_encrypted_https_only_and_admits_only_the_functions(template, ids):
    domain = resources(template, "AWS::OpenSearchService::Domain")[ids["domain"]]
    props = domain["Properties"]
    assert props["EncryptionAtRestOptions"] == {"Enabled": True}
    assert props["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert props["DomainEndpointOptions"]["EnforceHTTPS"] is True
    assert props["DomainEndpointOptions"]["TLSSecurityPolicy"].startswith("Policy-Min-TLS-1-2")
    assert props["ClusterConfig"]["InstanceType"] == "t3.small.search"
    statements = props["AccessPolicies"]["Statement"]
    # the indexer reads and writes; the backfill function (on by default) only reads
    assert [(s["Principal"], set(as_list(s["Action"]))) for s in statements] == [
        ({"AWS": {"Fn::GetAtt": [ids["role"], "Arn"]}},
         {"es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete"}),
        ({"AWS": {"Fn::GetAtt": [ids["backfill_role"], "Arn"]}}, {"es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"}),
    ]
    assert all(s["Effect"] == "Allow" and "*" not in str(s["Principal"]) for s in statements)
    assert set(props["LogPublishingOptions"]) == {"SEARCH_SLOW_LOGS", "INDEX_SLOW_LOGS", "ES_APPLICATION_LOGS"}
    # kept on delete, but removed by the rollback of a failed first create: its fixed name cannot block the retry
    assert (domain["DeletionPolicy"], domain["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")


def test_face_collection_is_created_and_deleted_with_the_stack(template, ids):
    collection = resources(template, "AWS::Rekognition::Collection")[ids["collection"]]
    assert collection["Properties"]["CollectionId"] == "mediaindex-faces"
    assert collection.get("DeletionPolicy", "Delete") == "Delete"


def test_alarms_watch_the_dead_letter_queue_errors_and_backlog(template, ids):
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    by_metric = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms
                 if a["Properties"]["Dimensions"][0]["Value"] != {"Fn::GetAtt": [ids["backfill_failures"], "QueueName"]}}
    dlq = by_metric["ApproximateNumberOfMessagesVisible"]
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [ids["dlq"], "QueueName"]}}]
    assert dlq["Threshold"] == 1 and dlq["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    errors = by_metric["Errors"]
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": ids["function"]}}]
    assert errors["Threshold"] == 1
    assert "ApproximateAgeOfOldestMessage" in by_metric
    assert not resources(template, "AWS::SNS::Topic")  # no e-mail given: no topic
    assert all("AlarmActions" not in a["Properties"] for a in alarms)


def test_outputs_name_everything_a_user_needs(template):
    assert {"BucketName", "IndexEndpoint", "IndexName", "CollectionId", "QueueUrl", "DeadLetterQueueUrl",
            "FunctionName"} <= set(template.to_json()["Outputs"])


def test_every_acknowledgement_gives_a_specific_reason(stack):
    import aws_cdk as cdk

    reasons = []
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                reasons.extend(entry.data.items())  # {"Annotation::<rule>": reason}
    assert len(reasons) >= 10, reasons
    for rule, reason in reasons:
        assert rule.split("::", 1)[-1].startswith("AwsSolutions-"), rule
        assert len(reason) >= 80, f"{rule}: the reason is too short to say why: {reason!r}"


def test_an_unacknowledged_finding_fails_synthesis(tmp_path):
    import aws_cdk as cdk
    from aws_cdk import aws_sqs as sqs

    from infra.app import build
    from tests.infra.conftest import cdk_json_context

    app = cdk.App(context={**cdk_json_context(), "aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))
    app, stack = build(app)
    sqs.Queue(stack, "Careless")  # no dead-letter queue, no TLS-only policy
    with pytest.raises(Exception, match="(?i)validation"):
        app.synth()


def _references(value, found):
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for inner in value.values():
            _references(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _references(inner, found)
    return found


def test_resources_can_be_created_in_some_order(template):
    """No dependency cycle (CloudFormation would refuse the template at deploy time, after synth passed)."""
    resources_ = template.to_json()["Resources"]
    needs = {
        name: (_references(body.get("Properties", {}), set()) | set(as_list(body.get("DependsOn", [])))) & set(resources_)
        for name, body in resources_.items()
    }
    created: set[str] = set()
    while len(created) < len(needs):
        ready = {n for n, deps in needs.items() if n not in created and deps <= created}
        assert ready, f"dependency cycle among {sorted(set(needs) - created)}"
        created |= ready


def test_domain_access_policy_does_not_wait_for_the_function(template, ids):
    """The domain names the role; the function (which needs the endpoint) comes after the domain, not before."""
    domain = template.to_json()["Resources"][ids["domain"]]
    assert ids["function"] not in _references(domain, set())
    function = template.to_json()["Resources"][ids["function"]]
    assert ids["domain"] in _references(function, set())
