"""S3 (and SQS) clients: the configured endpoint and keys, else AWS's own credential chain."""

from __future__ import annotations

from typing import Any

import aioboto3
from aiobotocore.config import AioConfig

from apps.common.settings import Settings


def aws_session(settings: Settings) -> aioboto3.Session:
    secret = settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
    return aioboto3.Session(
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret,
        region_name=settings.s3_region,
    )


def s3_client(settings: Settings) -> Any:
    """An async context manager yielding the S3 client."""
    config = AioConfig(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=50)
    return aws_session(settings).client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


def sqs_client(settings: Settings) -> Any:
    return aws_session(settings).client("sqs", endpoint_url=settings.s3_endpoint_url)
