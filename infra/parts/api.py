"""The search API (context api=true): an HTTP API in front of one function, signed in with Cognito.

What the handler needs is in docs/web.md ("On AWS: what the CDK stack must provide"); this follows it:

- Users: a Cognito user pool without self sign-up (an administrator creates each user), TOTP multi-factor
  authentication required, and the hosted sign-in page (the pool's domain) with one public app client for the
  page. The page uses the implicit grant (`response_type=token`, back to the API's own `/`); the authorization code
  grant is allowed too, for pages that do PKCE. `api_callback_urls` adds other pages (e.g. a local one).
- The API: API Gateway HTTP API, payload format 2.0. Public, because the page must load before anyone has signed
  in and they hold no data: `GET /`, `GET /assets/{name}` (the page's files) and `GET /api/config` (where to sign
  in). Everything else (the $default route, so every other method and path: /api/*, /openapi.json) needs a JWT
  from this user pool and app client. JSON access logs, stage throttling (`api_rate`, `api_burst`).
- The function `mediaindex.entrypoints.aws_api.handler` (the indexer's code asset): reads the search index
  (GET, HEAD, POST for _search), reads media objects (presigned GET redirects, which carry the function's rights,
  and thumbnails it renders), lists the enrolled people (rekognition:ListFaces, DescribeCollection on the
  collection). With `api_writes` (MEDIAINDEX_API_WRITES=1) it may also change people as the people service does
  on Rekognition (adapters/faces/rekognition.py): IndexFaces / DeleteFaces on the collection, SearchFacesByImage
  to re-match indexed photos, and writes of the re-matched documents to the index.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import aws_cdk as cdk
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.bundling import RUNTIME
from infra.parts import data_removal, retention
from infra.parts.indexer import ARCHITECTURES
from infra.parts.nag import acknowledge, wildcard_finding
from infra.parts.search import SearchIndex
from infra.settings import DeploySettings

HANDLER = "mediaindex.entrypoints.aws_api.handler"
# docs/web.md: searches and thumbnails (JPEGs decoded in draft mode) fit in 512 MB and 15 s. Enrolling or forgetting
# re-matches indexed photos, so with writes the function may use all but the last second of API Gateway's 30 s.
TIMEOUT_SECONDS = 15
WRITES_TIMEOUT_SECONDS = 29
MEMORY_MB = 512
# The page's shell and its sign-in configuration: loaded before anyone has a token; no index data in them.
PUBLIC_ROUTES = (("/", "Page"), ("/assets/{name}", "Assets"), ("/api/config", "Config"))
# Read-only: the people page lists who is enrolled.
PEOPLE_READ_ACTIONS = ("rekognition:ListFaces", "rekognition:DescribeCollection")
# api_writes: enrol (IndexFaces, replacing a photo's faces with DeleteFaces), forget (ListFaces, DeleteFaces), and
# re-match the indexed photos (SearchFacesByImage): services/people.py on the Rekognition collection.
PEOPLE_WRITE_ACTIONS = ("rekognition:IndexFaces", "rekognition:DeleteFaces", "rekognition:SearchFacesByImage")
# Variables of the indexer's environment the API does not read: the dead-letter queue, video limits, and the
# replica count (the indexer creates the index).
NOT_FOR_THE_API = ("MEDIAINDEX_DLQ_URL", "MEDIAINDEX_MAX_RECEIVES", "MEDIAINDEX_MAX_VIDEO_BYTES",
                   "MEDIAINDEX_VIDEO_INTERVAL", "MEDIAINDEX_INDEX_REPLICAS",
                   # the API indexes no file; an enrolment through it re-matches face by face
                   "MEDIAINDEX_LIBRARY_COLLECTION")
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "user": "$context.authorizer.claims.sub",
    "requestTime": "$context.requestTime", "routeKey": "$context.routeKey", "path": "$context.path",
    "status": "$context.status", "responseLength": "$context.responseLength",
    "latencyMs": "$context.responseLatency", "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}


def origins(urls: tuple[str, ...]) -> list[str]:
    """The web page's origins (scheme://host[:port]) from the URLs the sign-in returns to: CORS allows these."""
    return list(dict.fromkeys(f"{u.scheme}://{u.netloc}" for u in map(urlsplit, urls)))


