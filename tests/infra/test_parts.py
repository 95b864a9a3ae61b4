"""The optional parts (infra/parts/video.py, backfill.py, api.py): what each adds, with least privilege, in the
default stack (long videos and backfill on) and with the search API on; each switched off leaves nothing behind.
Then the contracts with the library: the names the stack sets are the ones the code reads, against moto."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from tests.infra.conftest import as_list, resources, role_statements, synthesize

ES_READ = {"es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"}
ES_WRITE = {"es:ESHttpPut", "es:ESHttpDelete"}


def _id(stack, construct):
    return stack.resolve(construct.node.default_child.logical_id)


def _actions(statement):
    return set(as_list(statement["Action"]))


def _granted(template, role_id):
    return {a: s["Resource"] for s in role_statements(template, role_id) for a in _actions(s)}


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk"))


@pytest.fixture(scope="module")
def with_api(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk"), api="true", backfill_inventory_bucket="my-inventory",
                      api_callback_urls="https://media.example.com/app/,http://localhost:8000/")


@pytest.fixture(scope="module")
def with_writes(tmp_path_factory):
    return synthesize(tmp_path_factory.mktemp("cdk"), api="1", api_writes="true", long_videos="false",
                      backfill="false")


# ---- long videos -------------------------------------------------------------------------------------------------
def test_video_state_table_has_the_key_ttl_and_encryption_the_library_uses(default):
    template, stack = default
    table = resources(template, "AWS::DynamoDB::Table")[_id(stack, stack.video_state.table)]
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionPolicy"] == "Delete"  # progress notes, rebuilt by analysing again


def test_indexer_gets_only_the_state_calls_and_the_continuation_queue(default):
    template, stack = default
    table_id, queue_id = _id(stack, stack.video_state.table), _id(stack, stack.ingest.queue)
    granted = _granted(template, _id(stack, stack.indexer.role))
    dynamo = {a: r for a, r in granted.items() if a.startswith("dynamodb:")}
    assert dynamo == {a: {"Fn::GetAtt": [table_id, "Arn"]} for a in
                      ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")}
    env = resources(template, "AWS::Lambda::Function")[_id(stack, stack.indexer.function)]["Properties"][
        "Environment"]["Variables"]
    assert env["MEDIAINDEX_VIDEO_STATE_TABLE"] == {"Ref": table_id}
    assert env["MEDIAINDEX_QUEUE_URL"] == {"Ref": queue_id}


@mock_aws
def test_the_library_stores_state_in_a_table_shaped_like_the_stacks(default, monkeypatch):
    from mediaindex.config import Settings
    from mediaindex.adapters.video_state.dynamodb import DynamoVideoStateStore
    from mediaindex.bootstrap import build_app

    template, stack = default
    props = resources(template, "AWS::DynamoDB::Table")[_id(stack, stack.video_state.table)]["Properties"]
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(TableName="video-state", KeySchema=props["KeySchema"],
                        AttributeDefinitions=props["AttributeDefinitions"], BillingMode=props["BillingMode"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MEDIAINDEX_VIDEO_STATE_TABLE", "video-state")  # the name the stack's Ref resolves to
    settings = Settings.from_env()
    store = build_app(settings).video_state
    assert isinstance(store, DynamoVideoStateStore) and store.table == "video-state"
    store.put("video:abc:rekognition:6:2", {"next_start": 120.0})
    assert store.get("video:abc:rekognition:6:2") == {"next_start": 120.0}
    item = client.get_item(TableName="video-state", Key={"pk": {"S": "video:abc:rekognition:6:2"}})["Item"]
    assert props["TimeToLiveSpecification"]["AttributeName"] in item  # the attribute the table expires on
    store.delete("video:abc:rekognition:6:2")
    assert store.get("video:abc:rekognition:6:2") is None


# ---- backfill ----------------------------------------------------------------------------------------------------
def test_backfill_function_runs_the_backfill_handler_alone_for_15_minutes(default):
    template, stack = default
    function = resources(template, "AWS::Lambda::Function")[_id(stack, stack.backfill.function)]["Properties"]
    assert function["Handler"] == "mediaindex.entrypoints.aws_backfill.handler"
    assert function["Timeout"] == 900 and function["MemorySize"] == 512
    # no reserved concurrency anywhere: an account whose quota is 10 cannot reserve any (the lease keeps one run)
    assert not any("ReservedConcurrentExecutions" in f["Properties"]
                   for f in resources(template, "AWS::Lambda::Function").values())
    env = function["Environment"]["Variables"]
    indexer_env = resources(template, "AWS::Lambda::Function")[_id(stack, stack.indexer.function)]["Properties"][
        "Environment"]["Variables"]
    assert env["MEDIAINDEX_QUEUE_URL"] == {"Ref": _id(stack, stack.ingest.queue)}
    for same in ("MEDIAINDEX_INDEX", "MEDIAINDEX_INDEX_NAME", "MEDIAINDEX_OPENSEARCH_AUTH", "MEDIAINDEX_FEATURES"):
        assert env[same] == indexer_env[same], same


def test_backfill_failures_go_to_their_own_queue_without_retry(default):
    template, stack = default
    configs = [c["Properties"] for c in resources(template, "AWS::Lambda::EventInvokeConfig").values()
               if c["Properties"]["FunctionName"] == {"Ref": _id(stack, stack.backfill.function)}]
    assert len(configs) == 1 and configs[0]["MaximumRetryAttempts"] == 0
    failures = _id(stack, stack.backfill.failures)
    assert configs[0]["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [failures, "Arn"]}
    alarms = [a for a in resources(template, "AWS::CloudWatch::Alarm").values()
              if a["Properties"]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [failures, "QueueName"]}}]]
    assert len(alarms) == 1
    assert {"BackfillFunctionName", "BackfillFailureQueueUrl"} <= set(template.to_json()["Outputs"])


def test_backfill_lists_sends_reads_the_index_and_invokes_only_itself(default):
    template, stack = default
    role_id = _id(stack, stack.backfill.role)
    granted = _granted(template, role_id)
    media, queue = _id(stack, stack.media.bucket), _id(stack, stack.ingest.queue)
    function, failures = _id(stack, stack.backfill.function), _id(stack, stack.backfill.failures)
    assert granted["s3:ListBucket"] == {"Fn::GetAtt": [media, "Arn"]}
    assert "s3:GetObject" not in granted  # it lists; the indexer reads the files
    sends = [s["Resource"] for s in role_statements(template, role_id) if "sqs:SendMessage" in _actions(s)]
    assert sorted(map(str, sends)) == sorted(map(str, [{"Fn::GetAtt": [queue, "Arn"]}, {"Fn::GetAtt": [failures, "Arn"]}]))
    assert {a for a in granted if a.startswith("es:")} == ES_READ
    assert granted["lambda:InvokeFunction"] == {"Fn::GetAtt": [function, "Arn"]}
    assert not any(a.endswith(":*") or a == "*" for a in granted)


def test_backfill_holds_its_bucket_in_a_lease_table_with_exactly_the_calls_it_makes(default):
    template, stack = default
    table_id = _id(stack, stack.backfill.lease)
    table = resources(template, "AWS::DynamoDB::Table")[table_id]
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["DeletionPolicy"] == "Delete"  # at most a lease in progress
    granted = _granted(template, _id(stack, stack.backfill.role))
    assert {a: r for a, r in granted.items() if a.startswith("dynamodb:")} == {
        a: {"Fn::GetAtt": [table_id, "Arn"]} for a in ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem")}
    env = resources(template, "AWS::Lambda::Function")[_id(stack, stack.backfill.function)]["Properties"][
        "Environment"]["Variables"]
    assert env["MEDIAINDEX_BACKFILL_LEASE_TABLE"] == {"Ref": table_id}


def test_self_invocation_is_a_separate_policy_so_the_function_does_not_wait_for_itself(default):
    template, stack = default
    function_id = _id(stack, stack.backfill.function)
    function = template.to_json()["Resources"][function_id]
    waits_for = set(as_list(function.get("DependsOn", [])))
    invoking = [name for name, p in resources(template, "AWS::IAM::Policy").items()
                if any("lambda:InvokeFunction" in _actions(s) for s in p["Properties"]["PolicyDocument"]["Statement"])]
    assert len(invoking) == 1 and invoking[0] not in waits_for


def test_inventory_bucket_is_readable_only_when_named(with_api, default):
    template, stack = with_api
    granted = _granted(template, _id(stack, stack.backfill.role))
    assert granted["s3:GetObject"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::my-inventory/*"]]}


@mock_aws
def test_the_backfill_handler_runs_on_the_environment_the_stack_sets(default, monkeypatch):
    """The stack's variables (references replaced by what CloudFormation resolves them to) drive the real handler
    against moto: files listed from the bucket, one message each on the queue the stack names."""
    from mediaindex.adapters.s3_events import events_from_message_body
    from mediaindex.entrypoints import aws_backfill

    template, stack = default
    env = resources(template, "AWS::Lambda::Function")[_id(stack, stack.backfill.function)]["Properties"][
        "Environment"]["Variables"]
    s3 = boto3.client("s3", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    s3.create_bucket(Bucket="media")
    for key in ("a.jpg", "b/c.mp4", "d e.png"):
        s3.put_object(Bucket="media", Key=key, Body=b"x" * 10)
    queue_url = sqs.create_queue(QueueName="ingest")["QueueUrl"]
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    lease = resources(template, "AWS::DynamoDB::Table")[_id(stack, stack.backfill.lease)]["Properties"]
    dynamodb.create_table(TableName="lease", KeySchema=lease["KeySchema"],
                          AttributeDefinitions=lease["AttributeDefinitions"], BillingMode=lease["BillingMode"])
    resolved = {"Ref": {_id(stack, stack.ingest.queue): queue_url, _id(stack, stack.backfill.lease): "lease"}}
    for name, value in env.items():
        if isinstance(value, dict):  # a reference: the queue URL, or the domain endpoint (no index here)
            value = resolved["Ref"].get(value.get("Ref"), "")
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MEDIAINDEX_INDEX")  # no domain under moto: everything is enqueued

    class Context:
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:backfill"
        aws_request_id = "run-1"

        def get_remaining_time_in_millis(self):
            return 900_000

    from mediaindex.bootstrap import build_app
    from mediaindex.config import Settings

    aws_backfill.configure(build_app(Settings.from_env(), s3=s3, sqs=sqs, dynamodb=dynamodb))
    try:
        held = {}
        original_put = dynamodb.put_item
        dynamodb.put_item = lambda **kwargs: held.update(kwargs) or original_put(**kwargs)  # see the lease taken
        result = aws_backfill.handler({"bucket": "media"}, Context())
    finally:
        aws_backfill.configure(None)
    assert result["done"] and result["sent"] == 3
    assert held["TableName"] == "lease" and held["Item"]["run_id"] == {"S": "run-1"}
    assert "Item" not in dynamodb.get_item(TableName="lease", Key={"pk": {"S": "backfill:media"}})  # done: released
    keys = set()
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        keys |= {events_from_message_body(m["Body"])[0].ref.key for m in got}
    assert keys == {"a.jpg", "b/c.mp4", "d e.png"}


# ---- one code asset ----------------------------------------------------------------------------------------------
def test_every_function_of_the_stack_shares_one_code_asset(with_api):
    template, _ = with_api
    ours = [f for f in resources(template, "AWS::Lambda::Function").values()
            if f["Properties"].get("Handler", "").startswith("mediaindex.")]
    assert {f["Properties"]["Handler"].rsplit(".", 1)[0] for f in ours} == {
        "mediaindex.entrypoints.aws_lambda", "mediaindex.entrypoints.aws_backfill", "mediaindex.entrypoints.aws_api"}
    assert len({json.dumps(f["Properties"]["Code"], sort_keys=True) for f in ours}) == 1


# ---- the search API ----------------------------------------------------------------------------------------------
def test_api_is_off_by_default(default):
    template, stack = default
    assert stack.api is None
    assert not resources(template, "AWS::ApiGatewayV2::Api") and not resources(template, "AWS::Cognito::UserPool")


def test_only_the_page_and_its_sign_in_config_are_public_everything_else_needs_a_cognito_jwt(with_api):
    template, stack = with_api
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in resources(template, "AWS::ApiGatewayV2::Route").values()}
    (authorizer_id, authorizer), = resources(template, "AWS::ApiGatewayV2::Authorizer").items()
    assert set(routes) == {"$default", "GET /", "GET /assets/{name}", "GET /api/config"}  # docs/web.md
    assert routes["$default"]["AuthorizationType"] == "JWT"
    assert routes["$default"]["AuthorizerId"] == {"Ref": authorizer_id}
    for key in ("GET /", "GET /assets/{name}", "GET /api/config"):
        assert routes[key]["AuthorizationType"] == "NONE" and "AuthorizerId" not in routes[key]
    assert len({json.dumps(r["Target"]) for r in routes.values()}) == 1  # one integration, one function
    jwt = authorizer["Properties"]["JwtConfiguration"]
    pool, client = _id(stack, stack.api.user_pool), _id(stack, stack.api.client)
    assert jwt["Audience"] == [{"Ref": client}]
    assert {"Ref": pool} in jwt["Issuer"]["Fn::Join"][1]
    assert authorizer["Properties"]["IdentitySource"] == ["$request.header.Authorization"]
    (_, integration), = resources(template, "AWS::ApiGatewayV2::Integration").items()
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"
    assert integration["Properties"]["IntegrationUri"] == {"Fn::GetAtt": [_id(stack, stack.api.function), "Arn"]}


def test_the_page_links_to_the_hosted_sign_in_which_returns_to_it(with_api):
    template, stack = with_api
    api_id = _id(stack, stack.api.api)
    page = {"Fn::Join": ["", [{"Fn::GetAtt": [api_id, "ApiEndpoint"]}, "/"]]}
    client = resources(template, "AWS::Cognito::UserPoolClient")[_id(stack, stack.api.client)]["Properties"]
    assert client["CallbackURLs"] == [page, "https://media.example.com/app/", "http://localhost:8000/"]
    assert set(client["AllowedOAuthFlows"]) == {"implicit", "code"}  # the page reads #access_token
    env = resources(template, "AWS::Lambda::Function")[_id(stack, stack.api.function)]["Properties"][
        "Environment"]["Variables"]
    login = "".join(p if isinstance(p, str) else json.dumps(p) for p in env["MEDIAINDEX_LOGIN_URL"]["Fn::Join"][1])
    assert "/login?client_id=" in login and "response_type=token" in login and "redirect_uri=" in login
    assert login.endswith(json.dumps({"Fn::GetAtt": [api_id, "ApiEndpoint"]}) + "/")


def test_users_are_created_by_an_administrator_with_mfa(with_api):
    template, stack = with_api
    pool = resources(template, "AWS::Cognito::UserPool")[_id(stack, stack.api.user_pool)]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "ON" and pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    client = resources(template, "AWS::Cognito::UserPoolClient")[_id(stack, stack.api.client)]["Properties"]
    assert client["GenerateSecret"] is False
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert resources(template, "AWS::Cognito::UserPoolDomain")
    api = next(iter(resources(template, "AWS::ApiGatewayV2::Api").values()))["Properties"]
    assert api["CorsConfiguration"]["AllowOrigins"] == ["https://media.example.com", "http://localhost:8000"]


def test_stage_is_throttled_and_logged(with_api):
    template, stack = with_api
    (_, stage), = resources(template, "AWS::ApiGatewayV2::Stage").items()
    props = stage["Properties"]
    assert props["StageName"] == "$default" and props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"]["ThrottlingRateLimit"] == 20
    assert props["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 40
    assert props["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": [_id(stack, stack.api.access_logs), "Arn"]}
    assert "$context.status" in props["AccessLogSettings"]["Format"]
    assert {"ApiUrl", "UserPoolId", "UserPoolClientId", "SignInUrl"} <= set(template.to_json()["Outputs"])


def test_read_only_api_reads_the_index_and_media_and_lists_people(with_api):
    template, stack = with_api
    function = resources(template, "AWS::Lambda::Function")[_id(stack, stack.api.function)]["Properties"]
    assert function["MemorySize"] == 512 and function["Timeout"] == 15  # docs/web.md
    granted = _granted(template, _id(stack, stack.api.role))
    assert {a for a in granted if a.startswith("es:")} == ES_READ
    assert {a for a in granted if a.startswith("s3:")} == {"s3:GetObject"}
    collection = {"Fn::GetAtt": [stack.resolve(stack.faces.resource.logical_id), "Arn"]}
    assert {a: r for a, r in granted.items() if a.startswith("rekognition:")} == {
        "rekognition:ListFaces": collection, "rekognition:DescribeCollection": collection}
    env = resources(template, "AWS::Lambda::Function")[_id(stack, stack.api.function)]["Properties"][
        "Environment"]["Variables"]
    assert env["MEDIAINDEX_API_WRITES"] == "0"
    assert env["MEDIAINDEX_MEDIA_BUCKET"] == {"Ref": _id(stack, stack.media.bucket)}
    assert env["MEDIAINDEX_ANALYZER"] == "rekognition"  # the people service must not reach for local models
    domain = resources(template, "AWS::OpenSearchService::Domain")[_id(stack, stack.search.domain)]
    api_role = {"Fn::GetAtt": [_id(stack, stack.api.role), "Arn"]}
    # statements may name several principals (the minimizePolicies feature flag merges them)
    admitted = [set(as_list(s["Action"])) for s in domain["Properties"]["AccessPolicies"]["Statement"]
                if api_role in as_list(s["Principal"]["AWS"])]
    assert admitted == [ES_READ]


def test_writes_add_the_people_calls_and_index_writes(with_writes):
    template, stack = with_writes
    granted = _granted(template, _id(stack, stack.api.role))
    assert ES_READ | ES_WRITE <= set(granted)
    assert {"rekognition:IndexFaces", "rekognition:DeleteFaces", "rekognition:SearchFacesByImage",
            "rekognition:ListFaces"} <= set(granted)
    assert not any(a.startswith("rekognition:Detect") for a in granted)
    assert {a for a in granted if a.startswith("s3:")} == {"s3:GetObject"}
    env = resources(template, "AWS::Lambda::Function")[_id(stack, stack.api.function)]["Properties"][
        "Environment"]["Variables"]
    assert env["MEDIAINDEX_API_WRITES"] == "1"
    function = resources(template, "AWS::Lambda::Function")[_id(stack, stack.api.function)]["Properties"]
    assert function["Timeout"] == 29  # enrolling re-matches photos: all of API Gateway's 30 s but one
    api = next(iter(resources(template, "AWS::ApiGatewayV2::Api").values()))["Properties"]
    assert "CorsConfiguration" not in api  # the page is served by the API itself: same origin


def test_parts_switched_off_leave_nothing(with_writes):
    template, stack = with_writes
    assert stack.video_state is None and stack.backfill is None
    assert not resources(template, "AWS::DynamoDB::Table")
    handlers = {f["Properties"].get("Handler") for f in resources(template, "AWS::Lambda::Function").values()}
    assert "mediaindex.entrypoints.aws_backfill.handler" not in handlers
    env = resources(template, "AWS::Lambda::Function")[_id(stack, stack.indexer.function)]["Properties"][
        "Environment"]["Variables"]
    assert "MEDIAINDEX_VIDEO_STATE_TABLE" not in env


@pytest.mark.parametrize("variant", ["default", "with_api", "with_writes"])
def test_no_dependency_cycle(variant, request):
    from tests.infra.test_stack import test_resources_can_be_created_in_some_order

    test_resources_can_be_created_in_some_order(request.getfixturevalue(variant)[0])


def test_the_api_reads_back_the_environment_the_stack_sets(with_api):
    from mediaindex.config import Settings

    template, stack = with_api
    env = resources(template, "AWS::Lambda::Function")[_id(stack, stack.api.function)]["Properties"][
        "Environment"]["Variables"]
    plain = {k: v if isinstance(v, str) else "resolved-at-deploy" for k, v in env.items()}
    settings = Settings.from_env(plain)
    assert settings.analyzer == "rekognition" and settings.opensearch_auth == "sigv4"
    assert settings.collection_id == "mediaindex-faces" and settings.features == ("labels", "faces", "people")


@pytest.mark.parametrize("variant", ["with_api", "with_writes"])
def test_acknowledgements_of_the_parts_give_their_reasons(variant, request):
    from tests.infra.test_stack import test_every_acknowledgement_gives_a_specific_reason

    stack = request.getfixturevalue(variant)[1]
    test_every_acknowledgement_gives_a_specific_reason(stack)
    import aws_cdk as cdk

    acknowledged = {rule.split("::", 1)[-1] for c in stack.api.node.find_all() for e in c.node.metadata
                    if e.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY for rule in e.data}
    assert {"AwsSolutions-COG3", "AwsSolutions-COG8", "AwsSolutions-L1"} <= acknowledged


def _resolved_env(template, stack, function, values):
    """The function's variables as Lambda would see them: each reference replaced by `values[logical id]`."""
    def resolve(value):
        if isinstance(value, str):
            return value
        if "Ref" in value:
            return values[value["Ref"]]
        if "Fn::GetAtt" in value:
            return values[".".join(value["Fn::GetAtt"])]
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(resolve(p) for p in parts)
        raise AssertionError(value)

    env = resources(template, "AWS::Lambda::Function")[_id(stack, function)]["Properties"]["Environment"]["Variables"]
    return {name: resolve(value) for name, value in env.items()}


