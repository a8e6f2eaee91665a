"""The local infrastructure of `ragstream dev` (kept under .ragstream/, S3 on SeaweedFS) and of the tests
(fresh, S3 on moto): Postgres, Tansu (Kafka), Temporal."""
