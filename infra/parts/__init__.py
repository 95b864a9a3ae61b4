"""One construct per concern. Each exposes what a later construct needs (grants, queues, the function), so a new
concern is added beside them in stack.py without editing their insides."""

from aws_cdk import aws_logs as _logs

from infra.settings import LOG_RETENTION_DAYS as _DAYS


def retention(days: int) -> _logs.RetentionDays:
    """CloudWatch Logs retention for a number of days (one of settings.LOG_RETENTION_DAYS)."""
    members = [m for m in _logs.RetentionDays if m.name != "INFINITE"]
    return dict(zip(_DAYS, members))[days]
