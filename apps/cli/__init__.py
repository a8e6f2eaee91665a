"""The `ragstream` command: run the system (`dev`, or one deployable) and use it (`ingest`, `ask`...)."""
