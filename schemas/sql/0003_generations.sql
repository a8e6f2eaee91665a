-- Collection generations: how each Qdrant collection behind the `documents` alias was built,
-- and the progress of rebuilding one by replaying a topic.
CREATE TABLE IF NOT EXISTS generations (
    name             TEXT PRIMARY KEY,
    alias            TEXT NOT NULL,
    number           INTEGER NOT NULL,
    embedding_model  TEXT NOT NULL,
    dimensions       INTEGER NOT NULL,
    chunk_size       INTEGER NOT NULL,
    chunk_overlap    INTEGER NOT NULL,
    source           TEXT NOT NULL CHECK (source IN ('ingestion', 'document.ready', 'document.chunked')),
    status           TEXT NOT NULL
                     CHECK (status IN ('requested', 'building', 'live', 'retired', 'failed', 'dropped')),
    documents_total  INTEGER NOT NULL DEFAULT 0,
    documents_done   INTEGER NOT NULL DEFAULT 0,
    chunks_done      INTEGER NOT NULL DEFAULT 0,
    error_message    TEXT,
    heartbeat_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    live_at          TIMESTAMPTZ,
    UNIQUE (alias, number)
);
-- At most one live generation per alias.
CREATE UNIQUE INDEX IF NOT EXISTS generations_one_live_idx ON generations (alias) WHERE status = 'live';

-- The version whose chunks are in the index: the current version, or, when a new version had
-- unchanged content (same sha256), the version indexed before it. A replay indexes this one.
ALTER TABLE documents ADD COLUMN IF NOT EXISTS indexed_version TEXT;

-- The alias a document is indexed under: deployments (and tests) sharing a database stay apart.
ALTER TABLE documents ADD COLUMN IF NOT EXISTS collection TEXT NOT NULL DEFAULT 'documents';
