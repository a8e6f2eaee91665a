"""Small-to-big context (`apps.query_api.context`): which neighbours a retrieved chunk takes, how
neighbourhoods that meet are shared out without repeating text, and the token budget."""

from __future__ import annotations

from uuid import UUID, uuid5

from apps.common.tokenizer import count_tokens
from apps.query_api.context import Anchor, expand, join_chunks, neighbour_ids
from schemas.points import ChunkPayload, point_id

NAMESPACE = UUID("3f7e1c52-1d8e-4b8e-9a43-61c0b7f2d9aa")
DOC = uuid5(NAMESPACE, "manual")
OTHER = uuid5(NAMESPACE, "other")


def text(index: int, document: UUID = DOC) -> str:
    """A chunk's text, distinct per chunk and long enough that no two share an edge by chance."""
    return (
        f"Chunk number {index} of {'the manual' if document == DOC else 'another file'} says its own thing."
    )


def payload(
    index: int, *, section: str | None = "Setup", document: UUID = DOC, version: str = "v1"
) -> ChunkPayload:
    return ChunkPayload(
        document_id=document,
        version=version,
        chunk_index=index,
        content=text(index, document),
        filename="manual.html",
        upload_timestamp="2026-01-01T00:00:00Z",
        section=section,
    )


def anchor(index: int, *, section: str | None = "Setup", document: UUID = DOC) -> Anchor:
    return Anchor(document, "v1", index, section, text(index, document))


DOCUMENT = [payload(i) for i in range(8)]
LOTS = 10_000


def test_no_neighbours_leaves_the_context_plain() -> None:
    anchors = [anchor(3), anchor(5)]

    assert neighbour_ids(anchors, 0) == []
    assert expand(anchors, DOCUMENT, radius=0, budget_tokens=LOTS) == [text(3), text(5)]


def test_neighbour_ids_are_the_points_around_each_chunk_once() -> None:
    ids = neighbour_ids([anchor(0), anchor(3), anchor(2, document=OTHER)], 2)

    expected = [point_id(DOC, "v1", i) for i in (1, 2, 4, 5)] + [
        point_id(OTHER, "v1", i) for i in (0, 1, 3, 4)
    ]
    assert sorted(ids) == sorted(expected)
    assert len(ids) == len(set(ids))
    # The retrieved chunks themselves are not asked for again.
    assert point_id(DOC, "v1", 3) not in ids


def test_a_chunk_takes_its_neighbours_in_index_order() -> None:
    [context] = expand([anchor(3)], DOCUMENT, radius=1, budget_tokens=LOTS)

    assert context == join_chunks([text(2), text(3), text(4)])
    assert context.index(text(2)) < context.index(text(3)) < context.index(text(4))


def test_only_neighbours_of_the_same_section_document_and_version() -> None:
    found = [
        payload(2, section="Install"),
        payload(4, version="v0"),
        payload(4, document=OTHER),
        payload(1, section="Setup"),  # beyond a neighbour of another section: not next to chunk 3
    ]

    assert expand([anchor(3)], found, radius=2, budget_tokens=LOTS) == [text(3)]


def test_a_missing_neighbour_ends_the_neighbourhood_on_its_side() -> None:
    """A chunk the caller may not see (or staged) is not fetched: what lies beyond it is not adjacent."""
    found = [p for p in DOCUMENT if p.chunk_index != 4]

    [context] = expand([anchor(3)], found, radius=2, budget_tokens=LOTS)

    assert context == join_chunks([text(1), text(2), text(3)])


def test_neighbourhoods_that_meet_share_their_chunks_out_without_repeating_them() -> None:
    contexts = expand([anchor(2), anchor(3), anchor(6)], DOCUMENT, radius=2, budget_tokens=LOTS)

    # 2 and 3 are both retrieved: each keeps itself and its own side. Chunk 4 is 1 from 3 and 2 from 6;
    # chunk 5 is 1 from 6.
    assert contexts == [
        join_chunks([text(0), text(1), text(2)]),
        join_chunks([text(3), text(4)]),
        join_chunks([text(5), text(6), text(7)]),
    ]
    everything = "".join(contexts)
    for i in range(8):
        assert everything.count(text(i)) == 1


def test_a_neighbour_between_two_retrieved_chunks_goes_to_the_better_ranked() -> None:
    assert expand([anchor(5), anchor(3)], DOCUMENT, radius=1, budget_tokens=LOTS) == [
        join_chunks([text(4), text(5), text(6)]),
        join_chunks([text(2), text(3)]),
    ]


def test_over_the_budget_the_farthest_neighbours_go_first() -> None:
    cost = count_tokens(text(3))  # every chunk's text costs about the same
    anchors = [anchor(2), anchor(5)]

    # Room for the two retrieved chunks and three neighbours: both sides of the first, one of the
    # second (preceding first), none at distance 2.
    contexts = expand(anchors, DOCUMENT, radius=2, budget_tokens=5 * cost + 2)

    assert contexts == [join_chunks([text(1), text(2), text(3)]), join_chunks([text(4), text(5)])]
    assert sum(count_tokens(text(i)) for i in (1, 2, 3, 4, 5)) <= 5 * cost + 2


def test_the_retrieved_chunks_stay_whatever_the_budget() -> None:
    anchors = [anchor(2), anchor(5)]

    assert expand(anchors, DOCUMENT, radius=2, budget_tokens=1) == [text(2), text(5)]


def test_joining_drops_the_overlap_a_chunk_repeats_from_the_one_before() -> None:
    first = "PostgreSQL keeps its data in a cluster. Each database in the cluster"
    second = "Each database in the cluster has its own catalogs and schemas."

    assert join_chunks([first, second]) == (
        "PostgreSQL keeps its data in a cluster. Each database in the cluster "
        "has its own catalogs and schemas."
    )


def test_joining_chunks_that_do_not_overlap_keeps_both_whole() -> None:
    # A few characters shared by chance ("ion") are not an overlap.
    first, second = "The first part is about replication", "ion is not what this part is about."

    assert join_chunks([first, second]) == f"{first}\n\n{second}"
    assert join_chunks([first]) == first
