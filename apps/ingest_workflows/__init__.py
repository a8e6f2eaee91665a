"""The Temporal side of ingestion: `UploadWorkflow`, its activities, the worker, and the S3-event intake."""
