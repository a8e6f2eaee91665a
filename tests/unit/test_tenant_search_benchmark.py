"""Unit tests of the many-tenants search benchmark (`bench.tenant_search`), with the hashing embedder
and small tenants, so that it runs in a second."""

from __future__ import annotations

import pytest

from apps.common.embeddings import HASHING_MODEL, Embedders
from apps.common.settings import Settings
from bench import tenant_search
from bench.stack import Document
from bench.tenant_search import Latency, measure, result, tenant_of


def test_documents_go_to_tenants_in_runs() -> None:
    per = tenant_search.DOCUMENTS_PER_TENANT
    assert [tenant_of(i) for i in (0, per - 1, per, 3 * per)] == [
        "tenant-00",
        "tenant-00",
        "tenant-01",
        "tenant-03",
    ]


async def test_the_same_searches_are_timed_shared_and_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tenant_search, "TENANTS", 3)
    monkeypatch.setattr(tenant_search, "DOCUMENTS_PER_TENANT", 4)
    monkeypatch.setattr(tenant_search, "SEARCHES", 5)
    documents = [Document(f"d{i}.txt", f"document {i} about topic {i % 4} and more words") for i in range(12)]
    latencies = await measure(Embedders(Settings(_env_file=None)).get(HASHING_MODEL), documents)
    assert [latency.mode for latency in latencies] == ["dense", "sparse", "hybrid"]
    assert all(len(latency.shared_ms) == len(latency.alone_ms) == 5 for latency in latencies)


def test_the_verdict_is_the_worst_modes_ratio() -> None:
    fast, slow = [1.0] * 10, [2.0] * 10
    table = result([Latency("dense", fast, fast), Latency("hybrid", slow, fast)])
    assert [row[-1] for row in table.rows] == ["1.00", "2.00"]
    assert "worst: hybrid 2.00x: NOT met" in table.notes[-1]
