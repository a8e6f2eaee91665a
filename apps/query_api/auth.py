"""Who calls: the identity of each request, resolved once, in front of every route.

Two kinds of credentials, either accepted: the static bearer token `RAGSTREAM_API_TOKEN` (compared
in constant time; tenant `default`, user `api-token`, every scope), and a gateway's JWT checked
against `RAGSTREAM_API_JWT_KEY` (an HMAC secret or a PEM public key) with the configured issuer and
audience, whose claims name the user, tenant, groups and scopes. With neither configured every
caller is tenant `default`, user `anonymous`, with every scope.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Collection
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey, import_key
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as Connection

from apps.common.identity import ALL_SCOPES, ANONYMOUS, DEFAULT_TENANT, Identity, Scope
from apps.common.settings import Settings
from apps.query_api.errors import error_response

log = logging.getLogger(__name__)


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self._token = settings.api_token.get_secret_value().encode() if settings.api_token else None
        self._jwt_key: Any = None
        if settings.api_jwt_key:
            secret = settings.api_jwt_key.get_secret_value()
            # A PEM block is a public key (RS256/ES256); anything else is an HMAC secret (HS256).
            is_pem = secret.lstrip().startswith("-----BEGIN")
            self._jwt_key = import_key(secret) if is_pem else OctKey.import_key(secret)
        self._algorithms = settings.api_jwt_algorithms
        claims: dict[str, Any] = {"exp": {"essential": True}}
        if settings.api_jwt_issuer:
            claims["iss"] = {"essential": True, "value": settings.api_jwt_issuer}
        if settings.api_jwt_audience:
            claims["aud"] = {"essential": True, "value": settings.api_jwt_audience}
        self._claims = jwt.JWTClaimsRegistry(now=lambda: int(time.time()), leeway=30, **claims)
        self._settings = settings

    @property
    def enabled(self) -> bool:
        return self._token is not None or self._jwt_key is not None

    def identify(self, credentials: str) -> Identity | None:
        """The caller these credentials name, or None when they are not valid."""
        if self._token is not None and hmac.compare_digest(credentials.encode(), self._token):
            return Identity(tenant=DEFAULT_TENANT, user="api-token")
        if self._jwt_key is None or credentials.count(".") != 2:
            return None
        try:
            token = jwt.decode(credentials, self._jwt_key, algorithms=self._algorithms)
            self._claims.validate(token.claims)
            return self._identity(token.claims)
        except (JoseError, ValueError) as exc:
            log.info("rejected a JWT: %s", exc)
            return None

    def _identity(self, claims: dict[str, Any]) -> Identity:
        settings = self._settings
        user, tenant = claims.get(settings.jwt_user_claim), claims.get(settings.jwt_tenant_claim)
        groups = claims.get(settings.jwt_groups_claim, [])
        if not isinstance(user, str) or not user:
            raise ValueError(f"the token names no user (claim {settings.jwt_user_claim!r})")
        if tenant is not None and (not isinstance(tenant, str) or not tenant or "/" in tenant):
            raise ValueError(f"the token's tenant (claim {settings.jwt_tenant_claim!r}) is not a name")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise ValueError(
                f"the token's groups (claim {settings.jwt_groups_claim!r}) are not a list of names"
            )
        return Identity(
            tenant=tenant or DEFAULT_TENANT,
            user=user,
            groups=frozenset(groups),
            scopes=self._scopes(claims),
        )

    def _scopes(self, claims: dict[str, Any]) -> frozenset[Scope]:
        """The token's scopes (`scope`, space-separated, or an `scp` list) that ragstream knows."""
        named = claims.get(self._settings.jwt_scope_claim)
        if named is None:
            named = claims.get("scp", self._settings.jwt_default_scopes)
        words = named.split() if isinstance(named, str) else named
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError("the token's scopes are neither a space-separated string nor a list")
        return frozenset(s for s in ALL_SCOPES if s in words)


def identity_of(request: Request) -> Identity:
    """The caller of a request that passed `AuthMiddleware` (which always names one, or refuses)."""
    identity: Identity | None = request.state.identity
    if identity is None:
        raise LookupError("a public route asked who calls it")
    return identity


class AuthMiddleware:
    """Puts the caller's identity in the request's state; answers 401 (JSON error body) to requests
    without valid credentials, except on public paths and under public prefixes (static files)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticator: Authenticator,
        public_paths: Collection[str],
        public_prefixes: Collection[str] = (),
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.public_paths = frozenset(public_paths)
        self.public_prefixes = tuple(public_prefixes)

    async def __call__(self, scope: Connection, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        identity = self._identify(scope)
        path: str = scope["path"]
        if identity is not None or path in self.public_paths or path.startswith(self.public_prefixes):
            scope.setdefault("state", {})["identity"] = identity
            await self.app(scope, receive, send)
            return
        response = error_response(
            401,
            "unauthorized",
            "send `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _identify(self, scope: Connection) -> Identity | None:
        if not self.authenticator.enabled:
            return ANONYMOUS
        headers = dict(scope["headers"])
        scheme, _, credentials = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return None
        return self.authenticator.identify(credentials.strip())
