"""ragstream's deployables (query_api, ingest_workflows, stream_processors), their shared code and the CLI."""
