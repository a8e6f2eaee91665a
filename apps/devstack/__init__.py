"""The local infrastructure of `ragstream dev` and the tests: Postgres, Tansu (Kafka), Temporal, moto (S3)."""
