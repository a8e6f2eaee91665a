"""The FastStream stream processors: parse -> embed -> upsert -> report, chained through Kafka topics."""
