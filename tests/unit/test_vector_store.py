"""The vector-store port, one suite run against both adapters: Qdrant Edge in-process
(`QdrantEdgeStore`) and qdrant-client's local mode standing in for a Qdrant server
(`QdrantServerStore`). Results are checked against a brute-force cosine ranking and the
visibility rule (`Access.sees`), and the two adapters against each other."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID, uuid5

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qdrant_client import AsyncQdrantClient, models
from qdrant_edge import (
    CountRequest,
    EdgeShard,
    Filter,
    IsEmptyCondition,
    KeywordIndexParams,
    PayloadSchemaType,
    UpdateOperation,
)

from apps.common.identity import DEFAULT_TENANT, Access
from apps.common.qdrant_edge_store import QdrantEdgeStore
from apps.common.qdrant_server_store import QdrantServerStore
from apps.common.vector_store import (
    ChunkPoint,
    CollectionNotFound,
    SearchFilter,
    VectorStore,
)
from schemas.api import SearchMode
from schemas.points import ChunkPayload, point_id

pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant")

DIMENSIONS = 16
NAMESPACE = UUID("0b7c56a4-7f0e-4a35-9d0e-1f4a39c5d3a1")
DOCUMENTS = [uuid5(NAMESPACE, f"doc{i}") for i in range(6)]
CHUNKS_PER_DOCUMENT = 4
# The corpora below are the default tenant's, without groups: its admin sees them all.
DEFAULT_TENANT_ADMIN = Access(tenant=DEFAULT_TENANT, every_group=True)
MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")


def _day(n: int) -> datetime:
    """The upload time of document n: noon UTC on the (n+1)th of January."""
    return datetime(2026, 1, 1 + n, 12, tzinfo=UTC)


def _unit(rng: np.random.Generator) -> npt.NDArray[np.float32]:
    vector = rng.standard_normal(DIMENSIONS).astype(np.float32)
    normalised: npt.NDArray[np.float32] = vector / np.linalg.norm(vector)
    return normalised


def _corpus(seed: int = 7, version: str = "v1") -> list[ChunkPoint]:
    rng = np.random.default_rng(seed)
    return [
        ChunkPoint(
            id=point_id(document_id, version, index),
            vector=_unit(rng),
            payload=ChunkPayload(
                document_id=document_id,
                version=version,
                chunk_index=index,
                content=f"chunk {index} of document {n}, {version}",
                filename=f"doc{n}.txt",
                upload_timestamp=_day(n),
                page=index + 1 if n % 2 else None,
                section="intro" if index == 0 else None,
            ),
        )
        for n, document_id in enumerate(DOCUMENTS)
        for index in range(CHUNKS_PER_DOCUMENT)
    ]


CORPUS = _corpus()
QUERIES = [_unit(rng) for rng in [np.random.default_rng(100 + i) for i in range(4)]]
PLUS_TWO = timezone(timedelta(hours=2))
FILTERS: dict[str, SearchFilter] = {
    "none": SearchFilter(),
    "document_ids": SearchFilter(document_ids=[DOCUMENTS[1], DOCUMENTS[3]]),
    "no_document_ids": SearchFilter(document_ids=[]),
    # Bounds are inclusive: the document uploaded at the bound is in.
    "uploaded_after": SearchFilter(uploaded_after=_day(3)),
    "uploaded_before": SearchFilter(uploaded_before=_day(2)),
    "window": SearchFilter(uploaded_after=_day(1), uploaded_before=_day(4)),
    "window_in_another_zone": SearchFilter(
        uploaded_after=_day(1).astimezone(PLUS_TWO), uploaded_before=_day(4).astimezone(PLUS_TWO)
    ),
    "document_ids_and_window": SearchFilter(
        document_ids=[DOCUMENTS[0], DOCUMENTS[2], DOCUMENTS[5]], uploaded_after=_day(2)
    ),
}


def _matches(point: ChunkPoint, where: SearchFilter) -> bool:
    payload = point.payload
    if where.document_ids is not None and payload.document_id not in where.document_ids:
        return False
    if where.uploaded_after is not None and payload.upload_timestamp < where.uploaded_after:
        return False
    return where.uploaded_before is None or payload.upload_timestamp <= where.uploaded_before


def _expected(
    points: list[ChunkPoint], query: npt.NDArray[np.float32], where: SearchFilter, limit: int
) -> list[UUID]:
    """Brute-force cosine ranking (the vectors are unit length)."""
    candidates = [p for p in points if _matches(p, where)]
    scores = [float(np.dot(p.vector, query)) for p in candidates]
    ranked = sorted(zip(scores, candidates, strict=True), key=lambda pair: -pair[0])
    return [p.id for _, p in ranked[:limit]]


StoreFactory = Callable[[Path], VectorStore]


def _edge(directory: Path) -> VectorStore:
    return QdrantEdgeStore(directory / "qdrant")


def _server(directory: Path) -> VectorStore:
    return QdrantServerStore.connect(":memory:")


ADAPTERS: dict[str, StoreFactory] = {"edge": _edge, "server": _server}


@pytest.fixture(params=list(ADAPTERS))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorStore]:
    opened = ADAPTERS[request.param](tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


async def _loaded(store: VectorStore, collection: str = "chunks") -> str:
    await store.ensure_collection(collection, DIMENSIONS)
    await store.upsert(collection, CORPUS)
    return collection


async def test_ensure_collection_is_idempotent(store: VectorStore) -> None:
    assert not await store.collection_exists("chunks")
    await _loaded(store)

    await store.ensure_collection("chunks", DIMENSIONS)

    assert await store.collection_exists("chunks")
    assert await store.count("chunks") == len(CORPUS)


async def test_set_alias_switches_what_the_alias_reads(store: VectorStore) -> None:
    old, new = CORPUS[:4], _corpus(seed=8, version="v2")[:2]
    for collection, points in (("documents_g1", old), ("documents_g2", new)):
        await store.ensure_collection(collection, DIMENSIONS)
        await store.upsert(collection, points)
    await store.set_alias("documents", "documents_g1")
    assert await store.count("documents") == 4

    await store.set_alias("documents", "documents_g2")

    assert await store.resolve("documents") == "documents_g2"
    assert await store.count("documents") == 2
    hits = await store.search(
        "documents", new[0].vector, access=DEFAULT_TENANT_ADMIN, limit=10, where=SearchFilter()
    )
    assert {h.payload.version for h in hits} == {"v2"}
    # The old generation stays until it is dropped.
    assert await store.count("documents_g1") == 4
    assert await store.resolve("documents_g1") == "documents_g1"


async def test_resolve_of_a_plain_or_unknown_name_is_the_name(store: VectorStore) -> None:
    await store.ensure_collection("chunks", DIMENSIONS)

    assert await store.resolve("chunks") == "chunks"
    assert await store.resolve("missing") == "missing"


@pytest.mark.parametrize("filter_name", list(FILTERS))
async def test_search_ranks_by_cosine_within_the_filter(store: VectorStore, filter_name: str) -> None:
    collection = await _loaded(store)
    where = FILTERS[filter_name]

    for query in QUERIES:
        hits = await store.search(collection, query, access=DEFAULT_TENANT_ADMIN, limit=5, where=where)

        assert [h.id for h in hits] == _expected(CORPUS, query, where, 5)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        for hit in hits:
            assert hit.score == pytest.approx(float(np.dot(_by_id(hit.id).vector, query)), abs=1e-4)


async def test_search_returns_the_payload_as_written(store: VectorStore) -> None:
    collection = await _loaded(store)

    for point in CORPUS[:6]:
        [hit] = await store.search(
            collection,
            point.vector,
            access=DEFAULT_TENANT_ADMIN,
            limit=1,
            where=SearchFilter(document_ids=[point.payload.document_id]),
        )
        assert hit.id == point.id
        assert hit.payload == point.payload
        assert hit.score == pytest.approx(1.0, abs=1e-5)


async def test_upserting_the_same_ids_again_overwrites(store: VectorStore) -> None:
    collection = await _loaded(store)
    rewritten = [
        ChunkPoint(p.id, p.vector, p.payload.model_copy(update={"content": "rewritten"})) for p in CORPUS[:3]
    ]

    await store.upsert(collection, rewritten)

    assert await store.count(collection) == len(CORPUS)
    [hit] = await store.search(
        collection, CORPUS[0].vector, access=DEFAULT_TENANT_ADMIN, limit=1, where=SearchFilter()
    )
    assert hit.payload.content == "rewritten"


async def test_count_overall_and_per_document(store: VectorStore) -> None:
    collection = await _loaded(store)

    assert await store.count(collection) == len(CORPUS)
    for document_id in DOCUMENTS:
        assert await store.count(collection, document_id=document_id) == CHUNKS_PER_DOCUMENT
    assert await store.count(collection, document_id=uuid5(NAMESPACE, "unknown")) == 0


async def test_delete_document_removes_all_its_points(store: VectorStore) -> None:
    collection = await _loaded(store)

    await store.delete_document(collection, DOCUMENTS[2], keep_version=None)

    assert await store.count(collection, document_id=DOCUMENTS[2]) == 0
    assert await store.count(collection) == len(CORPUS) - CHUNKS_PER_DOCUMENT
    hits = await store.search(
        collection, QUERIES[0], access=DEFAULT_TENANT_ADMIN, limit=len(CORPUS), where=SearchFilter()
    )
    assert DOCUMENTS[2] not in {h.payload.document_id for h in hits}


async def test_delete_document_can_keep_one_version(store: VectorStore) -> None:
    collection = await _loaded(store)
    document_id = DOCUMENTS[1]
    newer = [p for p in _corpus(seed=9, version="v2") if p.payload.document_id == document_id][:2]
    await store.upsert(collection, newer)
    assert await store.count(collection, document_id=document_id) == CHUNKS_PER_DOCUMENT + 2

    await store.delete_document(collection, document_id, keep_version="v2")

    assert await store.count(collection, document_id=document_id) == 2
    hits = await store.search(
        collection,
        QUERIES[1],
        access=DEFAULT_TENANT_ADMIN,
        limit=10,
        where=SearchFilter(document_ids=[document_id]),
    )
    assert sorted(h.id for h in hits) == sorted(p.id for p in newer)
    # Other documents are untouched, whatever their version.
    assert await store.count(collection) == len(CORPUS) - CHUNKS_PER_DOCUMENT + 2


async def test_a_missing_collection_raises_collection_not_found(store: VectorStore) -> None:
    with pytest.raises(CollectionNotFound):
        await store.search("missing", QUERIES[0], access=DEFAULT_TENANT_ADMIN, limit=5, where=SearchFilter())
    with pytest.raises(CollectionNotFound):
        await store.count("missing")
    with pytest.raises(CollectionNotFound):
        await store.upsert("missing", CORPUS[:1])
    with pytest.raises(CollectionNotFound):
        await store.delete_document("missing", DOCUMENTS[0], keep_version=None)
    assert not await store.collection_exists("missing")


async def test_drop_collection(store: VectorStore) -> None:
    collection = await _loaded(store)
    await _loaded(store, "other")

    await store.drop_collection(collection)

    assert not await store.collection_exists(collection)
    with pytest.raises(CollectionNotFound):
        await store.search(collection, QUERIES[0], access=DEFAULT_TENANT_ADMIN, limit=5, where=SearchFilter())
    with pytest.raises(CollectionNotFound):
        await store.count(collection)
    assert await store.count("other") == len(CORPUS)
    # A collection of the same name starts empty.
    await store.ensure_collection(collection, DIMENSIONS)
    assert await store.count(collection) == 0


async def test_dropping_the_live_collection_removes_its_alias(store: VectorStore) -> None:
    """As a Qdrant server does: no alias is left pointing at a collection that is gone."""
    await store.ensure_collection("documents_g1", DIMENSIONS)
    await store.set_alias("documents", "documents_g1")

    await store.drop_collection("documents_g1")

    assert await store.resolve("documents") == "documents"
    assert not await store.collection_exists("documents")
    await store.ensure_collection("documents_g2", DIMENSIONS)
    await store.set_alias("documents", "documents_g2")
    await store.upsert("documents", CORPUS[:1])
    assert await store.count("documents") == 1


@dataclass(frozen=True)
class Hit:
    id: UUID
    score: float
    payload: ChunkPayload


async def _answers(store: VectorStore) -> dict[tuple[str, int], list[Hit]]:
    collection = await _loaded(store)
    return {
        (name, i): [
            Hit(h.id, h.score, h.payload)
            for h in await store.search(collection, query, access=DEFAULT_TENANT_ADMIN, limit=7, where=where)
        ]
        for name, where in FILTERS.items()
        for i, query in enumerate(QUERIES)
    }


async def test_both_adapters_answer_alike(tmp_path: Path) -> None:
    answers = {}
    for name, factory in ADAPTERS.items():
        store = factory(tmp_path / name)
        try:
            answers[name] = await _answers(store)
        finally:
            await store.close()

    edge, server = answers["edge"], answers["server"]
    assert edge.keys() == server.keys()
    for question, edge_hits in edge.items():
        server_hits = server[question]
        assert [h.id for h in edge_hits] == [h.id for h in server_hits], question
        assert [h.payload for h in edge_hits] == [h.payload for h in server_hits], question
        assert [h.score for h in edge_hits] == pytest.approx([h.score for h in server_hits], abs=1e-4)
    assert any(edge.values())


def _by_id(point_id: UUID) -> ChunkPoint:
    return next(p for p in CORPUS if p.id == point_id)


WORDS = [
    "emperor penguins incubate the egg on their feet",
    "sourdough starter needs flour and water every day",
    "the moon pulls the ocean and makes the tides",
    "glaciers form where snow outlasts the summer melt",
    "penguins dive deep to catch fish and krill",
    "water boils at lower temperatures on high mountains",
]


def _worded(texts: Sequence[str] = WORDS, rng_seed: int = 11) -> list[ChunkPoint]:
    """Chunks whose text matters: one per sentence of `texts`, each its own document."""
    rng = np.random.default_rng(rng_seed)
    return [
        ChunkPoint(
            id=point_id(DOCUMENTS[n], "v1", 0),
            vector=_unit(rng),
            payload=ChunkPayload(
                document_id=DOCUMENTS[n],
                version="v1",
                chunk_index=0,
                content=text,
                filename=f"doc{n}.txt",
                upload_timestamp=_day(n),
            ),
        )
        for n, text in enumerate(texts)
    ]


@pytest.mark.parametrize("words", ["penguins", "flour water", "tides moon ocean"])
async def test_sparse_search_finds_the_words(store: VectorStore, words: str) -> None:
    await store.ensure_collection("worded", DIMENSIONS)
    await store.upsert("worded", _worded())
    hits = await store.search(
        "worded",
        QUERIES[0],
        access=DEFAULT_TENANT_ADMIN,
        limit=3,
        where=SearchFilter(),
        text=words,
        mode="sparse",
    )
    assert hits
    assert all(any(word in hit.payload.content for word in words.split()) for hit in hits)


async def test_hybrid_search_fuses_meaning_and_words(store: VectorStore) -> None:
    corpus = _worded()
    await store.ensure_collection("worded", DIMENSIONS)
    await store.upsert("worded", corpus)
    # The vector points at the glacier chunk; the words name the sourdough one: both are in.
    glacier, sourdough = corpus[3], corpus[1]
    hits = await store.search(
        "worded",
        glacier.vector,
        access=DEFAULT_TENANT_ADMIN,
        limit=2,
        where=SearchFilter(),
        text="sourdough starter",
        mode="hybrid",
    )
    assert {h.id for h in hits} == {glacier.id, sourdough.id}
    filtered = await store.search(
        "worded",
        glacier.vector,
        access=DEFAULT_TENANT_ADMIN,
        limit=2,
        where=SearchFilter(document_ids=[DOCUMENTS[1]]),
        text="sourdough starter",
        mode="hybrid",
    )
    assert [h.id for h in filtered] == [sourdough.id]


async def test_both_adapters_rank_words_and_fusion_alike(tmp_path: Path) -> None:
    ranked: dict[str, list[list[UUID]]] = {}
    for name, factory in ADAPTERS.items():
        store = factory(tmp_path / name)
        try:
            await store.ensure_collection("worded", DIMENSIONS)
            await store.upsert("worded", _worded())
            ranked[name] = [
                [
                    h.id
                    for h in await store.search(
                        "worded",
                        query,
                        access=DEFAULT_TENANT_ADMIN,
                        limit=4,
                        where=SearchFilter(),
                        text=words,
                        mode=mode,
                    )
                ]
                for query, words in zip(QUERIES, ["penguins", "water", "moon tides", "snow"], strict=True)
                for mode in ("sparse", "hybrid")
            ]
        finally:
            await store.close()
    assert ranked["edge"] == ranked["server"]


# Each identifier's chunk has a rival with the identifier's parts apart that is shorter or says a
# part twice: ranked by the parts alone (Qdrant's BM25 without sparse_text), the rival comes first.
CODE = [
    "Call os.makedirs(name, exist_ok=True) to create a directory with its missing parents.",
    "Does the file exist? If so, ok.",
    "The os module has makedirs.",
    "SELECT pid, state FROM pg_stat_activity lists what each backend is doing now.",
    "On the server, pg_stat_statements keeps stats per query; activity is sampled.",
    "Subclass HTTPServer and override do_GET to answer requests.",
]


async def _code_hits(store: VectorStore, words: str, limit: int = 3) -> list[str]:
    await store.ensure_collection("code", DIMENSIONS)
    await store.upsert("code", _worded(CODE))
    hits = await store.search(
        "code",
        QUERIES[0],
        access=DEFAULT_TENANT_ADMIN,
        limit=limit,
        where=SearchFilter(),
        text=words,
        mode="sparse",
    )
    # Chunks of equal score come in no set order: by their text, so that two rankings compare.
    ranked = sorted(hits, key=lambda h: (-round(h.score, 4), h.payload.content))
    return [h.payload.content for h in ranked]


@pytest.mark.parametrize(
    ("words", "chunk"),
    [
        ("exist_ok", CODE[0]),
        ("os.makedirs", CODE[0]),
        ("pg_stat_activity", CODE[3]),
        # CamelCase parts: a question in words finds the identifier.
        ("http server", CODE[5]),
    ],
)
async def test_sparse_search_ranks_the_identifier_above_its_parts_apart(
    store: VectorStore, words: str, chunk: str
) -> None:
    hits = await _code_hits(store, words)

    # The stored text is the chunk's own: only the sparse vector reads the identifiers' terms.
    assert hits[0] == chunk


@pytest.mark.parametrize(
    ("words", "chunk"),
    [("makedirs", CODE[0]), ("http", CODE[5]), ("server", CODE[5]), ("HTTPServer", CODE[5])],
)
async def test_sparse_search_finds_an_identifier_by_a_part_or_whole(
    store: VectorStore, words: str, chunk: str
) -> None:
    assert chunk in await _code_hits(store, words)


async def test_both_adapters_rank_identifiers_alike(tmp_path: Path) -> None:
    ranked: dict[str, list[list[str]]] = {}
    for name, factory in ADAPTERS.items():
        store = factory(tmp_path / name)
        try:
            ranked[name] = [
                await _code_hits(store, words, limit=6)
                for words in ["exist_ok", "os.makedirs", "pg_stat_activity", "HTTPServer", "server stats"]
            ]
        finally:
            await store.close()
    assert ranked["edge"] == ranked["server"]


# Ownership and visibility: tenants and groups on each point, the caller's `Access` on each search.


def _owned(
    n: int,
    vector: npt.NDArray[np.float32],
    *,
    tenant: str,
    groups: Collection[str] = (),
    content: str = "penguin notes",
) -> ChunkPoint:
    document_id = uuid5(NAMESPACE, f"owned{n}")
    return ChunkPoint(
        id=point_id(document_id, "v1", 0),
        vector=vector,
        payload=ChunkPayload(
            document_id=document_id,
            version="v1",
            chunk_index=0,
            content=content,
            filename=f"owned{n}.txt",
            upload_timestamp=_day(0),
            tenant_id=tenant,
            groups=sorted(groups),
        ),
    )


async def _ids(
    store: VectorStore, collection: str, access: Access, mode: SearchMode, limit: int, text: str = "penguin"
) -> list[UUID]:
    hits = await store.search(
        collection, QUERIES[0], access=access, limit=limit, where=SearchFilter(), text=text, mode=mode
    )
    return [h.id for h in hits]


def test_a_chunk_belongs_to_the_default_tenant_unless_told() -> None:
    """schemas/ spells the default tenant out (it imports nothing from apps): the two stay alike."""
    assert ChunkPayload.model_fields["tenant_id"].default == DEFAULT_TENANT


async def test_a_search_names_whose_it_is(store: VectorStore) -> None:
    collection = await _loaded(store)

    with pytest.raises(TypeError, match="access"):
        await store.search(collection, QUERIES[0], limit=5, where=SearchFilter())  # type: ignore[call-arg]


@pytest.mark.parametrize("mode", MODES)
async def test_a_search_never_returns_another_tenants_points(store: VectorStore, mode: SearchMode) -> None:
    rng = np.random.default_rng(21)
    points = [_owned(n, _unit(rng), tenant="acme" if n % 2 else "globex") for n in range(12)]
    await store.ensure_collection("owned", DIMENSIONS)
    await store.upsert("owned", points)

    for tenant in ("acme", "globex"):
        found = await _ids(store, "owned", Access(tenant=tenant), mode, limit=len(points))
        assert sorted(found) == sorted(p.id for p in points if p.payload.tenant_id == tenant)
    # Seeing every group is seeing all of one's own tenant, not of others.
    assert (
        await _ids(store, "owned", Access(tenant="initech", every_group=True), mode, limit=len(points)) == []
    )


# Tenant acme's documents: one for the whole tenant (no groups), the others for their groups only.
GROUPED: dict[str, tuple[str, tuple[str, ...]]] = {
    "acme everyone": ("acme", ()),
    "acme eng": ("acme", ("eng",)),
    "acme eng+ops": ("acme", ("eng", "ops")),
    "acme sales": ("acme", ("sales",)),
    "globex everyone": ("globex", ()),
    "globex eng": ("globex", ("eng",)),
}
SEES: dict[str, tuple[Access, set[str]]] = {
    "an outsider": (Access(tenant="acme"), {"acme everyone"}),
    "an engineer": (
        Access(tenant="acme", groups=frozenset({"eng"})),
        {"acme everyone", "acme eng", "acme eng+ops"},
    ),
    "ops and hr": (Access(tenant="acme", groups=frozenset({"ops", "hr"})), {"acme everyone", "acme eng+ops"}),
    "sales": (Access(tenant="acme", groups=frozenset({"sales"})), {"acme everyone", "acme sales"}),
    "the admin": (Access(tenant="acme", every_group=True), {n for n in GROUPED if n.startswith("acme")}),
    "globex's engineer": (
        Access(tenant="globex", groups=frozenset({"eng"})),
        {"globex everyone", "globex eng"},
    ),
}


@pytest.mark.parametrize("caller", list(SEES))
async def test_groups_narrow_what_a_tenant_sees(store: VectorStore, caller: str) -> None:
    """A document without groups is the whole tenant's; one with groups, only their members' (and
    the admin's, who sees all of its tenant's)."""
    rng = np.random.default_rng(22)
    points = {
        name: _owned(n, _unit(rng), tenant=tenant, groups=groups)
        for n, (name, (tenant, groups)) in enumerate(GROUPED.items())
    }
    await store.ensure_collection("owned", DIMENSIONS)
    await store.upsert("owned", list(points.values()))
    access, names = SEES[caller]

    for mode in MODES:
        found = await _ids(store, "owned", access, mode, limit=len(points))
        assert sorted(found) == sorted(points[name].id for name in names), mode


def _near(query: npt.NDArray[np.float32], rng: np.random.Generator) -> npt.NDArray[np.float32]:
    vector = query + 0.05 * rng.standard_normal(DIMENSIONS).astype(np.float32)
    normalised: npt.NDArray[np.float32] = vector / np.linalg.norm(vector)
    return normalised


@pytest.mark.parametrize("mode", MODES)
async def test_a_small_tenant_gets_a_full_top_k_among_a_big_tenants_points(
    store: VectorStore, mode: SearchMode
) -> None:
    """The filter narrows the candidates themselves (each prefetch's, in hybrid): a tenant gets its
    best `limit` points even where another tenant's would take every candidate slot."""
    rng = np.random.default_rng(23)
    # Nearer to the question and saying its words more: unfiltered, these are all the candidates.
    big = [
        _owned(n, _near(QUERIES[0], rng), tenant="big", content="penguin penguin krill") for n in range(80)
    ]
    small = [_owned(100 + n, _unit(rng), tenant="small", content=f"penguin notes {n}") for n in range(6)]
    await store.ensure_collection("owned", DIMENSIONS)
    await store.upsert("owned", big + small)

    found = await _ids(store, "owned", Access(tenant="small"), mode, limit=4, text="penguin krill")

    assert len(found) == 4
    assert set(found) <= {p.id for p in small}
    if mode == "dense":
        assert found == _expected(small, QUERIES[0], SearchFilter(), 4)


TENANTS = ("t0", "t1", "t2")
GROUP_NAMES = ("g0", "g1", "g2")
VOCABULARY = ("penguin", "glacier", "sourdough", "krill", "tide")
_owners = st.tuples(
    st.sampled_from(TENANTS), st.frozensets(st.sampled_from(GROUP_NAMES)), st.sampled_from(VOCABULARY)
)
_callers = st.builds(
    Access,
    tenant=st.sampled_from(TENANTS),
    groups=st.frozensets(st.sampled_from(GROUP_NAMES)),
    every_group=st.booleans(),
)


# One store serves every example, each in a fresh collection dropped after it.
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    owners=st.lists(_owners, min_size=5, max_size=30),
    callers=st.lists(_callers, min_size=1, max_size=3),
    seed=st.integers(0, 2**32 - 1),
    limit=st.integers(1, 12),
    word=st.sampled_from(VOCABULARY),
)
async def test_property_a_search_returns_only_what_the_caller_may_see(
    store: VectorStore,
    owners: list[tuple[str, frozenset[str], str]],
    callers: list[Access],
    seed: int,
    limit: int,
    word: str,
) -> None:
    rng = np.random.default_rng(seed)
    points = [
        _owned(n, _unit(rng), tenant=tenant, groups=groups, content=f"{said} notes")
        for n, (tenant, groups, said) in enumerate(owners)
    ]
    await store.ensure_collection("property", DIMENSIONS)
    try:
        await store.upsert("property", points)
        for access in callers:
            visible = {p.id for p in points if access.sees(p.payload.tenant_id, p.payload.groups)}
            saying = {p.id for p in points if p.payload.content.startswith(word)} & visible
            for mode in MODES:
                found = await _ids(store, "property", access, mode, limit, text=word)
                assert set(found) <= visible, mode
                # A full top-k of what the caller may see: by meaning every visible point is a
                # candidate; by words, every visible point that says the word.
                assert len(found) == min(limit, len(saying if mode == "sparse" else visible)), mode
            assert set(await _ids(store, "property", access, "dense", len(points))) == visible
    finally:
        await store.drop_collection("property")


