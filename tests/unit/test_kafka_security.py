"""Unit tests of `apps.common.kafka_security`: the settings become the right Kafka client options."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.security import BaseSecurity, SASLOAuthBearer, SASLPlaintext, SASLScram512

from apps.common.kafka_security import MskIamTokenProvider, broker_security, client_security
from apps.common.settings import Settings


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_plaintext_needs_nothing() -> None:
    assert broker_security(_settings()) == {}
    assert client_security(_settings()) == {}


def test_tls_alone() -> None:
    options = broker_security(_settings(kafka_security_protocol="SSL"))
    assert isinstance(options["security"], BaseSecurity)
    assert options["security"].use_ssl
    assert client_security(_settings(kafka_security_protocol="SSL"))["ssl_context"] is not None


def test_scram_over_tls_carries_the_credentials() -> None:
    settings = _settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="ragstream",
        kafka_sasl_password="s3cret",
    )
    security = broker_security(settings)["security"]
    assert isinstance(security, SASLScram512)
    assert (security.username, security.password, security.use_ssl) == ("ragstream", "s3cret", True)
    client = client_security(settings)
    assert client["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (client["sasl_plain_username"], client["sasl_plain_password"]) == ("ragstream", "s3cret")


def test_plain_sasl_is_the_default_mechanism() -> None:
    settings = _settings(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="u", kafka_sasl_password="p"
    )
    security = broker_security(settings)["security"]
    assert isinstance(security, SASLPlaintext)
    assert not security.use_ssl
    assert client_security(settings)["sasl_mechanism"] == "PLAIN"


@pytest.mark.parametrize("options", [broker_security, client_security])
def test_msk_iam_signs_oauthbearer_tokens(options: Any) -> None:
    settings = _settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="OAUTHBEARER")
    produced = options(settings)
    assert isinstance(produced["sasl_oauth_token_provider"], MskIamTokenProvider)
    if "security" in produced:
        assert isinstance(produced["security"], SASLOAuthBearer)
    else:
        assert produced["sasl_mechanism"] == "OAUTHBEARER"
