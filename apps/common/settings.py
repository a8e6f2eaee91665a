"""Settings of every ragstream process: `RAGSTREAM_*` environment variables, read once at start.

Besides the environment, the settings of a running `ragstream dev` stack are read from
`.ragstream/stack.env` in the current directory, so commands in another terminal find it.
The environment wins over that file.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from apps.common.local_encoders import LocalRuntime, local_model_name
from schemas.api import SearchMode
from schemas.rerank import RerankProtocol

STATE_DIR = Path(".ragstream")
STACK_ENV_FILE = STATE_DIR / "stack.env"

# int8 won the retrieval benchmark's quality check against torch's fp32 (bench/retrieval.py).
DEFAULT_LOCAL_RUNTIME: LocalRuntime = "onnx-int8"
DEFAULT_LOCAL_EMBEDDING_MODEL = local_model_name(DEFAULT_LOCAL_RUNTIME)
DEFAULT_OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
EXTRACTIVE_CHAT_MODEL = "extractive"
DEFAULT_OPENAI_CHAT_MODEL = "gpt-4o-mini"


class Settings(BaseSettings):
    """Everything a ragstream process can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="RAGSTREAM_",
        env_file=STACK_ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    state_dir: Path = STATE_DIR

    database_url: str = "postgresql://postgres@127.0.0.1:5432/ragstream"
    database_pool_size: int = Field(default=30, ge=1)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = ""
    kafka_consumer_group_prefix: str = "ragstream"
    kafka_partitions: int = Field(default=4, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    kafka_idempotent_producer: bool = True
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_session_timeout_ms: int = 10_000
    kafka_heartbeat_interval_ms: int = 3_000

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "ragstream-ingest"
    temporal_tls: bool = False
    temporal_ui_url: str | None = Field(default=None, description="the Temporal UI, linked from the console")
    temporal_tls_cert: SecretStr | None = Field(default=None, description="PEM client certificate (mTLS)")
    temporal_tls_key: SecretStr | None = Field(default=None, description="PEM client key (mTLS)")

    qdrant_url: str = str(STATE_DIR / "qdrant")
    qdrant_api_key: SecretStr | None = None
    vector_store: Literal["auto", "edge", "qdrant"] = "auto"
    qdrant_collection: str = "documents"

    s3_endpoint_url: str | None = None
    s3_bucket: str = "ragstream"
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_events_sqs_queue_url: str | None = None
    s3_events_from_kafka: bool = True
    # The Kafka topic a SeaweedFS filer publishes its changes to (its notification.toml's, named in full,
    # without the topic prefix); empty: not read.
    s3_events_filer_topic: str = ""
    # How often the intake lists the bucket to start what dropped events missed (and once at start);
    # unset or 0: never. The local stack sets it (apps/devstack/stack.py).
    reconcile_interval: timedelta | None = None
    reconcile_starts_per_second: float = Field(default=20.0, gt=0)

    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    embedding_model: str | None = None
    # The local model's runtime, when no embedding model is named and there is no OpenAI key.
    local_embedding_runtime: LocalRuntime = DEFAULT_LOCAL_RUNTIME
    onnx_model_dir: Path | None = Field(
        default=None, description="the exported ONNX models (default: the environment's share/ragstream/onnx)"
    )
    chat_model: str | None = None
    openai_max_retries: int = Field(default=5, ge=0)
    embed_batch_messages: int = Field(default=8, ge=1)
    # How long an idle embed stage waits for a message before it looks again. It takes what has arrived
    # (up to embed_batch_messages) without waiting for more; after a wait that found nothing, FastStream
    # sleeps as long again, deaf: at 200 ms a document's chunks waited p50 158 ms for the stage.
    embed_batch_timeout_ms: int = Field(default=20, ge=0)
    # Parsing is CPU-bound Python: one worker process per core keeps it from being the bottleneck.
    parse_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    # A document's parse time limit: this, and parse_timeout_per_mib more for each MiB of it.
    parse_timeout: timedelta = timedelta(minutes=5)
    parse_timeout_per_mib: timedelta = timedelta(minutes=1)
    # A document whose chunks hold less of its words than this fails instead of being indexed in part.
    min_parse_coverage: float = Field(default=0.9, ge=0, le=1)

    chunk_size: int | None = Field(default=None, ge=16)
    chunk_overlap: int | None = Field(default=None, ge=0)

    # How long a version's workflow waits for indexing: this, and indexing_timeout_per_mib per MiB.
    indexing_timeout: timedelta = timedelta(hours=1)
    indexing_timeout_per_mib: timedelta = timedelta(seconds=30)
    max_object_size: int = Field(default=100 * 1024 * 1024, ge=1)
    stage_max_attempts: int = Field(default=3, ge=1)
    stage_retry_backoff_seconds: float = Field(default=0.5, ge=0)

    log_format: Literal["text", "json"] = "text"
    otlp_traces_endpoint: str | None = Field(
        default=None, description="export traces over OTLP/HTTP here, e.g. http://collector:4318/v1/traces"
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_token: SecretStr | None = None
    api_jwt_key: SecretStr | None = None
    api_jwt_issuer: str | None = None
    api_jwt_audience: str | None = None
    api_jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256", "RS256", "ES256"])
    # Where the gateway's JWT names the caller (claim names), and the scopes of a token that names none.
    jwt_user_claim: str = "sub"
    jwt_tenant_claim: str = "tenant"
    jwt_groups_claim: str = "groups"
    jwt_scope_claim: str = "scope"
    jwt_default_scopes: str = "query documents:read documents:write"
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    sse_keepalive_seconds: float = Field(default=10.0, gt=0)
    query_top_k: int = Field(default=5, ge=1)
    # The default is what won the retrieval benchmark (bench/retrieval.py, BENCHMARKS.md).
    search_mode: SearchMode = "hybrid"
    history_token_budget: int = Field(default=1500, ge=0)
    # Small-to-big context: each retrieved chunk reaches the model with this many chunks of its section on
    # each side (0: alone), the nearest first while the context's chunks fit context_token_budget.
    context_neighbours: int = Field(default=0, ge=0, le=10)
    context_token_budget: int = Field(default=3000, ge=0)
    # Reranking, off unless a URL is set: the search's best rerank_candidates chunks go to a cross-encoder
    # behind the common `/rerank` API, and the answer keeps the top_k it ranks best (README: Reranking).
    rerank_url: str | None = Field(
        default=None,
        description="the reranker's endpoint, e.g. https://api.cohere.com/v2/rerank or http://tei:8080/rerank",
    )
    rerank_protocol: RerankProtocol = "cohere"
    rerank_model: str | None = None
    rerank_api_key: SecretStr | None = None
    rerank_candidates: int = Field(default=30, ge=1, le=1000)
    # Past it, the answer goes on with the fused order (a warning, a counted failure).
    rerank_timeout_seconds: float = Field(default=5.0, gt=0)

    @cached_property
    def resolved_embedding_model(self) -> str:
        """The embedding model in use: the one configured, else OpenAI's with a key, else the local one."""
        if self.embedding_model:
            return self.embedding_model
        if self.openai_api_key:
            return DEFAULT_OPENAI_EMBEDDING_MODEL
        return local_model_name(self.local_embedding_runtime)

    @cached_property
    def resolved_chat_model(self) -> str:
        """The chat model in use: the one configured, else OpenAI's with a key, else extractive answers."""
        if self.chat_model:
            return self.chat_model
        return DEFAULT_OPENAI_CHAT_MODEL if self.openai_api_key else EXTRACTIVE_CHAT_MODEL

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    def topic(self, name: str) -> str:
        """The Kafka topic `name` under this deployment's prefix."""
        return f"{self.kafka_topic_prefix}{name}"

    def consumer_group(self, stage: str) -> str:
        return f"{self.kafka_consumer_group_prefix}.{stage}"
