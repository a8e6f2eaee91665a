"""Unit tests of who calls: `apps.common.identity` (visibility, tenants of keys) and the
authenticator's reading of credentials (`apps.query_api.auth.Authenticator.identify`)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from apps.common.identity import (
    ALL_SCOPES,
    Access,
    Identity,
    groups_metadata,
    groups_of_metadata,
    key_of_tenant,
    parse_groups,
    tenant_of_key,
)
from apps.common.settings import Settings
from apps.query_api.auth import Authenticator
from apps.query_api.openapi import Endpoint

SECRET = "a-gateway-hmac-secret-of-32-bytes!"


def test_a_caller_sees_its_tenants_ungrouped_documents_and_those_of_its_groups() -> None:
    access = Identity(
        tenant="acme", user="ann", groups=frozenset({"legal"}), scopes=frozenset({"query"})
    ).access
    assert access.sees("acme", [])
    assert access.sees("acme", ["legal", "hr"])
    assert not access.sees("acme", ["hr"])
    assert not access.sees("globex", [])
    assert not access.sees("globex", ["legal"])


def test_an_admin_sees_every_group_of_its_tenant_only() -> None:
    access = Identity(tenant="acme", user="root", scopes=ALL_SCOPES).access
    assert access == Access(tenant="acme", every_group=True)
    assert access.sees("acme", ["hr"])
    assert not access.sees("globex", [])


@pytest.mark.parametrize(
    ("key", "tenant"),
    [
        ("tenants/acme/reports/q1.pdf", "acme"),
        ("tenants/acme/q1.pdf", "acme"),
        ("reports/q1.pdf", "default"),
        ("tenants/q1.pdf", "default"),
        ("tenants//q1.pdf", "default"),
        ("tenants/acme/", "default"),
    ],
)
def test_the_tenant_of_a_key(key: str, tenant: str) -> None:
    assert tenant_of_key(key) == tenant


def test_groups_are_comma_separated_names() -> None:
    assert parse_groups(" legal, hr ,,") == frozenset({"legal", "hr"})
    assert parse_groups(None) == frozenset()


def authenticator(**settings: Any) -> Authenticator:
    return Authenticator(Settings(_env_file=None, api_jwt_key=SECRET, api_token="static-token", **settings))


def token(**claims: Any) -> str:
    payload = {"sub": "ann", "exp": int(time.time()) + 60} | claims
    return jwt.encode({"alg": "HS256"}, payload, OctKey.import_key(SECRET))


def test_the_static_token_is_the_default_tenant_with_every_scope() -> None:
    assert authenticator().identify("static-token") == Identity(tenant="default", user="api-token")


def test_a_jwt_names_user_tenant_groups_and_scopes() -> None:
    identity = authenticator().identify(
        token(tenant="acme", groups=["legal", "hr"], scope="query documents:read unknown:scope")
    )
    assert identity == Identity(
        tenant="acme",
        user="ann",
        groups=frozenset({"legal", "hr"}),
        scopes=frozenset({"query", "documents:read"}),
    )


def test_scopes_may_come_as_an_scp_list() -> None:
    identity = authenticator().identify(token(scp=["admin", "query"]))
    assert identity is not None
    assert identity.scopes == frozenset({"admin", "query"})


def test_a_jwt_without_a_tenant_or_scopes_is_a_member_of_the_default_tenant() -> None:
    identity = authenticator().identify(token())
    assert identity == Identity(
        tenant="default", user="ann", scopes=frozenset({"query", "documents:read", "documents:write"})
    )


def test_claim_names_are_settings() -> None:
    identity = authenticator(
        jwt_user_claim="email", jwt_tenant_claim="org", jwt_groups_claim="teams", jwt_scope_claim="perms"
    ).identify(token(email="ann@acme.example", org="acme", teams=["legal"], perms="admin"))
    assert identity == Identity(
        tenant="acme", user="ann@acme.example", groups=frozenset({"legal"}), scopes=frozenset({"admin"})
    )


@pytest.mark.parametrize(
    "claims",
    [{"sub": ""}, {"tenant": "a/b"}, {"tenant": 7}, {"groups": "legal"}, {"scope": 42}, {"scp": [1, 2]}],
    ids=["no-user", "tenant-with-slash", "tenant-number", "groups-string", "scope-number", "scp-numbers"],
)
def test_a_jwt_with_malformed_identity_claims_is_refused(claims: dict[str, Any]) -> None:
    assert authenticator().identify(token(**claims)) is None


def test_wrong_credentials_are_nobody() -> None:
    assert authenticator().identify("static-toke") is None
    assert authenticator().identify("not.a.jwt") is None


def test_an_endpoint_cannot_be_declared_without_a_scope() -> None:
    async def handler(request: Any) -> Any:
        raise AssertionError

    with pytest.raises(TypeError, match="scope"):
        Endpoint("GET", "/v1/anything", handler, "summary", "tag")  # type: ignore[call-arg]


def test_groups_travel_as_ascii_object_metadata() -> None:
    groups = frozenset({"légal", "hr", "R&D 100%"})
    metadata = groups_metadata(groups)
    assert metadata["ragstream-groups"].isascii()
    assert groups_of_metadata(metadata) == groups
    assert groups_of_metadata({"ragstream-groups": "legal,hr"}) == frozenset({"legal", "hr"})
    assert groups_metadata(frozenset()) == {}


def test_a_key_under_a_tenant_reads_back_as_that_tenants() -> None:
    assert key_of_tenant("acme", "reports/q1.pdf") == "tenants/acme/reports/q1.pdf"
    assert tenant_of_key(key_of_tenant("acme", "reports/q1.pdf")) == "acme"