@mock_aws
def test_the_api_handler_serves_its_sign_in_config_from_the_stacks_environment(with_api):
    """The real API adapter built from the variables the stack sets: /api/config (public) tells the page where
    to sign in, with the hosted UI URL the stack built; the page itself is served."""
    from mediaindex.bootstrap import build_app
    from mediaindex.config import Settings
    from mediaindex.entrypoints.aws_api import build_api, lambda_handler
    from tests.web.test_aws_api import http_event

    template, stack = with_api
    values = {
        _id(stack, stack.search.domain) + ".DomainEndpoint": "search-mediaindex-abc.us-east-1.es.amazonaws.com",
        _id(stack, stack.media.bucket): "media-bucket",
        stack.resolve(stack.api.domain.node.default_child.logical_id): "mediaindex-123456789012",
        "AWS::Region": "us-east-1",
        _id(stack, stack.api.client): "client123",
        _id(stack, stack.api.api) + ".ApiEndpoint": "https://abc123.execute-api.us-east-1.amazonaws.com",
    }
    env = _resolved_env(template, stack, stack.api.function, values)
    assert env["MEDIAINDEX_LOGIN_URL"] == (
        "https://mediaindex-123456789012.auth.us-east-1.amazoncognito.com/login?client_id=client123"
        "&response_type=token&scope=openid+email+profile&redirect_uri=https://abc123.execute-api.us-east-1.amazonaws.com/")
    app = build_app(Settings.from_env(env), s3=boto3.client("s3", region_name="us-east-1"), index=object())
    handler = lambda_handler(build_api(env=env, app=app))

    def get(path):
        return handler(http_event("GET", path), None)

    config = get("/api/config")
    assert config["statusCode"] == 200
    body = json.loads(config["body"])
    assert body["login_url"] == env["MEDIAINDEX_LOGIN_URL"] and body["writes"] is False
    page = get("/")
    assert page["statusCode"] == 200 and "<html" in page["body"].lower()


