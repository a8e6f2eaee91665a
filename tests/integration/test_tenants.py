"""Two tenants on the real servers: each uploads through `POST /v1/documents`, through a presigned
URL and through `ragstream ingest --tenant`, and gets back only its own documents and sources, over
SSE, JSON and the OpenAI endpoint; a group's document reaches only that group."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from joserfc import jwt
from joserfc.jwk import OctKey

from apps.cli.ingest import Placement, upload
from apps.cli.system import ALL_COMPONENTS, running_system
from apps.common.documents import document_id_for
from apps.common.s3 import s3_client
from apps.common.settings import Settings
from apps.devstack.stack import LocalStack
from apps.query_api.app import ENDPOINTS
from tests.documents import corrupt_pdf
from tests.support import document_rows, isolated_settings, wait_for, wait_until_settled

pytestmark = pytest.mark.integration

SECRET = "a-gateway-hmac-secret-of-32-bytes!"
# Tenants of this module's own: the documents table is shared by every test of the session.
ACME_T, GLOBEX_T = f"acme-{uuid.uuid4().hex[:8]}", f"globex-{uuid.uuid4().hex[:8]}"
# Each tenant's documents say something only they say, and each answers the same question.
ACME = {
    "acme-direct.txt": "Acme's launch code for the rocket sled is AZURE-FALCON, on the whiteboard.",
    "acme-presigned.txt": "Acme's spare launch code for the rocket sled is COPPER-HERON, in the safe.",
    "acme-cli.txt": "Acme's backup launch code for the rocket sled is AMBER-OTTER, sealed in an envelope.",
}
GLOBEX = {
    "globex-direct.txt": "Globex's launch code for the rocket sled is GREEN-MANTIS, on the whiteboard.",
    "globex-presigned.txt": "Globex's spare launch code for the rocket sled is SILVER-WREN, in the safe.",
    "globex-cli.txt": "Globex's backup launch code for the rocket sled is IVORY-LYNX, sealed in an envelope.",
}
LEGAL_ONLY = ("acme-legal.txt", "Acme's legal launch code for the rocket sled is SECRET-BADGER, for lawyers.")
QUESTION = "What is the launch code for the rocket sled?"


def bearer(tenant: str, *, user: str = "someone", groups: list[str] | None = None, scope: str = "") -> str:
    claims = {
        "sub": user,
        "tenant": tenant,
        "groups": groups or [],
        "scope": scope or "query documents:read documents:write",
        "exp": int(time.time()) + 600,
    }
    return "Bearer " + jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(SECRET))


@pytest.fixture(scope="module")
async def tenants(
    local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    """The whole system with gateway JWTs, and each tenant's documents uploaded the three ways."""
    directory = tmp_path_factory.mktemp("tenants")
    settings = await isolated_settings(local_stack, directory, api_jwt_key=SECRET)
    async with running_system(settings, ALL_COMPONENTS):
        async with httpx.AsyncClient(base_url=settings.api_url, timeout=60) as client:
            for tenant, texts in ((ACME_T, ACME), (GLOBEX_T, GLOBEX)):
                direct, presigned, via_cli = texts.items()
                await _upload_direct(client, tenant, *direct)
                await _upload_presigned(client, tenant, *presigned)
                path = directory / via_cli[0]
                path.write_text(via_cli[1])
                await upload(settings, [(path, via_cli[0])], Placement(tenant=tenant))
            await _upload_direct(client, ACME_T, *LEGAL_ONLY, groups="legal")
        keys = [f"tenants/{ACME_T}/{name}" for name in [*ACME, LEGAL_ONLY[0]]]
        keys += [f"tenants/{GLOBEX_T}/{name}" for name in GLOBEX]
        rows = await wait_until_settled(settings, keys, timeout=180)
        assert {r["status"] for r in rows} == {"complete"}, [(r["s3_key"], r["error_message"]) for r in rows]
        yield settings


async def _upload_direct(
    client: httpx.AsyncClient, tenant: str, name: str, text: str, *, groups: str | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/v1/documents",
        files={"file": (name, text.encode(), "text/plain")},
        data={"groups": groups} if groups else {},
        headers={"Authorization": bearer(tenant)},
    )
    assert response.status_code == 202, response.text
    document: dict[str, Any] = response.json()
    assert (document["tenant"], document["s3_key"], document["status"]) == (
        tenant,
        f"tenants/{tenant}/{name}",
        "pending",
    )
    return document


async def _upload_presigned(client: httpx.AsyncClient, tenant: str, name: str, text: str) -> None:
    body = text.encode()
    response = await client.post(
        "/v1/documents/uploads",
        json={"filename": name, "size": len(body), "content_type": "text/plain"},
        headers={"Authorization": bearer(tenant)},
    )
    assert response.status_code == 201, response.text
    presigned = response.json()
    assert presigned["key"] == f"tenants/{tenant}/{name}"
    put = await client.put(presigned["url"], content=body, headers=presigned["headers"])
    assert put.status_code == 200, put.text


