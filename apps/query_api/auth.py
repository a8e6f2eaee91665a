"""Authentication in front of every route but the health checks, when configured.

Two ways, either accepted: the static bearer token `RAGSTREAM_API_TOKEN` (compared in
constant time), and a gateway's JWT checked against `RAGSTREAM_API_JWT_KEY` (an HMAC secret
or a PEM public key) with the configured issuer and audience.
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
from starlette.types import ASGIApp, Receive, Scope, Send

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

    @property
    def enabled(self) -> bool:
        return self._token is not None or self._jwt_key is not None

    def accepts(self, credentials: str) -> bool:
        if self._token is not None and hmac.compare_digest(credentials.encode(), self._token):
            return True
        if self._jwt_key is None or credentials.count(".") != 2:
            return False
        try:
            token = jwt.decode(credentials, self._jwt_key, algorithms=self._algorithms)
            self._claims.validate(token.claims)
        except (JoseError, ValueError) as exc:
            log.info("rejected a JWT: %s", exc)
            return False
        return True


class AuthMiddleware:
    """Answers 401 (JSON error body) to requests without valid credentials, except on public paths."""

    def __init__(self, app: ASGIApp, *, authenticator: Authenticator, public_paths: Collection[str]) -> None:
        self.app = app
        self.authenticator = authenticator
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.authenticator.enabled or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        scheme, _, credentials = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and credentials and self.authenticator.accepts(credentials.strip()):
            await self.app(scope, receive, send)
            return
        response = error_response(
            401,
            "unauthorized",
            "send `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)
