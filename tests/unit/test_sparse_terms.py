"""The text the BM25 index reads: identifiers add their whole name and their camelCase parts, which
Qdrant's tokeniser then keeps as terms of their own; prose is left as it is."""

from __future__ import annotations

import pytest
from qdrant_edge import Bm25

from apps.common.sparse_terms import MAX_IDENTIFIER, sparse_text

BM25 = Bm25()


def _terms(text: str) -> set[int]:
    """The BM25 terms of a question, as the tokeniser makes them (lowercased, stemmed, no stop words)."""
    return set(BM25.embed_query(text).indices)


def test_bm25_alone_splits_snake_and_dotted_names_and_joins_camel_case() -> None:
    """What sparse_text makes up for: the tokeniser splits at every non-alphanumeric character
    and lowercases, so `exist_ok` is only `exist` + `ok` and `CamelCase` only `camelcase`."""
    assert _terms("exist_ok") == _terms("exist ok")
    assert _terms("os.makedirs") == _terms("os makedirs")
    assert _terms("CamelCase") == _terms("camelcase")


@pytest.mark.parametrize(
    ("identifier", "whole", "parts"),
    [
        ("exist_ok", "existok", "exist ok"),
        ("os.makedirs", "osmakedirs", "os makedirs"),
        ("pg_stat_activity", "pgstatactivity", "pg stat activity"),
        ("CamelCase", "camelcase", "camel case"),
        ("HTTP2ServerRequest", "http2serverrequest", "http2 server request"),
    ],
)
def test_bm25_sees_the_whole_identifier_and_each_part(identifier: str, whole: str, parts: str) -> None:
    assert _terms(sparse_text(identifier)) == _terms(whole) | _terms(parts)
    # The whole name is one term of its own, which no stemming folds into a part.
    assert len(_terms(whole)) == 1
    assert not _terms(whole) & _terms(parts)


@pytest.mark.parametrize(
    ("text", "added"),
    [
        ("exist_ok", "existok"),
        ("os.makedirs(name)", "osmakedirs"),
        ("fs.mkdir()", "fsmkdir"),
        ("Buffer.from(data)", "Bufferfrom"),
        ("pg_stat_activity", "pgstatactivity"),
        ("max_wal_size", "maxwalsize"),
        ("std::vec::Vec", "stdvecVec"),
        ("__init__.py", "initpy"),
        ("CamelCase", "Camel Case"),
        ("camelCase", "camel Case"),
        ("HTTP2ServerRequest", "HTTP2 Server Request"),
        ("XMLHttpRequest", "XML Http Request"),
        ("getIDs", "get IDs"),
        ("http.createServer", "httpcreateServer create Server"),
        # Without a case change a piece stays whole.
        ("run_md5sum", "runmd5sum"),
    ],
)
def test_an_identifier_adds_its_whole_name_and_camel_case_parts(text: str, added: str) -> None:
    assert sparse_text(text) == f"{text}\n{added}"


def test_every_occurrence_adds_its_terms() -> None:
    text = "Pass exist_ok to os.makedirs; exist_ok=False is the default."

    assert sparse_text(text) == f"{text}\nexistok osmakedirs existok"


@pytest.mark.parametrize(
    "text",
    [
        "Glaciers form where snow outlasts the summer melt. Penguins dive.",
        "NASA's PDFs, URLs and IDs",
        "Python 3.11 and v1.2.3; pi is 3.14",
        "a well-known e-mail address",
        "naïve café, Привет мир",
        "_private and __dunder__ names",
        "",
    ],
)
def test_prose_is_left_as_it_is(text: str) -> None:
    assert sparse_text(text) == text


def test_tokens_longer_than_a_name_are_left_alone() -> None:
    name = "a_" * (MAX_IDENTIFIER // 2 - 1) + "ab"
    assert len(name) == MAX_IDENTIFIER
    jwt = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
        ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )

    assert sparse_text(name) != name
    assert sparse_text(name + "c") == name + "c"
    assert sparse_text(jwt) == jwt
