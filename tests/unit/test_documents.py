"""Unit tests of `apps.common.documents`' pure helpers: stable document ids and S3 sequencer order."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

import pytest

from apps.common.documents import document_id_for, order_is_older


def test_document_id_is_stable() -> None:
    first = document_id_for("bucket", "docs/penguins.txt")
    assert first == document_id_for("bucket", "docs/penguins.txt")
    assert isinstance(first, UUID)
    assert first.version == 5
    # A known value: the id must never change between releases, or documents lose their history.
    assert first == UUID("1ed049f8-957f-5ef0-8702-80701871cea2")


def test_document_id_is_uuid5_of_the_s3_url() -> None:
    assert document_id_for("b", "k/x.pdf") == uuid5(NAMESPACE_URL, "s3://b/k/x.pdf")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("bucket", "a.txt"), ("bucket", "b.txt")),
        (("bucket", "a.txt"), ("other", "a.txt")),
        (("bucket", "a.txt"), ("bucket", "A.txt")),
        (("bucket", "dir/a.txt"), ("bucket", "dir%2Fa.txt")),
        (("bucket", "a b.txt"), ("bucket", "a+b.txt")),
    ],
)
def test_document_id_differs_per_object(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert document_id_for(*a) != document_id_for(*b)


@pytest.mark.parametrize(
    ("candidate", "current", "older"),
    [
        ("0055AED6DCD90281E5", "0055AED6DCD90281E6", True),
        ("0055AED6DCD90281E6", "0055AED6DCD90281E5", False),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E5", False),
        # S3 compares sequencers of different lengths after right-padding the shorter with zeros.
        ("0055AED6DCD90281E5", "0055AED6DCD90281E500", False),
        ("0055AED6DCD90281E500", "0055AED6DCD90281E5", False),
        ("0055AED6DCD90281E5", "0055AED6DCD90281E501", True),
        ("0055AED6DCD90281E501", "0055AED6DCD90281E5", False),
        ("0055AED6DCD90281E6", "0055AED6DCD90281E5FF", False),
        ("0055AED6DCD90281E5FF", "0055AED6DCD90281E6", True),
        ("A", "9F", False),
        ("9F", "A", True),
        # Hex case does not matter.
        ("0055aed6dcd90281e5", "0055AED6DCD90281E6", True),
        ("0055AED6DCD90281E6", "0055aed6dcd90281e5", False),
        # Orders name their kind; a bare one (a row written before the kinds) is a sequencer.
        ("s:0055AED6DCD90281E5", "0055AED6DCD90281E6", True),
        ("s:0055AED6DCD90281E6", "s:0055AED6DCD90281E5", False),
        ("t:00062A1B2C3D4E5F", "t:00062A1B2C3D4E60", True),
        ("t:00062A1B2C3D4E60", "t:00062A1B2C3D4E5F", False),
        # A time and a sequencer never compare.
        ("t:00062A1B2C3D4E5F", "s:0055AED6DCD90281E5", False),
        ("s:0055AED6DCD90281E5", "t:00062A1B2C3D4E5F", False),
    ],
)
def test_change_order(candidate: str, current: str, older: bool) -> None:
    assert order_is_older(candidate, current) is older


@pytest.mark.parametrize(
    ("candidate", "current"),
    [
        (None, "0055AED6DCD90281E5"),
        ("0055AED6DCD90281E5", None),
        (None, None),
        ("", "01"),
        ("01", ""),
        ("t:", "t:01"),
    ],
)
def test_unknown_orders_are_never_older(candidate: str | None, current: str | None) -> None:
    assert order_is_older(candidate, current) is False
