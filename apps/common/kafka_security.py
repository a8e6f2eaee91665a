"""How ragstream authenticates to Kafka: plaintext locally; TLS, SASL (PLAIN, SCRAM) or, on
Amazon MSK, IAM through OAUTHBEARER tokens signed with the task's AWS credentials."""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any

from aiokafka.abc import AbstractTokenProvider
from faststream.security import (
    BaseSecurity,
    SASLOAuthBearer,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from apps.common.settings import Settings


class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]  # aiokafka is untyped
    """OAUTHBEARER tokens for MSK's IAM authentication, from the process's AWS credentials."""

    def __init__(self, region: str) -> None:
        self._region = region

    async def token(self) -> str:
        from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

        token, _ = await asyncio.to_thread(MSKAuthTokenProvider.generate_auth_token, self._region)
        return str(token)


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    return ssl.create_default_context() if settings.kafka_security_protocol.endswith("SSL") else None


def _aws_region(settings: Settings) -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or settings.s3_region


def broker_security(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of FastStream's KafkaBroker for the configured security."""
    protocol, mechanism = settings.kafka_security_protocol, settings.kafka_sasl_mechanism
    if protocol == "PLAINTEXT":
        return {}
    use_ssl = protocol == "SASL_SSL"
    context = _ssl_context(settings)
    if protocol == "SSL":
        return {"security": BaseSecurity(ssl_context=context, use_ssl=True)}
    username = settings.kafka_sasl_username or ""
    password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    if mechanism == "OAUTHBEARER":
        return {
            "security": SASLOAuthBearer(ssl_context=context, use_ssl=use_ssl),
            "sasl_oauth_token_provider": MskIamTokenProvider(_aws_region(settings)),
        }
    scram = {"SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    if mechanism in scram:
        return {"security": scram[mechanism](username, password, ssl_context=context, use_ssl=use_ssl)}
    return {"security": SASLPlaintext(username, password, ssl_context=context, use_ssl=use_ssl)}


def client_security(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of aiokafka's clients (the admin client) for the configured security."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol, "ssl_context": _ssl_context(settings)}
    if protocol.startswith("SASL"):
        mechanism = settings.kafka_sasl_mechanism or "PLAIN"
        options["sasl_mechanism"] = mechanism
        if mechanism == "OAUTHBEARER":
            options["sasl_oauth_token_provider"] = MskIamTokenProvider(_aws_region(settings))
        else:
            options["sasl_plain_username"] = settings.kafka_sasl_username
            password = settings.kafka_sasl_password
            options["sasl_plain_password"] = password.get_secret_value() if password else None
    return options