def _codes(sources: list[dict[str, Any]]) -> set[str]:
    return {word.strip(".,") for source in sources for word in source["text"].split() if "-" in word}


async def _sources_three_ways(client: httpx.AsyncClient, authorization: str) -> list[list[dict[str, Any]]]:
    headers = {"Authorization": authorization}
    body = {"query": QUESTION, "top_k": 10}
    answered = await client.post("/v1/query", json=body | {"stream": False}, headers=headers)
    assert answered.status_code == 200, answered.text
    async with aconnect_sse(client, "POST", "/v1/query", json=body, headers=headers) as source:
        events = [(event.event, json.loads(event.data)) async for event in source.aiter_sse()]
    [streamed] = [data["sources"] for name, data in events if name == "sources"]
    completion = await client.post(
        "/v1/chat/completions",
        json={"model": "ragstream", "messages": [{"role": "user", "content": QUESTION}], "top_k": 10},
        headers=headers,
    )
    assert completion.status_code == 200, completion.text
    return [answered.json()["sources"], streamed, completion.json()["sources"]]


def _code_of(text: str) -> str:
    """The launch code a document names ("... is AZURE-FALCON, ...")."""
    return text.split(" is ")[1].split(",")[0]


async def test_each_tenant_gets_only_its_own_sources_over_sse_json_and_openai(tenants: Settings) -> None:
    own = {
        ACME_T: {_code_of(t) for t in ACME.values()},
        GLOBEX_T: {_code_of(t) for t in GLOBEX.values()},
    }
    async with httpx.AsyncClient(base_url=tenants.api_url, timeout=60) as client:
        for tenant in (ACME_T, GLOBEX_T):
            for sources in await _sources_three_ways(client, bearer(tenant)):
                assert _codes(sources) == own[tenant], tenant


async def test_a_groups_document_reaches_only_that_group_and_the_tenants_admin(tenants: Settings) -> None:
    secret = _code_of(LEGAL_ONLY[1])
    async with httpx.AsyncClient(base_url=tenants.api_url, timeout=60) as client:
        member = await _sources_three_ways(client, bearer(ACME_T, groups=["legal"]))
        outsider = await _sources_three_ways(client, bearer(ACME_T, groups=["sales"]))
        admin = await _sources_three_ways(client, bearer(ACME_T, scope="query admin"))
        other_tenants_legal = await _sources_three_ways(client, bearer(GLOBEX_T, groups=["legal"]))
    assert all(secret in _codes(sources) for sources in member + admin)
    assert not any(secret in _codes(sources) for sources in outsider + other_tenants_legal)


async def test_documents_are_listed_and_read_only_by_those_who_may_see_them(tenants: Settings) -> None:
    legal_id = str(document_id_for(tenants.s3_bucket, f"tenants/{ACME_T}/{LEGAL_ONLY[0]}"))
    async with httpx.AsyncClient(base_url=tenants.api_url, timeout=60) as client:

        async def listed(authorization: str) -> set[str]:
            response = await client.get("/v1/documents", headers={"Authorization": authorization})
            assert response.status_code == 200
            return {d["filename"] for d in response.json()["items"]}

        assert await listed(bearer(ACME_T)) == set(ACME)
        assert await listed(bearer(ACME_T, groups=["legal"])) == {*ACME, LEGAL_ONLY[0]}
        assert await listed(bearer(ACME_T, scope="documents:read admin")) == {*ACME, LEGAL_ONLY[0]}
        assert await listed(bearer(GLOBEX_T, groups=["legal"])) == set(GLOBEX)
        seen = await client.get(
            f"/v1/documents/{legal_id}", headers={"Authorization": bearer(ACME_T, groups=["legal"])}
        )
        assert seen.status_code == 200
        missing = await client.get(f"/v1/documents/{uuid.uuid4()}", headers={"Authorization": bearer(ACME_T)})
        for authorization in (
            bearer(ACME_T),
            bearer(GLOBEX_T, groups=["legal"]),
            bearer(GLOBEX_T, scope="admin documents:read documents:write"),
        ):
            headers = {"Authorization": authorization}
            for response in (
                await client.get(f"/v1/documents/{legal_id}", headers=headers),
                await client.delete(f"/v1/documents/{legal_id}", headers=headers),
                await client.post(f"/v1/documents/{legal_id}/reprocess", headers=headers),
            ):
                assert response.status_code == 404
                assert response.json()["error"]["code"] == missing.json()["error"]["code"]
    [row] = await document_rows(tenants, [f"tenants/{ACME_T}/{LEGAL_ONLY[0]}"])
    assert row["status"] == "complete"  # nobody who may not see it changed it


