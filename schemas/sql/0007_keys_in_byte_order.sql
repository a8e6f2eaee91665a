-- The reconciler reads a bucket's documents a key range at a time, in S3's byte order.
CREATE INDEX IF NOT EXISTS documents_bucket_s3_key_bytes_idx ON documents (bucket, (s3_key COLLATE "C"));
