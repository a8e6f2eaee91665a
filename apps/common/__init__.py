"""Code the deployables share: settings, Postgres, Qdrant, S3, Kafka, embeddings, LLM, tokenizer."""