async def test_counts_and_the_filename_search_see_only_what_the_caller_may(tenants: Settings) -> None:
    async with httpx.AsyncClient(base_url=tenants.api_url, timeout=60) as client:

        async def counts(authorization: str) -> dict[str, Any]:
            response = await client.get("/v1/documents/counts", headers={"Authorization": authorization})
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        async def named(authorization: str, part: str) -> list[str]:
            response = await client.get(
                "/v1/documents", params={"filename": part}, headers={"Authorization": authorization}
            )
            assert response.status_code == 200, response.text
            return sorted(d["filename"] for d in response.json()["items"])

        acme = await counts(bearer(ACME_T))
        assert set(acme["counts"]) == {"pending", "indexing", "complete", "failed", "deleted"}
        assert acme["counts"]["complete"] == 3
        assert acme["total"] == sum(n for status, n in acme["counts"].items() if status != "deleted")
        assert (await counts(bearer(ACME_T, groups=["legal"])))["counts"]["complete"] == 4
        assert (await counts(bearer(GLOBEX_T, groups=["legal"])))["counts"]["complete"] == 3
        assert await named(bearer(ACME_T), "PRESIGNED") == ["acme-presigned.txt"]
        assert await named(bearer(ACME_T), "legal") == []
        assert await named(bearer(ACME_T, groups=["legal"]), "Legal") == [LEGAL_ONLY[0]]
        assert await named(bearer(GLOBEX_T), "acme") == []
        assert await named(bearer(ACME_T), "%") == []  # a substring, not a LIKE pattern


async def test_reprocessing_every_failed_document_reaches_only_the_callers_tenant(
    tenants: Settings,
) -> None:
    broken = {ACME_T: ["acme-broken-1.pdf", "acme-broken-2.pdf"], GLOBEX_T: ["globex-broken.pdf"]}
    keys = {tenant: [f"tenants/{tenant}/{name}" for name in names] for tenant, names in broken.items()}
    async with httpx.AsyncClient(base_url=tenants.api_url, timeout=60) as client:
        for tenant, names in broken.items():
            for name in names:
                response = await client.post(
                    "/v1/documents",
                    files={"file": (name, corrupt_pdf(), "application/pdf")},
                    headers={"Authorization": bearer(tenant)},
                )
                assert response.status_code == 202, response.text
        failed = await wait_until_settled(tenants, [*keys[ACME_T], *keys[GLOBEX_T]])
        assert {row["status"] for row in failed} == {"failed"}
        globex_before = {row["workflow_id"] for row in failed if row["s3_key"] in keys[GLOBEX_T]}

        wrong = await client.post(
            "/v1/documents/reprocess", json={"status": "complete"}, headers={"Authorization": bearer(ACME_T)}
        )
        assert wrong.status_code == 422
        started = await client.post(
            "/v1/documents/reprocess", json={"status": "failed"}, headers={"Authorization": bearer(ACME_T)}
        )
    assert started.status_code == 202, started.text
    assert started.json()["skipped"] == []
    workflows = started.json()["workflows"]
    assert sorted(w.split("@")[0] for w in workflows) == [
        f"upload:{tenants.s3_bucket}/{key}" for key in sorted(keys[ACME_T])
    ]

    async def reprocessed() -> list[dict[str, Any]] | None:
        rows = await document_rows(tenants, keys[ACME_T])
        done = all(r["workflow_id"] in workflows and r["status"] == "failed" for r in rows)
        return rows if done else None

    await wait_for(reprocessed, timeout=120, what="acme's failed documents to be reprocessed")
    globex_after = {row["workflow_id"] for row in await document_rows(tenants, keys[GLOBEX_T])}
    assert globex_after == globex_before


async def test_an_upload_of_a_type_or_size_ragstream_refuses_writes_nothing(tenants: Settings) -> None:
    async with httpx.AsyncClient(base_url=tenants.api_url, timeout=60) as client:
        wrong_type = await client.post(
            "/v1/documents",
            files={"file": ("photo.png", b"\x89PNG\r\n", "image/png")},
            headers={"Authorization": bearer(ACME_T)},
        )
        fake_pdf = await client.post(
            "/v1/documents",
            files={"file": ("fake.pdf", b"not a pdf at all", "application/pdf")},
            headers={"Authorization": bearer(ACME_T)},
        )
        too_large = await client.post(
            "/v1/documents/uploads",
            json={"filename": "huge.pdf", "size": tenants.max_object_size + 1},
            headers={"Authorization": bearer(ACME_T)},
        )
        escaping = await client.post(
            "/v1/documents",
            files={"file": ("x.txt", b"text", "text/plain")},
            data={"key": f"../{GLOBEX_T}/x.txt"},
            headers={"Authorization": bearer(ACME_T)},
        )
    assert (wrong_type.status_code, fake_pdf.status_code, too_large.status_code) == (415, 415, 413)
    assert escaping.status_code == 422
    for response in (wrong_type, fake_pdf, too_large, escaping):
        assert set(response.json()["error"]) == {"code", "message"}
    async with s3_client(tenants) as s3:
        listed = await s3.list_objects_v2(Bucket=tenants.s3_bucket, Prefix="tenants/")
    keys = {o["Key"] for o in listed.get("Contents", [])}
    assert not keys & {
        f"tenants/{ACME_T}/photo.png",
        f"tenants/{ACME_T}/fake.pdf",
        f"tenants/{GLOBEX_T}/x.txt",
    }