def test_the_indexer_reads_back_the_long_video_settings_the_stack_sets(default):
    from mediaindex.config import Settings

    template, stack = default
    table_id, queue_id = _id(stack, stack.video_state.table), _id(stack, stack.ingest.queue)
    values = {table_id: "MediaIndex-VideoStateTable-X", queue_id: "https://sqs.us-east-1.amazonaws.com/1/ingest",
              _id(stack, stack.dead_letters.queue): "https://sqs.us-east-1.amazonaws.com/1/dlq",
              _id(stack, stack.search.domain) + ".DomainEndpoint": "search-x.us-east-1.es.amazonaws.com"}
    settings = Settings.from_env(_resolved_env(template, stack, stack.indexer.function, values))
    assert settings.video_state_table == "MediaIndex-VideoStateTable-X"
    assert settings.queue_url == "https://sqs.us-east-1.amazonaws.com/1/ingest"


def test_backfill_failures_are_mailed_with_the_other_alarms(tmp_path):
    template, stack = synthesize(tmp_path, alarm_email="ops@example.com", architecture="arm64")
    topic = {"Ref": next(iter(resources(template, "AWS::SNS::Topic")))}
    failures = _id(stack, stack.backfill.failures)
    alarm = next(a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
                 if a["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [failures, "QueueName"]})
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
    backfill = resources(template, "AWS::Lambda::Function")[_id(stack, stack.backfill.function)]["Properties"]
    assert backfill["Architectures"] == ["arm64"]  # the one asset is built for the stack's architecture


# ---- the S3 read limit -------------------------------------------------------------------------------------------
class _ClaimsSize:
    """A moto S3 client whose HEAD answers `size`: S3's answer for an object of that size, without storing one."""

    def __init__(self, client, size):
        self.client, self.size = client, size

    def head_object(self, **kwargs):
        return {**self.client.head_object(**kwargs), "ContentLength": self.size}

    def __getattr__(self, name):
        return getattr(self.client, name)


@mock_aws
def test_s3_reads_stop_at_the_video_limit_the_stack_sets(default):
    """The stack's MEDIAINDEX_MAX_VIDEO_BYTES (half the function's memory: 1 GiB at 2,048 MB, the limit the docs
    give) is where the indexer's S3 reads stop: a video of that size is read, one byte more is refused."""
    from mediaindex.bootstrap import build_app
    from mediaindex.config import Settings
    from mediaindex.domain.errors import MediaTooLarge
    from mediaindex.ports import ObjectRef

    template, stack = default
    env = resources(template, "AWS::Lambda::Function")[_id(stack, stack.indexer.function)]["Properties"][
        "Environment"]["Variables"]
    limit = int(env["MEDIAINDEX_MAX_VIDEO_BYTES"])
    assert limit == 1024**3 == stack.settings.memory_mb * 2**20 // 2
    # a video that large from S3 is streamed to a temporary file in /tmp, which has room for it
    tmp = resources(template, "AWS::Lambda::Function")[_id(stack, stack.indexer.function)]["Properties"][
        "EphemeralStorage"]["Size"]
    assert tmp * 2**20 >= limit + 256 * 2**20
    settings = Settings.from_env({"MEDIAINDEX_MAX_VIDEO_BYTES": env["MEDIAINDEX_MAX_VIDEO_BYTES"]})
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="media")
    s3.put_object(Bucket="media", Key="clip.mp4", Body=b"video")
    ref = ObjectRef("media", "clip.mp4")
    with build_app(settings, s3=_ClaimsSize(s3, limit)).storage.read(ref) as obj:
        assert obj.data == b"video"
    with pytest.raises(MediaTooLarge, match=f"above the {limit:,}-byte limit"):
        build_app(settings, s3=_ClaimsSize(s3, limit + 1)).storage.read(ref)
