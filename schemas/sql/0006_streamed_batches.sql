-- The parse stage publishes a document's batches while it parses: only the last batch knows how many
-- there are, and the share of the words they hold.
ALTER TABLE ingest_batches ALTER COLUMN batch_count DROP NOT NULL;
ALTER TABLE ingest_batches ADD COLUMN IF NOT EXISTS coverage REAL;
-- What `GET /v1/documents/{id}` shows of a version being indexed: its batches, found by document.
CREATE INDEX IF NOT EXISTS ingest_batches_document_idx ON ingest_batches (document_id, version);
