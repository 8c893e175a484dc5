-- sd-lora-hub registry schema: the single source of truth.
--
-- The registry is created and migrated from this file. Each section below, opened by a
-- `-- migration NNN: name` line, is applied once, in order, inside a transaction, and recorded in
-- `_migrations`. A fresh database runs them all; an older one runs the ones it has not seen.
-- Sections are never edited after they land: change the schema by appending a new section.
-- tests/registry/test_migrations.py proves a fresh and a migrated database end up identical.

-- migration 001: initial
CREATE TABLE adapters (
    id TEXT PRIMARY KEY,                     -- stable short id, never reused
    name TEXT NOT NULL UNIQUE,               -- unique human name; collisions get a -2, -3 suffix
    kind TEXT NOT NULL,                      -- lora | lycoris | embedding | lora+embedding
    format TEXT NOT NULL,                    -- kohya, lycoris-lokr, diffusers-peft, ti-a1111, ...
    arch TEXT NOT NULL,                      -- probed from tensor shapes: sd1 | sd2 | sdxl | flux | unknown
    base_label TEXT,                         -- declared base: "SD 1.5", "Pony", "SDXL 1.0" (metadata, sidecars, user)
    rank INTEGER,
    ranks TEXT NOT NULL DEFAULT '[]',        -- JSON list of distinct ranks
    alpha REAL,
    scale REAL,                              -- alpha / rank when uniform
    modules TEXT NOT NULL DEFAULT '{}',      -- JSON {component: count}
    dtype TEXT,
    size INTEGER NOT NULL,
    sha256 TEXT,                             -- NULL until hashed (hub add --no-hash)
    triggers TEXT NOT NULL DEFAULT '[]',     -- JSON list of trigger words / activation text
    description TEXT,
    license TEXT,                            -- declared licence: modelspec.license, a Hub card's `license`
    preferred_weight REAL,
    source TEXT NOT NULL,                    -- local path, hf://repo@commit/file, trained:..., mixed:...
    path TEXT NOT NULL,                      -- where the bytes are: a store blob or, in place, the user's file
    stored INTEGER NOT NULL DEFAULT 1,       -- 1: bytes are in the content-addressed store
    usable INTEGER NOT NULL DEFAULT 1,       -- 0: recognised format we cannot load yet (see note)
    note TEXT,
    recipe TEXT,                             -- JSON: how to rebuild (mix/resize/train commands)
    created_at TEXT,                         -- when the adapter was made (training end, file mtime)
    imported_at TEXT NOT NULL
);
CREATE INDEX adapters_sha256 ON adapters(sha256);  -- not UNIQUE: --no-hash rows hashed later may collide; hub dupes reports them
CREATE INDEX adapters_arch ON adapters(arch);
CREATE INDEX adapters_kind ON adapters(kind);
CREATE INDEX adapters_format ON adapters(format);
CREATE INDEX adapters_base_label ON adapters(base_label);
CREATE INDEX adapters_name_nocase ON adapters(name COLLATE NOCASE);  -- `hub ls` order, without a sort

