"""With `RAGSTREAM_API_TOKEN` (and a gateway JWT key) set, no route but the health checks
answers without credentials; the token and valid JWTs are accepted, bad ones are not."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from apps.cli.system import running_system
from apps.common.identity import ALL_SCOPES
from apps.common.settings import Settings
from apps.devstack.stack import LocalStack
from apps.query_api.app import ENDPOINTS
from tests.support import isolated_settings

pytestmark = pytest.mark.integration

TOKEN = "s3cr3t-token-for-tests"
JWT_SECRET = "a-gateway-hmac-secret-of-32-bytes!"


@pytest.fixture(scope="module")
async def secured(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    settings = await isolated_settings(
        local_stack,
        tmp_path_factory.mktemp("auth"),
        api_token=TOKEN,
        api_jwt_key=JWT_SECRET,
        api_jwt_issuer="https://gateway.example",
        api_jwt_audience="ragstream",
    )
    async with running_system(settings, ["api"]):
        yield settings


def gateway_jwt(**claims: Any) -> str:
    payload = {
        "iss": "https://gateway.example",
        "aud": "ragstream",
        "exp": int(time.time()) + 60,
        "sub": "someone",
    } | claims
    return jwt.encode({"alg": "HS256"}, payload, OctKey.import_key(JWT_SECRET))


def concrete(path: str) -> str:
    return path.replace("{id}", str(uuid.uuid4()))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
async def test_no_route_but_health_answers_without_credentials(secured: Settings, endpoint: Any) -> None:
    async with httpx.AsyncClient(base_url=secured.api_url) as client:
        anonymous = await client.request(endpoint.method, concrete(endpoint.path), json={})
        wrong = await client.request(
            endpoint.method, concrete(endpoint.path), json={}, headers={"Authorization": "Bearer wrong"}
        )
    if endpoint.public:
        assert anonymous.status_code in (200, 503)
        return
    for response in (anonymous, wrong):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"


async def test_unknown_paths_need_credentials_too(secured: Settings) -> None:
    async with httpx.AsyncClient(base_url=secured.api_url) as client:
        assert (await client.get("/v1/secret-admin")).status_code == 401


@pytest.mark.parametrize(
    ("credentials", "accepted"),
    [
        (TOKEN, True),
        (gateway_jwt(), True),
        (TOKEN[:-1], False),
        (gateway_jwt(aud="someone-else"), False),
        (gateway_jwt(iss="https://impostor.example"), False),
        (gateway_jwt(exp=int(time.time()) - 3600), False),
        (gateway_jwt()[:-4] + "AAAA", False),
        (gateway_jwt(sub=""), False),
    ],
    ids=[
        "token",
        "jwt",
        "token-prefix",
        "jwt-audience",
        "jwt-issuer",
        "jwt-expired",
        "jwt-signature",
        "jwt-user",
    ],
)
async def test_credentials(secured: Settings, credentials: str, accepted: bool) -> None:
    async with httpx.AsyncClient(base_url=secured.api_url) as client:
        response = await client.get("/v1/documents", headers={"Authorization": f"Bearer {credentials}"})
    assert response.status_code == (200 if accepted else 401)


async def test_the_openapi_document_declares_the_bearer_scheme(secured: Settings) -> None:
    async with httpx.AsyncClient(
        base_url=secured.api_url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as client:
        document = (await client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/v1/query"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in document["paths"]["/healthz"]["get"]


async def test_me_names_the_caller_of_each_kind_of_credentials(secured: Settings) -> None:
    async with httpx.AsyncClient(base_url=secured.api_url) as client:
        by_token = await client.get("/v1/me", headers={"Authorization": f"Bearer {TOKEN}"})
        by_jwt = await client.get(
            "/v1/me",
            headers={
                "Authorization": "Bearer "
                + gateway_jwt(sub="ann", tenant="acme", groups=["legal"], scope="query documents:read")
            },
        )
    assert by_token.json() == {
        "tenant": "default",
        "user": "api-token",
        "groups": [],
        "scopes": ["admin", "documents:read", "documents:write", "query"],
    }
    assert by_jwt.json() == {
        "tenant": "acme",
        "user": "ann",
        "groups": ["legal"],
        "scopes": ["documents:read", "query"],
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
async def test_a_caller_without_the_routes_scope_is_forbidden(secured: Settings, endpoint: Any) -> None:
    """A token that grants every scope but the route's own gets 403 and a JSON error, before the
    route reads or changes anything."""
    others = " ".join(sorted(s for s in ALL_SCOPES if s != endpoint.scope))
    headers = {"Authorization": "Bearer " + gateway_jwt(sub="ann", scope=others)}
    async with httpx.AsyncClient(base_url=secured.api_url, headers=headers) as client:
        response = await client.request(endpoint.method, concrete(endpoint.path), json={})
    if endpoint.scope in ("public", "identified"):
        assert response.status_code != 403
        return
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert endpoint.scope in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if e.whole_system], ids=lambda e: f"{e.method} {e.path}"
)
async def test_routes_over_every_tenant_are_for_the_default_tenants_admins(
    secured: Settings, endpoint: Any
) -> None:
    tenant_admin = gateway_jwt(sub="ann", tenant="acme", scope=" ".join(sorted(ALL_SCOPES)))
    async with httpx.AsyncClient(base_url=secured.api_url) as client:
        response = await client.request(
            endpoint.method,
            concrete(endpoint.path),
            json={},
            headers={"Authorization": f"Bearer {tenant_admin}"},
        )
        operator = await client.request(
            endpoint.method, concrete(endpoint.path), json={}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
    assert response.status_code == 403
    assert "default tenant" in response.json()["error"]["message"]
    assert operator.status_code != 403
