"""The SQLite registry: schema and migrations, rows, the content-addressed store, hashes, sidecars."""
