"""One construct per concern. Each exposes what a later construct needs (grants, queues, the function), so a new
concern is added beside them in stack.py without editing their insides."""

import aws_cdk as _cdk
from aws_cdk import aws_logs as _logs

from infra.settings import LOG_RETENTION_DAYS as _DAYS
from infra.settings import DeploySettings as _Settings


def retention(days: int) -> _logs.RetentionDays:
    """CloudWatch Logs retention for a number of days (one of settings.LOG_RETENTION_DAYS)."""
    members = [m for m in _logs.RetentionDays if m.name != "INFINITE"]
    return dict(zip(_DAYS, members))[days]


def data_removal(settings: _Settings) -> _cdk.RemovalPolicy:
    """What becomes of the data resources (the buckets, the domain, the user pool) when the stack lets go of them.
    removal=retain keeps them on a stack delete and on a replacement, but not on the rollback of the create that
    made them (CloudFormation's RetainExceptOnCreate): a failed first deploy leaves no named domain behind to make
    the retry fail on "already exists"."""
    return _cdk.RemovalPolicy.DESTROY if settings.destroys_data else _cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
