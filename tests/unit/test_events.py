"""Unit tests of `schemas.events`: event models survive JSON, with vectors packed as base64 float32."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from uuid import UUID

import numpy as np
import pytest
from pydantic import ValidationError

from schemas.events import Chunk, DocumentChunked, DocumentEmbedded, DocumentReady

DOCUMENT_ID = UUID("8c1f6b6e-2f0a-5d0e-9a51-3f8f4d2b7c11")
UPLOADED_AT = datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)


def vectors() -> np.ndarray:
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((3, 8)).astype("<f4")
    rows[0, 0] = np.float32(1e-38)
    rows[1, 1] = np.float32(-0.0)
    rows[2, 2] = np.float32(3.4e38)
    return rows


def embedded() -> DocumentEmbedded:
    rows = vectors()
    return DocumentEmbedded(
        document_id=DOCUMENT_ID,
        version="v1",
        workflow_id="upload:bucket/doc.txt@v1",
        collection="documents",
        filename="doc.txt",
        uploaded_at=UPLOADED_AT,
        batch_index=0,
        batch_count=1,
        chunks=[
            Chunk(index=0, text="first", token_count=1, page=1, section="Intro"),
            Chunk(index=1, text="second", token_count=1),
            Chunk(index=2, text="third 🐧", token_count=3, page=2),
        ],
        embedding_model="all-MiniLM-L6-v2",
        dimensions=rows.shape[1],
        vectors=rows.tobytes(),
    )


def unpack(event: DocumentEmbedded) -> np.ndarray:
    return np.frombuffer(event.vectors, dtype="<f4").reshape(len(event.chunks), event.dimensions)


def test_embedded_round_trips_through_json_loads() -> None:
    event = embedded()
    again = DocumentEmbedded.model_validate(json.loads(event.model_dump_json()))
    assert again == event
    np.testing.assert_array_equal(unpack(again), vectors())


def test_embedded_round_trips_through_model_validate_json() -> None:
    event = embedded()
    again = DocumentEmbedded.model_validate_json(event.model_dump_json())
    assert again == event
    assert again.vectors == vectors().tobytes()
    # Bit for bit, including -0.0 and extreme values.
    assert unpack(again).view("<u4").tolist() == vectors().view("<u4").tolist()


def test_vectors_are_base64_in_json_and_bytes_in_python() -> None:
    event = embedded()
    data = json.loads(event.model_dump_json())
    assert isinstance(data["vectors"], str)
    assert base64.b64decode(data["vectors"]) == vectors().tobytes()
    assert event.model_dump()["vectors"] == vectors().tobytes()


def test_vectors_are_smaller_than_a_json_float_list() -> None:
    rows = np.random.default_rng(1).standard_normal((16, 384)).astype("<f4")
    event = embedded().model_copy(update={"vectors": rows.tobytes(), "dimensions": 384})
    packed = len(json.loads(event.model_dump_json())["vectors"])
    as_list = len(json.dumps(rows.tolist()))
    assert packed < as_list / 2


def test_invalid_base64_vectors_are_rejected() -> None:
    data = json.loads(embedded().model_dump_json())
    data["vectors"] = "not base64!!"
    with pytest.raises(ValidationError):
        DocumentEmbedded.model_validate(data)


def test_chunked_round_trips() -> None:
    event = DocumentChunked(
        document_id=DOCUMENT_ID,
        version="v1",
        workflow_id="w",
        collection="documents",
        filename="doc.txt",
        uploaded_at=UPLOADED_AT,
        batch_index=1,
        batch_count=2,
        chunks=[Chunk(index=5, text="x", token_count=1)],
    )
    assert DocumentChunked.model_validate_json(event.model_dump_json()) == event
    assert event.operation == "index"


def test_ready_rejects_negative_sizes() -> None:
    with pytest.raises(ValidationError):
        DocumentReady(
            document_id=DOCUMENT_ID,
            version="v1",
            workflow_id="w",
            collection="documents",
            bucket="b",
            key="k.txt",
            filename="k.txt",
            content_type="text/plain",
            size=-1,
            uploaded_at=UPLOADED_AT,
        )


@pytest.mark.parametrize("field", ["index", "token_count"])
def test_chunk_rejects_negative_numbers(field: str) -> None:
    values = {"index": 0, "text": "t", "token_count": 1} | {field: -1}
    with pytest.raises(ValidationError):
        Chunk.model_validate(values)