-- The bulky JSON of each adapter, kept apart so that listing 10,000 rows never reads it: kohya's
-- ss_tag_frequency and ss_bucket_info alone can be tens of KB per file.
CREATE TABLE adapter_documents (
    adapter_id TEXT PRIMARY KEY REFERENCES adapters(id) ON DELETE CASCADE,
    metadata TEXT NOT NULL DEFAULT '{}',     -- every safetensors __metadata__ key, verbatim (JSON)
    sidecars TEXT NOT NULL DEFAULT '{}',     -- parsed sidecar files by kind (JSON)
    evidence TEXT NOT NULL DEFAULT '[]',     -- why the prober decided arch/format (JSON)
    -- the useful metadata keys, indexed without a migration per key (InvokeAI's pattern)
    ss_output_name TEXT GENERATED ALWAYS AS (json_extract(metadata, '$.ss_output_name')) VIRTUAL,
    ss_base_model_version TEXT GENERATED ALWAYS AS (json_extract(metadata, '$.ss_base_model_version')) VIRTUAL,
    ss_network_module TEXT GENERATED ALWAYS AS (json_extract(metadata, '$.ss_network_module')) VIRTUAL,
    ss_sd_model_name TEXT GENERATED ALWAYS AS (json_extract(metadata, '$.ss_sd_model_name')) VIRTUAL,
    sshs_model_hash TEXT GENERATED ALWAYS AS (json_extract(metadata, '$.sshs_model_hash')) VIRTUAL,
    modelspec_title TEXT GENERATED ALWAYS AS (json_extract(metadata, '$."modelspec.title"')) VIRTUAL,
    modelspec_architecture TEXT GENERATED ALWAYS AS (json_extract(metadata, '$."modelspec.architecture"')) VIRTUAL
);
CREATE INDEX adapter_documents_ss_output_name ON adapter_documents(ss_output_name);
CREATE INDEX adapter_documents_sshs_model_hash ON adapter_documents(sshs_model_hash);

-- Every hash of an adapter's bytes, one row per algorithm (lowercase hex; Civitai prints uppercase).
CREATE TABLE hashes (
    adapter_id TEXT NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
    algo TEXT NOT NULL,                      -- sha256 | autov1 | autov2 | autov3 | blake3 | crc32
    value TEXT NOT NULL,
    PRIMARY KEY (adapter_id, algo)
);
CREATE INDEX hashes_value ON hashes(value, algo);

-- Hashes of files on disk by identity, so nothing is re-read at startup or on a second import.
CREATE TABLE hash_cache (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    autov1 TEXT,
    autov3 TEXT,
    blake3 TEXT NOT NULL,
    crc32 TEXT NOT NULL,
    hashed_at TEXT NOT NULL
);

-- Every path an adapter's bytes were seen at (imports of the same bytes from several places).
CREATE TABLE locations (
    adapter_id TEXT NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (adapter_id, path)
);

CREATE TABLE tags (
    adapter_id TEXT NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (adapter_id, tag)
);
CREATE INDEX tags_tag ON tags(tag);

CREATE TABLE previews (
    adapter_id TEXT NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
    path TEXT NOT NULL,                      -- copy under $LORAHUB_HOME/previews/
    source TEXT,                             -- the sidecar or URL it came from
    PRIMARY KEY (adapter_id, path)
);

-- parent -> child edges. The parent may live outside the registry (a base model, a remote file).
CREATE TABLE lineage (
    id INTEGER PRIMARY KEY,
    parent_id TEXT REFERENCES adapters(id) ON DELETE SET NULL,
    parent_ref TEXT NOT NULL,
    child_id TEXT NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
    operation TEXT NOT NULL,                 -- trained-from, mixed-from, resized-from, converted-from, pulled-from, ...
    params TEXT NOT NULL DEFAULT '{}',       -- JSON: weight, method, rank, ...
    created_at TEXT NOT NULL
);
CREATE INDEX lineage_child ON lineage(child_id);
CREATE INDEX lineage_parent ON lineage(parent_id);

-- Where an adapter lives on the Hugging Face Hub.
CREATE TABLE remotes (
    adapter_id TEXT NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
    repo TEXT NOT NULL,
    revision TEXT NOT NULL,
    commit_sha TEXT,
    path TEXT,
    direction TEXT NOT NULL,                 -- push | pull
    at TEXT NOT NULL,
    PRIMARY KEY (adapter_id, repo, revision, direction)
);
CREATE INDEX remotes_repo ON remotes(repo);

-- migration 002: full-text search
-- One FTS5 document per adapter (rowid = adapters.rowid), rewritten by the registry whenever a row,
-- its tags or its triggers change, inside the same transaction.
CREATE VIRTUAL TABLE adapters_fts USING fts5(
    name, triggers, tags, description, tag_frequency,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- migration 003: home-relative paths
-- A file inside the home is recorded relative to it, so that a home moved or copied elsewhere (a new disk, a
-- restored backup) keeps every entry: a stored file by its hash, `store/sha256/ab/<hex>`; a preview by its name
-- under `previews/`; anything else inside the home relative to it. registry_home() is the home this registry is
-- opened from, with a trailing separator (NULL when unknown: nothing else is rewritten). Paths outside the home
-- stay absolute. Earlier versions recorded absolute paths (or ones relative to the working folder of a
-- relative --home), which a moved home no longer has.
UPDATE adapters SET path = 'store/sha256/' || substr(sha256, 1, 2) || '/' || sha256
    WHERE stored = 1 AND sha256 IS NOT NULL;
UPDATE adapters SET path = replace(substr(path, length(registry_home()) + 1), '\', '/')
    WHERE stored = 0 AND substr(path, 1, length(registry_home())) = registry_home();
UPDATE OR REPLACE locations SET path = replace(substr(path, length(registry_home()) + 1), '\', '/')
    WHERE substr(path, 1, length(registry_home())) = registry_home();
UPDATE OR REPLACE hash_cache SET path = replace(substr(path, length(registry_home()) + 1), '\', '/')
    WHERE substr(path, 1, length(registry_home())) = registry_home();
-- Previews were always copied into <home>/previews: the name is enough, wherever that home was.
UPDATE OR REPLACE previews SET path = 'previews/' || substr(
        replace(path, '\', '/'), length(rtrim(replace(path, '\', '/'), replace(replace(path, '\', '/'), '/', ''))) + 1)
    WHERE rtrim(replace(path, '\', '/'), replace(replace(path, '\', '/'), '/', '')) LIKE '%/previews/'
       OR rtrim(replace(path, '\', '/'), replace(replace(path, '\', '/'), '/', '')) = 'previews/';

-- migration 004: civitai
-- What Civitai said about an adapter's file (`hub civitai`), one row per adapter. A hash Civitai does not know is
-- recorded too (status 'unknown', with its date), so it is not asked again until `--refresh`; a model Civitai has
-- since deleted keeps what was recorded (status 'gone'). The model-version JSON itself, as Civitai Helper's
-- `.civitai.info` holds it, is kept with the other sidecars in adapter_documents.sidecars["civitai"].
CREATE TABLE civitai (
    adapter_id TEXT PRIMARY KEY REFERENCES adapters(id) ON DELETE CASCADE,
    status TEXT NOT NULL,                    -- found | unknown | gone
    checked_at TEXT NOT NULL,                -- when Civitai was last asked
    found_at TEXT,                           -- when the data below was recorded
    lookup TEXT,                             -- the hash asked, "sha256:<hex>" (or autov2:, blake3:)
    model_id INTEGER,
    version_id INTEGER,
    model_name TEXT,
    version_name TEXT,
    creator TEXT,
    model_type TEXT,                         -- LORA, LoCon, TextualInversion, ...
    base_model TEXT,                         -- Civitai's label: "SD 1.5", "SDXL 1.0", "Pony", "Illustrious", ...
    base_arch TEXT,                          -- that label as our arch names: sd1 | sd2 | sdxl | flux | unknown
    nsfw INTEGER NOT NULL DEFAULT 0,         -- the model is marked NSFW
    nsfw_level INTEGER,                      -- the version's level: 1 PG, 2 PG-13, 4 R, 8 X, 16 XXX (bit flags)
    trained_words TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    description TEXT,                        -- HTML, sanitised (nh3) before it is stored
    license TEXT NOT NULL DEFAULT '{}',      -- JSON: allowCommercialUse, allowNoCredit, allowDerivatives, ...
    page_url TEXT,
    download_url TEXT,
    published_at TEXT,
    file_size INTEGER,                       -- bytes of the version's primary file, as Civitai lists it
    versions TEXT NOT NULL DEFAULT '[]'      -- JSON: the model's versions when last asked (for --updates)
);
CREATE INDEX civitai_base_model ON civitai(base_model COLLATE NOCASE);
CREATE INDEX civitai_model_id ON civitai(model_id);
-- A preview downloaded from Civitai carries its NSFW level (the gallery blurs above a setting) and its
-- generation parameters as A1111 infotext.
ALTER TABLE previews ADD COLUMN nsfw_level INTEGER;
ALTER TABLE previews ADD COLUMN infotext TEXT;