async def test_the_cli_writes_under_the_tenants_prefix_with_its_groups(
    tenants: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "memo.txt"
    path.write_text("A memo.")
    [uploaded] = await upload(
        tenants, [(path, "memos/memo.txt")], Placement(tenant=ACME_T, groups=frozenset({"hr", "legal"}))
    )
    assert uploaded.key == f"tenants/{ACME_T}/memos/memo.txt"
    async with s3_client(tenants) as s3:
        head = await s3.head_object(Bucket=tenants.s3_bucket, Key=uploaded.key)
    assert head["Metadata"] == {"ragstream-groups": "hr,legal"}


OUTSIDERS = {
    "another tenant's admin in a group of the same name": (
        GLOBEX_T,
        ["legal"],
        "query documents:read documents:write admin",
    ),
    "the same tenant, not in the group": (ACME_T, ["sales"], "query documents:read documents:write"),
    "the same tenant and group, without scopes": (ACME_T, ["legal"], "none"),
}


def _concrete(path: str, conversation_id: str, document_id: str, generation: str) -> str:
    if path.startswith("/v1/conversations/"):
        return path.replace("{id}", conversation_id)
    return path.replace("{id}", document_id).replace("{name}", generation)


@pytest.mark.parametrize("outsider", OUTSIDERS, ids=list(OUTSIDERS))
async def test_no_route_shows_or_changes_what_the_caller_may_not_see(
    tenants: Settings, outsider: str
) -> None:
    """Every route of the table, called by someone who may not see a group's document or a user's
    conversation, answers nothing of them and changes neither."""
    secret = _code_of(LEGAL_ONLY[1])
    lawyer = {"Authorization": bearer(ACME_T, user="lawyer", groups=["legal"])}
    question = "What is the legal launch code for the rocket sled?"
    document_id = str(document_id_for(tenants.s3_bucket, f"tenants/{ACME_T}/{LEGAL_ONLY[0]}"))
    async with httpx.AsyncClient(base_url=tenants.api_url, timeout=60) as client:
        answered = await client.post("/v1/query", json={"query": question, "stream": False}, headers=lawyer)
        assert secret in answered.text
        conversation_id = answered.json()["conversation_id"]
        tenant, groups, scope = OUTSIDERS[outsider]
        headers = {"Authorization": bearer(tenant, user="outsider", groups=groups, scope=scope)}
        bodies: dict[str, Any] = {
            "/v1/query": {"query": question, "conversation_id": conversation_id, "stream": False},
            "/v1/search": {"query": question, "top_k": 20},
            "/v1/documents/reprocess": {"status": "failed"},
            "/v1/chat/completions": {
                "model": "ragstream",
                "messages": [{"role": "user", "content": question}],
            },
        }
        for endpoint in ENDPOINTS:
            path = _concrete(endpoint.path, conversation_id, document_id, f"{tenants.qdrant_collection}_g1")
            response = await client.request(
                endpoint.method, path, json=bodies.get(endpoint.path, {}), headers=headers
            )
            assert response.status_code < 500, (endpoint.path, response.text)
            # What the outsider asked comes back in errors; what the lawyer asked or was told never does.
            for kept in (secret, LEGAL_ONLY[0], *((question,) if endpoint.method == "GET" else ())):
                assert kept not in response.text, (endpoint.method, endpoint.path, response.text[:300])
        conversation = await client.get(f"/v1/conversations/{conversation_id}", headers=lawyer)
    assert [m["role"] for m in conversation.json()["messages"]] == ["user", "assistant"]
    [row] = await document_rows(tenants, [f"tenants/{ACME_T}/{LEGAL_ONLY[0]}"])
    assert row["status"] == "complete"
    async with s3_client(tenants) as s3:
        await s3.head_object(Bucket=tenants.s3_bucket, Key=f"tenants/{ACME_T}/{LEGAL_ONLY[0]}")
