"""A local chat model: llama.cpp's OpenAI-compatible server (the `local-llm` extra) on a GGUF file.

`ragstream dev --chat-model-path FILE.gguf` starts it beside the stack and points the chat
provider at it with the two settings any OpenAI-compatible server needs (`environment()`).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from apps.devstack.process import ServerProcess, free_port

INSTALL_HINT = "install it with `make local-llm` (elsewhere: pip install 'ragstream[local-llm]')"
# Room for the prompt's context and history budgets (context_token_budget, history_token_budget)
# and the answer; the KV cache it costs is the model's to size (a 1.5B model: about 0.25 GB).
CONTEXT_TOKENS = 8192


class LocalModelUnavailable(RuntimeError):
    pass


@dataclass
class LlamaServer:
    model_path: Path
    port: int = 0
    context_tokens: int = CONTEXT_TOKENS
    process: ServerProcess | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model_name(self) -> str:
        """The name it serves the model under, and the chat model ragstream asks for."""
        return self.model_path.stem

    def environment(self) -> dict[str, str]:
        """The `RAGSTREAM_*` settings that point the chat provider at this server."""
        return {"RAGSTREAM_OPENAI_BASE_URL": self.base_url, "RAGSTREAM_CHAT_MODEL": self.model_name}

    def check(self) -> None:
        """Fail before anything starts if the model file or the extra is missing."""
        if not self.model_path.is_file():
            raise LocalModelUnavailable(f"no model file at {self.model_path}: give the path of a .gguf file")
        # llama-cpp-python itself, and what its `[server]` extra adds.
        if any(find_spec(module) is None for module in ("llama_cpp", "fastapi", "starlette_context")):
            raise LocalModelUnavailable(
                f"the local chat model needs llama-cpp-python's server: {INSTALL_HINT}"
            )

    def start(self, log_dir: Path, *, timeout: float = 300.0) -> LlamaServer:
        """Start it and wait until it has loaded the model (a large one takes a while to read)."""
        self.check()
        self.port = self.port or free_port()
        argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path.resolve())]
        argv += ["--model_alias", self.model_name, "--n_ctx", str(self.context_tokens)]
        argv += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.process = ServerProcess("llama.cpp (chat model)", argv, log_dir / "llama-server.log").start()
        self.process.wait_until(self._serving, timeout=timeout)
        return self

    def _serving(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=1) as response:
                models = json.load(response)
        except (OSError, ValueError):
            return False
        return any(model.get("id") == self.model_name for model in models.get("data", []))

    def stop(self) -> None:
        if self.process:
            self.process.stop()
