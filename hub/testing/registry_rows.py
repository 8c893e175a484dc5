"""Many registry rows without files, for speed tests of what reads rows (gallery pages, listings)."""

from __future__ import annotations


def fill_registry(home, rows: int) -> None:
    """``rows`` realistic registry rows (no files: a gallery reads rows, not tensors), written in bulk with the
    registry's own tables and search index; names, arches, kinds, sources, tags and triggers vary so that every
    filter has something to do."""
    import json

    from hub.paths import Paths
    from hub.registry.db import Registry, _searchable_name, now

    sources = ("/data/loras/{i}.safetensors", "hf://user/repo{i}@abc/x.safetensors", "mixed:svd", "trained:tiny")
    adapters, documents, tags, fts = [], [], [], []
    for i in range(rows):
        rid, name = f"{i:010x}", f"{('anime', 'pixel', 'photo', 'ink')[i % 4]}-style-{i:05d}"
        arch, kind = ("sd1", "sdxl", "flux")[i % 3], "lora" if i % 10 else "embedding"
        adapters.append(
            (
                rid,
                name,
                kind,
                "kohya",
                arch,
                (4, 8, 16, 32)[i % 4],
                1_000_000 + i,
                f"{i:064x}",
                json.dumps([f"trigger{i}"]),
                sources[i % 4].format(i=i),
                f"/store/{i:064x}",
                now(),
            )
        )
        documents.append((rid, json.dumps({"ss_output_name": f"adapter-{i}"})))
        tags += [(rid, "style"), (rid, f"t{i % 20}")]
        fts.append((i + 1, _searchable_name(name), f"trigger{i}", f"style t{i % 20}", "", ""))
    with Registry.open(Paths(home).registry_db) as reg, reg.transaction():
        reg.conn.executemany(
            "INSERT INTO adapters (id, name, kind, format, arch, rank, size, sha256, triggers, source, path, "
            "imported_at, rowid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row, n + 1) for n, row in enumerate(adapters)],
        )
        reg.conn.executemany("INSERT INTO adapter_documents (adapter_id, metadata) VALUES (?, ?)", documents)
        reg.conn.executemany("INSERT INTO tags VALUES (?, ?)", tags)
        reg.conn.executemany(
            "INSERT INTO adapters_fts (rowid, name, triggers, tags, description, tag_frequency) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            fts,
        )