async def test_edge_adds_the_indexes_an_older_shard_lacks(tmp_path: Path) -> None:
    store = QdrantEdgeStore(tmp_path)
    await _loaded(store)
    await store.close()
    path = str(tmp_path / "collections" / "chunks")
    old = EdgeShard.load(path)
    for field in ("tenant_id", "groups", "publication"):
        old.update(UpdateOperation.delete_field_index(field))
    old.close()

    reopened = QdrantEdgeStore(tmp_path)
    await reopened.ensure_collection("chunks", DIMENSIONS)
    await reopened.close()

    shard = EdgeShard.load(path)
    try:
        schema = shard.info().payload_schema
    finally:
        shard.close()
    tenant = schema["tenant_id"].params
    assert isinstance(tenant, KeywordIndexParams)
    assert tenant.is_tenant
    assert schema["groups"].data_type == PayloadSchemaType.Keyword
    assert set(schema) == {"document_id", "upload_timestamp", "tenant_id", "groups", "publication"}


# Staging: a version's points are written unseen and published together once the version is whole.


def _staged(document_id: UUID, version: str, *, seed: int = 31) -> list[ChunkPoint]:
    """Document `document_id`'s chunks of `version`, written but not yet to be seen."""
    rng = np.random.default_rng(seed)
    return [
        ChunkPoint(
            id=point_id(document_id, version, index),
            vector=_unit(rng),
            payload=ChunkPayload(
                document_id=document_id,
                version=version,
                chunk_index=index,
                content=f"penguin chunk {index} of {version}",
                filename="staged.txt",
                upload_timestamp=_day(0),
                publication="staged",
            ),
        )
        for index in range(3)
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_staged_points_are_found_only_once_their_version_is_published(
    store: VectorStore, mode: SearchMode
) -> None:
    collection = await _loaded(store)
    document_id, other = DOCUMENTS[1], DOCUMENTS[2]
    new, others = _staged(document_id, "v2"), _staged(other, "v2", seed=32)
    await store.upsert(collection, [*new, *others])

    async def found() -> dict[UUID, str]:
        """What a search of the two documents finds: each point and its publication."""
        hits = await store.search(
            collection,
            new[0].vector,
            access=DEFAULT_TENANT_ADMIN,
            limit=20,
            where=SearchFilter(document_ids=[document_id, other]),
            text="penguin",
            mode=mode,
        )
        return {h.id: h.payload.publication for h in hits}

    # The old versions are served while the new ones are written (the old ones' words are not
    # "penguin": a sparse search finds nothing); every point is counted.
    old = {p.id for p in CORPUS if p.payload.document_id in (document_id, other)}
    assert set(await found()) == (old if mode != "sparse" else set())
    assert await store.count(collection) == len(CORPUS) + len(new) + len(others)

    await store.publish_version(collection, document_id, "v2")

    published = await found()
    assert {p.id for p in new} <= set(published)
    # Another document's points of the same version stay staged.
    assert not {p.id for p in others} & set(published)
    assert set(published.values()) == {"published"}


async def test_publishing_a_version_that_has_no_points_changes_nothing(store: VectorStore) -> None:
    collection = await _loaded(store)

    await store.publish_version(collection, DOCUMENTS[0], "v9")

    assert await store.count(collection) == len(CORPUS)
    with pytest.raises(CollectionNotFound):
        await store.publish_version("missing", DOCUMENTS[0], "v1")


async def _legacy_edge(directory: Path, collection: str, points: Sequence[ChunkPoint]) -> VectorStore:
    """An edge store whose points were written before staging: their payload has no `publication`."""
    store = QdrantEdgeStore(directory)
    await store.ensure_collection(collection, DIMENSIONS)
    await store.upsert(collection, points)
    await store.close()
    shard = EdgeShard.load(str(directory / "collections" / collection))
    try:
        shard.update(UpdateOperation.delete_payload([str(p.id) for p in points], ["publication"]))
        unmarked = Filter(must=[IsEmptyCondition("publication")])
        assert shard.count(CountRequest(filter=unmarked, exact=True)) == len(points)
    finally:
        shard.close()
    return QdrantEdgeStore(directory)


async def _legacy_server(directory: Path, collection: str, points: Sequence[ChunkPoint]) -> VectorStore:
    """A server store whose points were written before staging: their payload has no `publication`."""
    client = AsyncQdrantClient(location=":memory:")
    store = QdrantServerStore(client)
    await store.ensure_collection(collection, DIMENSIONS)
    await store.upsert(collection, points)
    await client.delete_payload(collection, keys=["publication"], points=[str(p.id) for p in points])
    unmarked = models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="publication"))])
    assert (await client.count(collection, count_filter=unmarked)).count == len(points)
    return store


