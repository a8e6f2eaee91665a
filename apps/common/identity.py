"""Who calls, and what they may see: a caller's tenant, user, groups and scopes, and the rule that
decides which documents (and their chunks) are visible to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote

Scope = Literal["query", "documents:read", "documents:write", "admin"]
ALL_SCOPES: frozenset[Scope] = frozenset({"query", "documents:read", "documents:write", "admin"})
DEFAULT_TENANT = "default"
TENANT_PREFIX = "tenants/"
# The S3 user metadata that names a document's groups (`x-amz-meta-ragstream-groups: a,b`).
GROUPS_METADATA = "ragstream-groups"


@dataclass(frozen=True)
class Identity:
    tenant: str
    user: str
    groups: frozenset[str] = frozenset()
    scopes: frozenset[Scope] = ALL_SCOPES

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    @property
    def access(self) -> Access:
        """What this caller may see: its tenant's documents without groups or in one of its groups,
        or, as an admin, all of its tenant's."""
        return Access(tenant=self.tenant, groups=self.groups, every_group=self.is_admin)


ANONYMOUS = Identity(tenant=DEFAULT_TENANT, user="anonymous")


@dataclass(frozen=True)
class Access:
    """The visibility rule, applied where data is read (SQL, the vector store's filter)."""

    tenant: str
    groups: frozenset[str] = frozenset()
    every_group: bool = False

    def sees(self, tenant: str, groups: frozenset[str] | set[str] | list[str]) -> bool:
        return tenant == self.tenant and (self.every_group or not groups or bool(self.groups & set(groups)))


def key_of_tenant(tenant: str, key: str) -> str:
    """The bucket key of `key` under `tenant`'s prefix: what `tenant_of_key` reads back."""
    return f"{TENANT_PREFIX}{tenant}/{key}"


def tenant_of_key(key: str) -> str:
    """The tenant a bucket key belongs to: `tenants/{tenant}/...`, else the default tenant."""
    if key.startswith(TENANT_PREFIX):
        tenant, slash, rest = key[len(TENANT_PREFIX) :].partition("/")
        if tenant and slash and rest:
            return tenant
    return DEFAULT_TENANT


def parse_groups(value: str | None) -> frozenset[str]:
    """Groups written as `a,b` (a form field, a command-line flag)."""
    return frozenset(g.strip() for g in (value or "").split(",") if g.strip())


def groups_metadata(groups: frozenset[str]) -> dict[str, str]:
    """The object metadata that gives it `groups`: S3 metadata is ASCII, so names are percent-encoded
    (an ASCII name without `%` reads the same either way)."""
    return {GROUPS_METADATA: quote(",".join(sorted(groups)), safe=",")} if groups else {}


def groups_of_metadata(metadata: dict[str, str]) -> frozenset[str]:
    return parse_groups(unquote(metadata.get(GROUPS_METADATA, "")))
