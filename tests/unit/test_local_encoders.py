"""The local model's runtimes against each other, with the real weights and the exported ONNX files:
ONNX Runtime's vectors stay within a cosine bound of PyTorch's, every runtime truncates at the
model's limit, a text's ONNX vector does not depend on its batch, and the ONNX path needs no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from apps.common.embeddings import Embedders, LocalEmbedder
from apps.common.local_encoders import (
    LOCAL_RUNTIMES,
    LocalRuntime,
    OnnxEncoder,
    local_encoder,
    local_model_name,
)
from apps.common.settings import Settings

TEXTS = [
    "The male emperor penguin incubates the egg on his feet for two months.",
    "VACUUM reclaims storage occupied by dead tuples.",
    "os.DirEntry.is_dir(*, follow_symlinks=True): return True if this entry is a directory.",
    "Sourdough starter is fed with equal weights of flour and water.",
    "max_connections (integer) determines the maximum number of concurrent connections to the server.",
    " ".join(
        f"Paragraph {i} of the storage manual explains page layout and free space maps." for i in range(12)
    ),
    "Ocean tides are caused mainly by the gravitational pull of the Moon.",
    "fs.readFile(path[, options], callback) asynchronously reads the entire contents of a file.",
]
# How far each ONNX runtime's vectors may be from PyTorch's (cosine): fp32 is the same arithmetic;
# int8 per-channel moves them a little.
MIN_COSINE: dict[LocalRuntime, float] = {"onnx-fp32": 0.9999, "onnx-int8": 0.97}
MEAN_COSINE: dict[LocalRuntime, float] = {"onnx-fp32": 0.9999, "onnx-int8": 0.99}


def encoded(runtime: LocalRuntime, texts: list[str]) -> npt.NDArray[np.float32]:
    encoder = local_encoder(runtime)
    return np.concatenate([encoder.encode([text]) for text in texts])


@pytest.fixture(scope="module")
def torch_vectors() -> npt.NDArray[np.float32]:
    return encoded("torch", TEXTS)


@pytest.mark.parametrize("runtime", ["onnx-fp32", "onnx-int8"])
def test_onnx_vectors_are_within_the_cosine_bound_of_torchs(
    runtime: LocalRuntime, torch_vectors: npt.NDArray[np.float32]
) -> None:
    vectors = encoded(runtime, TEXTS)
    assert vectors.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.min() >= MIN_COSINE[runtime], cosines
    assert cosines.mean() >= MEAN_COSINE[runtime], cosines


@pytest.mark.parametrize("runtime", LOCAL_RUNTIMES)
def test_every_runtime_reads_up_to_the_models_limit_and_no_further(runtime: LocalRuntime) -> None:
    long = " ".join(f"word{i}" for i in range(400))  # ~1,200 word pieces
    short = " ".join(f"word{i}" for i in range(20))
    encoder = local_encoder(runtime)
    [cut, longer] = [encoder.encode([text])[0] for text in (long, long + " and a tail it never reads")]
    np.testing.assert_allclose(cut, longer, atol=1e-6)
    assert float(encoder.encode([short])[0] @ cut) < 0.99  # what it does read counts


async def test_an_onnx_vector_is_the_same_whatever_it_is_batched_with() -> None:
    embedder = Embedders(Settings(_env_file=None)).get(local_model_name("onnx-int8"))
    assert isinstance(embedder, LocalEmbedder)
    together = await embedder.embed(TEXTS)
    alone = [await embedder.embed([text]) for text in TEXTS]
    question = await embedder.embed_question(TEXTS[0])
    np.testing.assert_array_equal(together, np.concatenate(alone))
    np.testing.assert_array_equal(question, together[0])


def test_settings_name_the_runtime_and_embedders_run_it() -> None:
    assert Settings(_env_file=None).resolved_embedding_model == "all-MiniLM-L6-v2@onnx-int8"
    assert Settings(_env_file=None, local_embedding_runtime="torch").resolved_embedding_model == (
        "all-MiniLM-L6-v2"
    )
    embedders = Embedders(Settings(_env_file=None))
    for runtime in LOCAL_RUNTIMES:
        embedder = embedders.get(local_model_name(runtime))
        assert isinstance(embedder, LocalEmbedder)
        assert embedder.encoder.runtime == runtime
    with pytest.raises(ValueError, match="unknown embedding model"):
        embedders.get("all-MiniLM-L6-v2@onnx-fp16")


def test_a_missing_onnx_file_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="`make` exports it"):
        OnnxEncoder("onnx-int8", tmp_path).load()


def test_the_onnx_embedder_runs_without_importing_torch() -> None:
    script = (
        "import asyncio, sys\n"
        "from apps.common.embeddings import Embedders\n"
        "from apps.common.settings import Settings\n"
        "embedder = Embedders(Settings(_env_file=None)).default\n"
        "vectors = asyncio.run(embedder.embed(['a penguin', 'an egg']))\n"
        "assert vectors.shape == (2, 384), vectors.shape\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