@pytest.mark.parametrize("adapter", ["edge", "server"])
@pytest.mark.parametrize("mode", MODES)
async def test_points_written_before_staging_are_found(
    tmp_path: Path, adapter: str, mode: SearchMode
) -> None:
    legacy = {"edge": _legacy_edge, "server": _legacy_server}[adapter]
    corpus = _worded()
    store = await legacy(tmp_path, "worded", corpus)
    try:
        found = await _ids(
            store, "worded", DEFAULT_TENANT_ADMIN, mode, limit=len(corpus), text="penguins water"
        )

        assert found
        assert set(found) <= {p.id for p in corpus}
        if mode != "sparse":
            assert len(found) == len(corpus)
    finally:
        await store.close()


# Fetching chunks by id (a retrieved chunk's neighbours): the same visibility as a search.


async def test_get_chunks_returns_the_payloads_of_the_ids_it_finds(store: VectorStore) -> None:
    collection = await _loaded(store)
    wanted = [CORPUS[1], CORPUS[6], CORPUS[11]]
    unknown = point_id(uuid5(NAMESPACE, "unknown"), "v1", 0)

    found = await store.get_chunks(
        collection, [p.id for p in wanted] + [unknown], access=DEFAULT_TENANT_ADMIN
    )

    assert len(found) == len(wanted)
    assert {(p.document_id, p.chunk_index): p for p in found} == {
        (p.payload.document_id, p.payload.chunk_index): p.payload for p in wanted
    }
    assert await store.get_chunks(collection, [], access=DEFAULT_TENANT_ADMIN) == []


