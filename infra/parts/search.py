"""The search index: a new Amazon OpenSearch Service domain, or an existing endpoint.

The index itself (alias `<index_name>` -> `<index_name>-v1` and its mapping) is not created here: the function
installs it on first use (functions/mediaindex/adapters/index/opensearch.py, `ensure_ready`).

Access to a new domain: encryption at rest, node-to-node encryption, HTTPS only with TLS 1.2 or later, and a
resource-based access policy that names only the function's role (and the optional reader principals). Every
request must be signed with SigV4 by one of those principals.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct

from infra.parts import data_removal, retention
from infra.parts.nag import acknowledge, wildcard_finding
from infra.settings import DeploySettings

READ_WRITE_ACTIONS = ("es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut", "es:ESHttpDelete")
# searching uses GET and POST (_search, _count, _msearch take a body)
READ_ACTIONS = ("es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost")


class SearchIndex(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: DeploySettings) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.domain: opensearch.Domain | None = None
        # the new domain's resource-based policy; grant_read_write adds each writer's role to it
        self.access_policy = iam.PolicyDocument()
        if not settings.creates_domain:
            self.endpoint_url = settings.opensearch_endpoint.rstrip("/")
            self.domain_arn = settings.opensearch_domain_arn
            return

        name = settings.domain_name
        # Built from the name, not the domain's attribute: the domain's own access policy cannot refer to itself.
        self.domain_arn = stack.format_arn(service="es", resource="domain", resource_name=name)
        removal = data_removal(settings)
        keep_logs = retention(settings.log_retention_days)
        slow_search = logs.LogGroup(self, "SlowSearchLogs", retention=keep_logs, removal_policy=cdk.RemovalPolicy.DESTROY)
        slow_index = logs.LogGroup(self, "SlowIndexLogs", retention=keep_logs, removal_policy=cdk.RemovalPolicy.DESTROY)
        app_logs = logs.LogGroup(self, "ErrorLogs", retention=keep_logs, removal_policy=cdk.RemovalPolicy.DESTROY)
        # A native CloudFormation resource policy instead of the Domain construct's own custom-resource Lambda.
        log_policy = logs.ResourcePolicy(self, "LogDelivery", policy_statements=[iam.PolicyStatement(
            principals=[iam.ServicePrincipal("es.amazonaws.com")],
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[g.log_group_arn for g in (slow_search, slow_index, app_logs)],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
        )])

        nodes = settings.opensearch_data_nodes
        zone_aware = nodes >= 2 and nodes % 2 == 0
        self.domain = opensearch.Domain(
            self, "Domain",
            domain_name=name,
            version=opensearch.EngineVersion.open_search(settings.opensearch_version),
            capacity=opensearch.CapacityConfig(
                data_nodes=nodes,
                data_node_instance_type=settings.opensearch_instance_type,
                multi_az_with_standby_enabled=False,  # needs 3 AZs, dedicated masters and no T3 instances
            ),
            ebs=opensearch.EbsOptions(
                volume_size=settings.opensearch_volume_gb, volume_type=ec2.EbsDeviceVolumeType.GP3,
            ),
            zone_awareness=opensearch.ZoneAwarenessConfig(enabled=zone_aware, availability_zone_count=2)
            if zone_aware else opensearch.ZoneAwarenessConfig(enabled=False),
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True),
            node_to_node_encryption=True,
            enforce_https=True,
            tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2_PFS,
            logging=opensearch.LoggingOptions(
                slow_search_log_enabled=True, slow_search_log_group=slow_search,
                slow_index_log_enabled=True, slow_index_log_group=slow_index,
                app_log_enabled=True, app_log_group=app_logs,
            ),
            suppress_logs_resource_policy=True,
            off_peak_window_enabled=True,
            enable_auto_software_update=True,
            removal_policy=removal,
        )
        self.domain.node.add_dependency(log_policy)
        self.endpoint_url = f"https://{self.domain.domain_endpoint}"

        if settings.opensearch_reader_arns:
            self.access_policy.add_statements(iam.PolicyStatement(
                principals=[iam.ArnPrincipal(arn) for arn in settings.opensearch_reader_arns],
                actions=list(READ_ACTIONS),
                resources=[f"{self.domain_arn}/*"],
            ))
        # Set on the CloudFormation resource itself: the construct's access_policies option would install it with
        # a custom-resource Lambda after the domain exists.
        cfn_domain: opensearch.CfnDomain = self.domain.node.default_child  # type: ignore[assignment]
        cfn_domain.access_policies = self.access_policy

        acknowledge(
            self.domain, "AwsSolutions-OS1",
            "The domain is reached on its public HTTPS endpoint by the function, outside any VPC; its access policy "
            "admits only the function's role (and the named readers), every request is SigV4-signed, TLS 1.2 is "
            "the minimum. A VPC would put the function in it too, with NAT or endpoints for S3, SQS and Rekognition.",
        )
        acknowledge(
            self.domain, "AwsSolutions-OS3",
            "No IP allow-list: the callers are Lambda functions with no fixed address. Access is limited by the "
            "resource-based policy to named IAM principals instead, with SigV4 on every request.",
        )
        acknowledge(
            self.domain, "AwsSolutions-OS4",
            "Sized for one small index: dedicated master nodes would triple the cost of the default one-node "
            "domain. Larger deployments set opensearch_data_nodes and can add masters.",
        )
        if not zone_aware:
            acknowledge(
                self.domain, "AwsSolutions-OS7",
                "Zone awareness needs at least two data nodes; the default is one. It is turned on when "
                "opensearch_data_nodes is even. The index can be rebuilt from the bucket.",
            )

    def grant_read_write(self, role: iam.IRole) -> None:
        """Both sides: the role's own policy, and (on a new domain) the domain's access policy naming the role."""
        self._grant(role, READ_WRITE_ACTIONS)

    def grant_read(self, role: iam.IRole) -> None:
        """Searching and reading documents only (GET, HEAD, and POST for _search, _count, _mget), both sides."""
        self._grant(role, READ_ACTIONS)

    def _grant(self, role: iam.IRole, actions: tuple[str, ...]) -> None:
        resources = [self.domain_arn, f"{self.domain_arn}/*"]
        role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=resources))
        acknowledge(
            role, wildcard_finding(role, resources[1]),
            "Index paths of this one OpenSearch domain (the alias, its versioned indices, _bulk, _search): IAM "
            "names a domain's HTTP paths only as the domain ARN followed by a path pattern.",
        )
        if self.domain is not None:
            self.access_policy.add_statements(iam.PolicyStatement(
                principals=[iam.ArnPrincipal(role.role_arn)], actions=list(actions), resources=resources,
            ))
