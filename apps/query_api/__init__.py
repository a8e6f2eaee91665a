"""The query API: a Starlette app that answers questions over the index as Server-Sent Events."""
