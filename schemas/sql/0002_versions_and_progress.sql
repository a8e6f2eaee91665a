-- Object versions, content hashes, deletion, and per-batch indexing progress.
ALTER TABLE documents ADD COLUMN IF NOT EXISTS bucket TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN IF NOT EXISTS version TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN IF NOT EXISTS sequencer TEXT;
ALTER TABLE documents ADD COLUMN IF NOT EXISTS content_sha256 TEXT;
ALTER TABLE documents ADD COLUMN IF NOT EXISTS chunk_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN IF NOT EXISTS workflow_id TEXT;
ALTER TABLE documents ADD COLUMN IF NOT EXISTS updated_at TIMESTAMPTZ NOT NULL DEFAULT now();

-- One bucket's keys are unique, not every bucket's.
ALTER TABLE documents DROP CONSTRAINT IF EXISTS documents_s3_key_key;
CREATE UNIQUE INDEX IF NOT EXISTS documents_bucket_s3_key_idx ON documents (bucket, s3_key);

ALTER TABLE documents DROP CONSTRAINT IF EXISTS documents_status_check;
ALTER TABLE documents ADD CONSTRAINT documents_status_check
    CHECK (status IN ('pending', 'indexing', 'complete', 'failed', 'deleted'));

CREATE TABLE IF NOT EXISTS ingest_batches (
    document_id   UUID NOT NULL,
    version       TEXT NOT NULL,
    batch_index   INTEGER NOT NULL,
    batch_count   INTEGER NOT NULL,
    chunk_count   INTEGER NOT NULL,
    collection    TEXT NOT NULL,
    written_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, document_id, version, batch_index)
);
