"""Export the local model to ONNX from its pinned weights: fp32, then int8 with per-channel dynamic
quantisation. `make` runs it once per environment: `python -m apps.common.onnx_export [DIR]`.

The exported graph takes the tokenizer's three inputs and returns the sentence embedding itself:
the mean of the token states under the attention mask, normalised to unit length, as
sentence-transformers computes it. Per-tensor int8 (quantize_dynamic's default) moves the vectors
much further from fp32's than per-channel does, so per-channel it is.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from apps.common.local_encoders import (
    LOCAL_MODEL,
    ONNX_INPUTS,
    default_onnx_dir,
    model_weights_dir,
    onnx_file,
)

OPSET = 17
MANIFEST = "manifest.json"


def _pooled_model(weights: Path) -> Any:
    import torch
    from transformers import AutoModel

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            states = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    # The eager attention exports to plain ONNX operators; the default (sdpa) does not, offline.
    encoder = AutoModel.from_pretrained(str(weights), attn_implementation="eager").eval()
    return SentenceEmbedding(encoder)


def export(directory: Path) -> dict[str, Any]:
    """Write fp32.onnx and int8.onnx under `directory`/all-MiniLM-L6-v2/ and a manifest of both."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weights = model_weights_dir()
    fp32, int8 = onnx_file(directory, "onnx-fp32"), onnx_file(directory, "onnx-int8")
    fp32.parent.mkdir(parents=True, exist_ok=True)
    example = {
        "input_ids": torch.tensor([[101, 7592, 2088, 102]]),
        "attention_mask": torch.ones(1, 4, dtype=torch.int64),
        "token_type_ids": torch.zeros(1, 4, dtype=torch.int64),
    }
    dynamic = {name: {0: "batch", 1: "tokens"} for name in ONNX_INPUTS}
    with torch.no_grad():
        torch.onnx.export(
            _pooled_model(weights),
            tuple(example[name] for name in ONNX_INPUTS),
            str(fp32),
            input_names=list(ONNX_INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes=dynamic | {"sentence_embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    quantize_dynamic(str(fp32), str(int8), per_channel=True, weight_type=QuantType.QInt8)
    manifest = {
        "model": LOCAL_MODEL,
        "weights": str(weights),
        "opset": OPSET,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "files": {path.name: path.stat().st_size for path in (fp32, int8)},
    }
    (fp32.parent / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else default_onnx_dir()
    started = time.monotonic()
    print(f"exporting {LOCAL_MODEL} to ONNX (fp32, int8 per-channel) under {directory}...", flush=True)
    # Known and harmless here: the legacy exporter's deprecation, a tracer warning on a padding branch
    # an encoder never takes, and the quantiser's advice to pre-process the graph first.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger().setLevel(logging.ERROR)
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        manifest = export(directory)
    sizes = ", ".join(f"{name} {size / 1e6:.0f} MB" for name, size in manifest["files"].items())
    print(f"exported in {time.monotonic() - started:.1f}s: {sizes}", flush=True)


if __name__ == "__main__":
    main()
