"""A tiny llama-architecture GGUF file that llama.cpp loads, and that always answers `ANSWER`.

No installable model is small and clean enough for a test that only proves the wiring, so the
test writes its own (2.5 MB): every layer's weights are zero, so what reaches the output is
the last token's embedding, and the output matrix is a table of which token follows which.
The tokens of `ANSWER` follow one another; every other token is followed by the first of them.
Its logits are so far apart that any sampling temperature gives the same answer.

The file is written by hand from the GGUF v3 layout (llama.cpp's `docs/gguf.md`): a header,
key-value metadata, tensor descriptions, then the 32-byte aligned float32 tensors.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

# The answer, as the model's own tokens; "Ġ" is the GPT-2 tokenizer's byte-level space.
ANSWER_TOKENS = ("The", "Ġlocal", "Ġmodel", "Ġanswered", "Ġ[1].")
ANSWER = "".join(ANSWER_TOKENS).replace("Ġ", " ")
CHAT_TEMPLATE = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
_SPECIALS = ("<|bos|>", "<|eos|>")
_ALIGNMENT = 32
_MARGIN = 40.0  # between the next token's logit and every other's


def _byte_level_alphabet() -> list[str]:
    """GPT-2's printable stand-in for each of the 256 bytes (`bytes_to_unicode`)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def _string(value: str) -> bytes:
    encoded = value.encode()
    return struct.pack("<Q", len(encoded)) + encoded


# GGUF metadata value types.
_UINT32, _INT32, _FLOAT32, _BOOL, _STRING, _ARRAY = 4, 5, 6, 7, 8, 9


def _value(kind: int, value: object) -> bytes:
    if kind == _UINT32:
        return struct.pack("<I", value)
    if kind == _INT32:
        return struct.pack("<i", value)
    if kind == _FLOAT32:
        return struct.pack("<f", value)
    if kind == _BOOL:
        return struct.pack("<?", value)
    if kind == _STRING:
        assert isinstance(value, str)
        return _string(value)
    raise ValueError(kind)


def _kv(key: str, kind: int, value: object) -> bytes:
    return _string(key) + struct.pack("<I", kind) + _value(kind, value)


def _array(key: str, kind: int, values: list[str] | list[int]) -> bytes:
    body = b"".join(_value(kind, v) for v in values)
    return _string(key) + struct.pack("<IIQ", _ARRAY, kind, len(values)) + body


def write_tiny_gguf(path: Path, *, context_length: int = 4096) -> Path:
    # ASCII first: llama.cpp logs the first tokens, cut at a byte count that may split a character.
    tokens = [*_SPECIALS, *sorted(_byte_level_alphabet()), *ANSWER_TOKENS]
    bos, eos = 0, 1
    vocab = len(tokens)
    embedding = 64 * -(-vocab // 64)  # a one-hot embedding per token
    heads, layers, feed_forward = 4, 1, 64
    index = {token: i for i, token in enumerate(tokens)}
    chain = [index[t] for t in ANSWER_TOKENS]

    token_embd = np.eye(vocab, embedding, dtype=np.float32)
    # After the final RMS norm a one-hot vector is sqrt(embedding) times itself.
    follows = np.zeros((vocab, embedding), dtype=np.float32)  # [next token, previous token]
    follows[chain[0], :vocab] = _MARGIN
    for previous, following in zip(chain, [*chain[1:], eos], strict=True):
        follows[:, previous] = 0.0
        follows[following, previous] = _MARGIN
    follows /= np.sqrt(embedding)
    tensors: dict[str, np.ndarray] = {
        "token_embd.weight": token_embd,
        "output_norm.weight": np.ones(embedding, dtype=np.float32),
        "output.weight": follows,
    }
    for layer in range(layers):
        tensors |= {
            f"blk.{layer}.attn_norm.weight": np.ones(embedding, dtype=np.float32),
            f"blk.{layer}.ffn_norm.weight": np.ones(embedding, dtype=np.float32),
            **{
                f"blk.{layer}.{name}.weight": np.zeros((embedding, embedding), dtype=np.float32)
                for name in ("attn_q", "attn_k", "attn_v", "attn_output")
            },
            f"blk.{layer}.ffn_gate.weight": np.zeros((feed_forward, embedding), dtype=np.float32),
            f"blk.{layer}.ffn_up.weight": np.zeros((feed_forward, embedding), dtype=np.float32),
            f"blk.{layer}.ffn_down.weight": np.zeros((embedding, feed_forward), dtype=np.float32),
        }

    metadata = [
        _kv("general.architecture", _STRING, "llama"),
        _kv("general.name", _STRING, "ragstream-tiny-test"),
        _kv("llama.context_length", _UINT32, context_length),
        _kv("llama.embedding_length", _UINT32, embedding),
        _kv("llama.block_count", _UINT32, layers),
        _kv("llama.feed_forward_length", _UINT32, feed_forward),
        _kv("llama.attention.head_count", _UINT32, heads),
        _kv("llama.attention.head_count_kv", _UINT32, heads),
        _kv("llama.attention.layer_norm_rms_epsilon", _FLOAT32, 1e-5),
        _kv("llama.rope.dimension_count", _UINT32, embedding // heads),
        _kv("llama.vocab_size", _UINT32, vocab),
        _kv("tokenizer.ggml.model", _STRING, "gpt2"),
        _kv("tokenizer.ggml.pre", _STRING, "default"),
        _array("tokenizer.ggml.tokens", _STRING, tokens),
        # 3 = control (the specials), 1 = normal.
        _array("tokenizer.ggml.token_type", _INT32, [3 if t in _SPECIALS else 1 for t in tokens]),
        # No merges: a prompt is read a byte at a time, and never as one of the answer's tokens.
        _array("tokenizer.ggml.merges", _STRING, []),
        _kv("tokenizer.ggml.bos_token_id", _UINT32, bos),
        _kv("tokenizer.ggml.eos_token_id", _UINT32, eos),
        _kv("tokenizer.ggml.add_bos_token", _BOOL, False),
        _kv("tokenizer.chat_template", _STRING, CHAT_TEMPLATE),
    ]
    infos, blobs, offset = [], [], 0
    for name, array in tensors.items():
        dims = array.shape[::-1]  # GGUF lists the fastest-varying dimension first
        infos.append(_string(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, 0, offset))
        data = array.tobytes()
        data += b"\0" * (-len(data) % _ALIGNMENT)
        blobs.append(data)
        offset += len(data)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)) + b"".join(metadata + infos)
    head += b"\0" * (-len(head) % _ALIGNMENT)
    path.write_bytes(head + b"".join(blobs))
    return path
