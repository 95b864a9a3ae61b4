"""Alarms: something was dead-lettered, the function failed, the queue is falling behind; an optional e-mail."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.parts.nag import acknowledge

PERIOD = cdk.Duration.minutes(5)
BACKLOG_SECONDS = 3600


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
        if self.topic is not None:
            alarm.add_alarm_action(actions.SnsAction(self.topic))
            alarm.add_ok_action(actions.SnsAction(self.topic))
        return alarm

    def _add(self, alarm: cloudwatch.Alarm) -> cloudwatch.Alarm:
        self.alarms.append(alarm)
        return alarm
