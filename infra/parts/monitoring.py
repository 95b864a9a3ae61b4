"""Alarms: something was dead-lettered, the function failed, the queue is falling behind, and the four domain alarms
AWS recommends for OpenSearch Service; mailed to `alarm_email`. Without it nobody hears them: synthesis warns."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.parts.nag import acknowledge

PERIOD = cdk.Duration.minutes(5)
BACKLOG_SECONDS = 3600
# AWS's recommended CloudWatch alarms for OpenSearch Service: (metric, statistic, threshold, minutes a period,
# periods). FreeStorageSpace (MiB, per node) alarms at a quarter of one node's volume, as recommended.
RED_STATUS = ("ClusterStatus.red", "Maximum", 1, 1, 1)
WRITES_BLOCKED = ("ClusterIndexWritesBlocked", "Maximum", 1, 5, 1)
JVM_PRESSURE = ("JVMMemoryPressure", "Maximum", 95, 1, 3)
FREE_STORAGE_SHARE = 0.25
NO_RECIPIENT = (
    "No alarm_email: the alarms (dead letters, function errors, backlog, the OpenSearch domain's red status, "
    "blocked writes, low storage, JVM pressure) reach nobody. Deploy with -c alarm_email=you@example.com."
)


class Alarms(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, function: lambda_.IFunction, dead_letters: sqs.IQueue,
        ingest: sqs.IQueue | None, email: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cloudwatch.Alarm] = []
        self.dead_letters = self._add(dead_letters.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum",
        ).create_alarm(
            self, "DeadLetters",
            alarm_description="Messages are in the mediaindex dead-letter queue: files that could not be indexed "
                              "(each message's attributes say why).",
            threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ))
        self.errors = self._add(function.metric_errors(period=PERIOD, statistic="Sum").create_alarm(
            self, "FunctionErrors",
            alarm_description="The mediaindex indexer function failed (an invocation raised or timed out).",
            threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ))
        self.backlog = None
        if ingest is not None:
            self.backlog = self._add(ingest.metric_approximate_age_of_oldest_message(
                period=PERIOD, statistic="Maximum",
            ).create_alarm(
                self, "Backlog",
                alarm_description="The oldest S3 notification has waited over an hour: indexing is falling behind.",
                threshold=BACKLOG_SECONDS, evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ))

        self.topic: sns.Topic | None = None
        if not email:
            cdk.Annotations.of(self).add_warning_v2("mediaindex:no-alarm-recipient", NO_RECIPIENT)
        if email:
            self.topic = sns.Topic(self, "Topic", display_name="mediaindex alarms", enforce_ssl=True)
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
            for alarm in self.alarms:
                alarm.add_alarm_action(actions.SnsAction(self.topic))
                alarm.add_ok_action(actions.SnsAction(self.topic))
            acknowledge(
                self.topic, "AwsSolutions-SNS2",
                "CloudWatch alarm actions cannot publish to a topic encrypted with the AWS-managed aws/sns key, "
                "and a customer-managed key for alarm e-mails (which carry only alarm names and states) is not "
                "worth its monthly charge here.",
            )

    def watch_queue(self, construct_id: str, queue: sqs.IQueue, description: str) -> cloudwatch.Alarm:
        """An alarm (mailed like the others) when anything waits in `queue`: a failure destination of a later part."""
        alarm = self._add(queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
                          .create_alarm(
            self, construct_id, alarm_description=description, threshold=1, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ))
        self._notify(alarm)
        return alarm

    def watch_domain(self, domain: opensearch.Domain, volume_gb: int) -> list[cloudwatch.Alarm]:
        """The four domain alarms AWS recommends: red status, blocked writes, free storage, JVM memory pressure."""
        def alarm(construct_id: str, metric: cloudwatch.Metric, threshold: float, periods: int,
                  comparison: cloudwatch.ComparisonOperator, description: str) -> cloudwatch.Alarm:
            made = self._add(metric.create_alarm(
                self, construct_id, alarm_description=description, threshold=threshold,
                evaluation_periods=periods, datapoints_to_alarm=periods, comparison_operator=comparison,
            ))
            self._notify(made)
            return made

        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        name, statistic, threshold, minutes, periods = RED_STATUS
        red = alarm("DomainRed", domain.metric_cluster_status_red(
            statistic=statistic, period=cdk.Duration.minutes(minutes)), threshold, periods, at_least,
            "The OpenSearch domain is red: a primary shard is unassigned, so documents are missing from searches "
            "and writes to it fail (they are retried, then dead-lettered).")
        name, statistic, threshold, minutes, periods = WRITES_BLOCKED
        blocked = alarm("DomainWritesBlocked", domain.metric_cluster_index_writes_blocked(
            statistic=statistic, period=cdk.Duration.minutes(minutes)), threshold, periods, at_least,
            "The OpenSearch domain blocks writes (low storage or memory): nothing new is indexed.")
        low = alarm("DomainFreeStorage", domain.metric_free_storage_space(
            statistic="Minimum", period=cdk.Duration.minutes(1)), volume_gb * 1024 * FREE_STORAGE_SHARE, 1,
            cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            "A data node of the OpenSearch domain has a quarter of its volume or less left: grow "
            "opensearch_volume_gb before writes are blocked.")
        name, statistic, threshold, minutes, periods = JVM_PRESSURE
        jvm = alarm("DomainJvmPressure", domain.metric_jvm_memory_pressure(
            statistic=statistic, period=cdk.Duration.minutes(minutes)), threshold, periods, at_least,
            "The OpenSearch domain's JVM heap is 95 % full: it may refuse requests or crash; a larger instance "
            "type is needed.")
        return [red, blocked, low, jvm]

    def _notify(self, alarm: cloudwatch.Alarm) -> None:
        if self.topic is not None:
            alarm.add_alarm_action(actions.SnsAction(self.topic))
            alarm.add_ok_action(actions.SnsAction(self.topic))

    def _add(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        self.alarms.append(alarm)
        return alarm