async def test_get_chunks_names_whose_it_is(store: VectorStore) -> None:
    collection = await _loaded(store)

    with pytest.raises(TypeError, match="access"):
        await store.get_chunks(collection, [CORPUS[0].id])  # type: ignore[call-arg]
    with pytest.raises(CollectionNotFound):
        await store.get_chunks("missing", [CORPUS[0].id], access=DEFAULT_TENANT_ADMIN)


@pytest.mark.parametrize("caller", list(SEES))
async def test_get_chunks_returns_only_what_the_caller_may_see(store: VectorStore, caller: str) -> None:
    """Asked for every id, a caller gets only its own tenant's chunks of its groups (or of none)."""
    rng = np.random.default_rng(24)
    points = {
        name: _owned(n, _unit(rng), tenant=tenant, groups=groups)
        for n, (name, (tenant, groups)) in enumerate(GROUPED.items())
    }
    await store.ensure_collection("owned", DIMENSIONS)
    await store.upsert("owned", list(points.values()))
    access, names = SEES[caller]

    found = await store.get_chunks("owned", [p.id for p in points.values()], access=access)

    assert sorted(p.filename for p in found) == sorted(points[name].payload.filename for name in names)


async def test_get_chunks_never_returns_staged_chunks(store: VectorStore) -> None:
    collection = await _loaded(store)
    document_id = DOCUMENTS[1]
    new = _staged(document_id, "v2")
    await store.upsert(collection, new)
    ids = [p.id for p in new]

    assert await store.get_chunks(collection, ids, access=DEFAULT_TENANT_ADMIN) == []

    await store.publish_version(collection, document_id, "v2")

    found = await store.get_chunks(collection, ids, access=DEFAULT_TENANT_ADMIN)
    assert sorted(p.chunk_index for p in found) == [0, 1, 2]
    assert {p.publication for p in found} == {"published"}


@pytest.mark.parametrize("adapter", ["edge", "server"])
async def test_get_chunks_finds_points_written_before_staging(tmp_path: Path, adapter: str) -> None:
    legacy = {"edge": _legacy_edge, "server": _legacy_server}[adapter]
    corpus = _worded()
    store = await legacy(tmp_path, "worded", corpus)
    try:
        found = await store.get_chunks("worded", [p.id for p in corpus], access=DEFAULT_TENANT_ADMIN)
    finally:
        await store.close()
    assert sorted(p.content for p in found) == sorted(WORDS)