class SearchApi(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DeploySettings, code: lambda_.Code,
        bucket: s3.IBucket, search: SearchIndex, collection_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        keep = data_removal(settings)

        # ---- who may call it -----------------------------------------------------------------------------------
        self.user_pool = cognito.UserPool(
            self, "Users",
            self_sign_up_enabled=False,  # an administrator creates each user (admin-create-user)
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12, require_lowercase=True, require_uppercase=True, require_digits=True,
                require_symbols=True, temp_password_validity=cdk.Duration.days(3),
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),  # an authenticator app: no SMS charges
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            removal_policy=keep,
        )
        prefix = settings.api_auth_domain or f"{settings.auth_domain_base}-{stack.account}"
        self.domain = self.user_pool.add_domain(
            "SignIn", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=prefix),
        )
        plus_plan = (
            "Threat protection (adaptive authentication, compromised-credential checks) needs the Plus feature "
            "plan, charged per monthly active user; this pool has no self sign-up (an administrator creates "
            "every user) and requires TOTP MFA at every sign-in, which covers the credential-stuffing risk it "
            "would score. Switch feature_plan to PLUS in infra/parts/api.py to turn it on."
        )
        acknowledge(self.user_pool, "AwsSolutions-COG3", plus_plan)
        acknowledge(self.user_pool, "AwsSolutions-COG8", plus_plan)

        # ---- the function --------------------------------------------------------------------------------------
        self.role = iam.Role(
            self, "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="mediaindex search API: reads the search index, presigns media GETs"
                        + (", enrols and forgets people" if settings.api_writes else ""),
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=retention(settings.log_retention_days), removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self, "Function",
            description="mediaindex: search API (HTTP API, JWT from Cognito)",
            runtime=RUNTIME,
            architecture=ARCHITECTURES[settings.architecture],
            handler=HANDLER,
            code=code,
            memory_size=MEMORY_MB,
            timeout=cdk.Duration.seconds(WRITES_TIMEOUT_SECONDS if settings.api_writes else TIMEOUT_SECONDS),
            role=self.role,
            log_group=self.log_group,
            environment=self.environment(settings, search.endpoint_url, bucket.bucket_name),
        )
        objects = bucket.arn_for_objects("*")
        # a presigned URL carries the signer's rights: GetObject makes the redirects work (and the thumbnails)
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]))
        acknowledge(
            self.role, wildcard_finding(self.role, objects),
            "The API serves any indexed file of this one media bucket (a presigned GET or a thumbnail per "
            "request): the wildcard is the object key only.",
        )
        people = "people" in settings.features
        if settings.api_writes:
            search.grant_read_write(self.role)  # re-matched documents are written back (compare-and-set)
        else:
            search.grant_read(self.role)
        if people:
            actions = PEOPLE_READ_ACTIONS + (PEOPLE_WRITE_ACTIONS if settings.api_writes else ())
            self.role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=[collection_arn]))
        acknowledge(
            self.function, "AwsSolutions-L1",
            f"Pinned to Python {RUNTIME.name.removeprefix('python')}: it shares the indexer's code asset, whose "
            "wheels are fetched for exactly this CPython version (pip --python-version).",
        )

        # ---- the HTTP API --------------------------------------------------------------------------------------
        self.api = apigw.HttpApi(
            self, "Http",
            api_name=f"{settings.stack_name}-search",
            description="mediaindex search API and page",
            # preflights (only for pages elsewhere, api_callback_urls) are answered by API Gateway, before any
            # authorizer; the page served by the API itself is same-origin and needs none
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=origins(settings.api_callback_urls),
                allow_methods=[apigw.CorsHttpMethod.ANY],
                allow_headers=["authorization", "content-type"],
                max_age=cdk.Duration.hours(1),
            ) if settings.api_callback_urls else None,
            create_default_stage=False,
        )
        self.url = self.api.api_endpoint
        page_url = f"{self.url}/"  # where the page is, and where the sign-in returns to
        callbacks = [page_url, *settings.api_callback_urls]
        self.client = self.user_pool.add_client(
            "Web",
            generate_secret=False,  # a page in a browser keeps no secret: PKCE protects the code exchange
            auth_flows=cognito.AuthFlow(user_srp=True),  # the hosted sign-in's own flow; no plain passwords sent
            o_auth=cognito.OAuthSettings(
                # the page takes the token from the redirect's fragment (implicit grant); code + PKCE also allowed
                flows=cognito.OAuthFlows(implicit_code_grant=True, authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=callbacks,
                logout_urls=callbacks,
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            access_token_validity=cdk.Duration.hours(1),
            id_token_validity=cdk.Duration.hours(1),
            refresh_token_validity=cdk.Duration.days(30),
        )
        integration = integrations.HttpLambdaIntegration(
            "Search", self.function, payload_format_version=apigw.PayloadFormatVersion.VERSION_2_0,
        )
        # $default: every method and path no other route names (/api/*, /openapi.json, ...) needs the JWT
        self.authorizer = authorizers.HttpUserPoolAuthorizer("Cognito", self.user_pool, user_pool_clients=[self.client])
        apigw.HttpRoute(
            self, "Protected", http_api=self.api, route_key=apigw.HttpRouteKey.DEFAULT, integration=integration,
            authorizer=self.authorizer,
        )
        for path, name in PUBLIC_ROUTES:
            route = apigw.HttpRoute(
                self, f"Public{name}", http_api=self.api, route_key=apigw.HttpRouteKey.with_(path, apigw.HttpMethod.GET),
                integration=integration, authorizer=apigw.HttpNoneAuthorizer(),
            )
            acknowledge(
                route, "AwsSolutions-APIG4",
                f"GET {path} is public on purpose (docs/web.md): the page's HTML, scripts and sign-in configuration "
                "must load before anyone has signed in, and hold no index data; every other method and path goes "
                "to the $default route, which needs a Cognito JWT.",
            )
        self.login_url = (
            f"{self.domain.base_url()}/login?client_id={self.client.user_pool_client_id}&response_type=token"
            f"&scope=openid+email+profile&redirect_uri={page_url}"
        )
        self.function.add_environment("MEDIAINDEX_LOGIN_URL", self.login_url)

        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=retention(settings.log_retention_days),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.stage = self.api.add_stage(
            "Stage", stage_name="$default", auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=settings.api_rate, burst_limit=settings.api_burst),
        )
        cfn_stage: apigw.CfnStage = self.stage.node.default_child  # type: ignore[assignment]
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=self.access_logs.log_group_arn,
            format=json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
        )
        self.sign_in_url = self.domain.base_url()

    @staticmethod
    def environment(settings: DeploySettings, index_url: str, bucket_name: str) -> dict[str, str]:
        """The indexer's settings (so the people service builds the same Rekognition collection and index) plus the
        bucket it serves and whether writes are allowed."""
        env = {k: v for k, v in settings.handler_environment(index_url, dlq_url="").items() if k not in NOT_FOR_THE_API}
        env.update({
            "MEDIAINDEX_MEDIA_BUCKET": bucket_name,
            "MEDIAINDEX_API_WRITES": "1" if settings.api_writes else "0",
            "POWERTOOLS_SERVICE_NAME": "mediaindex-api",
        })
        return env
