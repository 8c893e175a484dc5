BEGIN;
CREATE TABLE _migrations (number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
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
CREATE TABLE hashes (
    adapter_id TEXT NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
    algo TEXT NOT NULL,                      -- sha256 | autov1 | autov2 | autov3 | blake3 | crc32
    value TEXT NOT NULL,
    PRIMARY KEY (adapter_id, algo)
);
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
CREATE TABLE previews (
    adapter_id TEXT NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
    path TEXT NOT NULL,                      -- copy under $LORAHUB_HOME/previews/
    source TEXT,                             -- the sidecar or URL it came from
    PRIMARY KEY (adapter_id, path)
);
CREATE TABLE lineage (
    id INTEGER PRIMARY KEY,
    parent_id TEXT REFERENCES adapters(id) ON DELETE SET NULL,
    parent_ref TEXT NOT NULL,
    child_id TEXT NOT NULL REFERENCES adapters(id) ON DELETE CASCADE,
    operation TEXT NOT NULL,                 -- trained-from, mixed-from, resized-from, converted-from, pulled-from, ...
    params TEXT NOT NULL DEFAULT '{}',       -- JSON: weight, method, rank, ...
    created_at TEXT NOT NULL
);
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
CREATE VIRTUAL TABLE adapters_fts USING fts5(
    name, triggers, tags, description, tag_frequency,
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE INDEX adapters_sha256 ON adapters(sha256);
CREATE INDEX adapters_arch ON adapters(arch);
CREATE INDEX adapters_kind ON adapters(kind);
CREATE INDEX adapters_format ON adapters(format);
CREATE INDEX adapters_base_label ON adapters(base_label);
CREATE INDEX adapters_name_nocase ON adapters(name COLLATE NOCASE);
CREATE INDEX adapter_documents_ss_output_name ON adapter_documents(ss_output_name);
CREATE INDEX adapter_documents_sshs_model_hash ON adapter_documents(sshs_model_hash);
CREATE INDEX hashes_value ON hashes(value, algo);
CREATE INDEX tags_tag ON tags(tag);
CREATE INDEX lineage_child ON lineage(child_id);
CREATE INDEX lineage_parent ON lineage(parent_id);
CREATE INDEX remotes_repo ON remotes(repo);
INSERT INTO _migrations (rowid, number, name, applied_at) VALUES (1, 1, 'initial', '2026-12-07T05:33:07+00:00');
INSERT INTO _migrations (rowid, number, name, applied_at) VALUES (2, 2, 'full-text search', '2026-12-07T05:33:07+00:00');
INSERT INTO adapters (rowid, id, name, kind, format, arch, base_label, rank, ranks, alpha, scale, modules, dtype, size, sha256, triggers, description, license, preferred_weight, source, path, stored, usable, note, recipe, created_at, imported_at) VALUES (1, '835ca139d7', 'style', 'lora', 'kohya', 'sd1', 'SD 1.x', 2, '[2]', 1.0, 0.5, '{"unet": 2}', 'float16', 2556, '79ab893a1305829adca6acbb147fc01606070b2fa67fee2fbea352344e5b1f85', '["redstyle"]', NULL, NULL, NULL, '/tmp/lorahub-previous-version/loras/style.safetensors', '/tmp/lorahub-previous-version/home/store/sha256/79/79ab893a1305829adca6acbb147fc01606070b2fa67fee2fbea352344e5b1f85', 1, 1, NULL, NULL, '2023-11-14T22:13:21+00:00', '2026-12-07T05:33:07+00:00');
INSERT INTO adapters (rowid, id, name, kind, format, arch, base_label, rank, ranks, alpha, scale, modules, dtype, size, sha256, triggers, description, license, preferred_weight, source, path, stored, usable, note, recipe, created_at, imported_at) VALUES (2, 'fe414269f4', 'outside', 'lora', 'kohya', 'sd1', 'SD 1.x', 2, '[2]', 1.0, 0.5, '{"unet": 2}', 'float16', 2572, '1d806d820879b1b64611e860d8309b2fca300e65b016b1e553ceba417965104d', '[]', NULL, NULL, NULL, '/tmp/lorahub-previous-version/loras/outside.safetensors', '/tmp/lorahub-previous-version/loras/outside.safetensors', 0, 1, NULL, NULL, '2023-11-14T22:13:22+00:00', '2026-12-07T05:33:08+00:00');
INSERT INTO adapters (rowid, id, name, kind, format, arch, base_label, rank, ranks, alpha, scale, modules, dtype, size, sha256, triggers, description, license, preferred_weight, source, path, stored, usable, note, recipe, created_at, imported_at) VALUES (3, 'c2daab8111', 'inside', 'lora', 'kohya', 'sd1', 'SD 1.x', 2, '[2]', 1.0, 0.5, '{"unet": 2}', 'float16', 2564, '7c69d2badf95e4a9313202be17bdbd1645bc3d7eddd02c0169687b6224beaf07', '[]', NULL, NULL, NULL, '/tmp/lorahub-previous-version/home/mine/inside.safetensors', '/tmp/lorahub-previous-version/home/mine/inside.safetensors', 0, 1, NULL, NULL, '2023-11-14T22:13:23+00:00', '2026-12-07T05:33:09+00:00');
INSERT INTO adapters (rowid, id, name, kind, format, arch, base_label, rank, ranks, alpha, scale, modules, dtype, size, sha256, triggers, description, license, preferred_weight, source, path, stored, usable, note, recipe, created_at, imported_at) VALUES (4, '83faf75ae4', 'half', 'lora', 'kohya', 'sd1', 'SD 1.x', 2, '[2]', 0.5, 0.25, '{"unet": 2}', 'float32', 2528, '1a695b34f6f7a6602d315007c376c022d1664d7029f00d42867870f8cc1287d1', '[]', NULL, NULL, NULL, 'scaled:style', '/tmp/lorahub-previous-version/home/store/sha256/1a/1a695b34f6f7a6602d315007c376c022d1664d7029f00d42867870f8cc1287d1', 1, 1, NULL, '{"operation": "scale", "inputs": [{"ref": "79ab893a1305", "weight": 0.5, "role": null}], "params": {"base": null, "format": null, "dtype": null, "name": "half"}, "command": "hub scale 79ab893a1305 --name half -- 0.5", "argv": ["hub", "scale", "79ab893a1305", "--name", "half", "--", "0.5"]}', '2026-12-07T05:33:12', '2026-12-07T05:33:12+00:00');
INSERT INTO adapter_documents (rowid, adapter_id, metadata, sidecars, evidence) VALUES (1, '835ca139d7', '{"modelspec.architecture": "stable-diffusion-v1/lora", "modelspec.date": "2024-05-01T12:00:00", "modelspec.implementation": "diffusers", "modelspec.resolution": "64x64", "modelspec.sai_model_spec": "1.0.0", "modelspec.title": "style", "ss_base_model_version": "sd_v1", "ss_batch_size_per_device": "2", "ss_clip_skip": "2", "ss_dataset_dirs": "{\"10_style\": {\"n_repeats\": 10, \"img_count\": 40}}", "ss_epoch": "10", "ss_learning_rate": "0.0001", "ss_lr_scheduler": "cosine", "ss_max_train_steps": "400", "ss_mixed_precision": "fp16", "ss_network_alpha": "1", "ss_network_dim": "2", "ss_network_module": "networks.lora", "ss_num_epochs": "10", "ss_num_train_images": "40", "ss_optimizer": "bitsandbytes.optim.adamw.AdamW8bit", "ss_output_name": "style", "ss_resolution": "(64, 64)", "ss_sd_model_name": "v1-5-pruned-emaonly.safetensors", "ss_seed": "1", "ss_session_id": "1000001", "ss_tag_frequency": "{\"10_style\": {\"style\": 40, \"solo\": 31, \"looking at viewer\": 12}}", "ss_text_encoder_lr": "5e-05", "ss_training_comment": "trigger word: style", "ss_training_started_at": "1700000001.0", "ss_unet_lr": "0.0001", "ss_v2": "False", "sshs_legacy_hash": "e3b0c442", "sshs_model_hash": "58e8a5e0860bbac9694a5577771ac00dab5f5c85f86ed00e2d4eb16cad3548bd"}', '{"a1111": {"activation text": "redstyle"}}', '["kohya keys, e.g. ''lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k.alpha''", "UNet layout of SD1/SD2", "metadata ss_base_model_version=''sd_v1'' -> sd1", "alpha 1 from 2 .alpha tensors"]');
INSERT INTO adapter_documents (rowid, adapter_id, metadata, sidecars, evidence) VALUES (2, 'fe414269f4', '{"modelspec.architecture": "stable-diffusion-v1/lora", "modelspec.date": "2024-05-01T12:00:00", "modelspec.implementation": "diffusers", "modelspec.resolution": "64x64", "modelspec.sai_model_spec": "1.0.0", "modelspec.title": "outside", "ss_base_model_version": "sd_v1", "ss_batch_size_per_device": "2", "ss_clip_skip": "2", "ss_dataset_dirs": "{\"10_outside\": {\"n_repeats\": 10, \"img_count\": 40}}", "ss_epoch": "10", "ss_learning_rate": "0.0001", "ss_lr_scheduler": "cosine", "ss_max_train_steps": "400", "ss_mixed_precision": "fp16", "ss_network_alpha": "1", "ss_network_dim": "2", "ss_network_module": "networks.lora", "ss_num_epochs": "10", "ss_num_train_images": "40", "ss_optimizer": "bitsandbytes.optim.adamw.AdamW8bit", "ss_output_name": "outside", "ss_resolution": "(64, 64)", "ss_sd_model_name": "v1-5-pruned-emaonly.safetensors", "ss_seed": "2", "ss_session_id": "1000002", "ss_tag_frequency": "{\"10_outside\": {\"outside\": 40, \"solo\": 31, \"looking at viewer\": 12}}", "ss_text_encoder_lr": "5e-05", "ss_training_comment": "trigger word: outside", "ss_training_started_at": "1700000002.0", "ss_unet_lr": "0.0001", "ss_v2": "False", "sshs_legacy_hash": "e3b0c442", "sshs_model_hash": "3b73a30520152c60dbda49eafec09091d079ee4d51fbc0ec16d2dab17ce6c3ce"}', '{}', '["kohya keys, e.g. ''lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k.alpha''", "UNet layout of SD1/SD2", "metadata ss_base_model_version=''sd_v1'' -> sd1", "alpha 1 from 2 .alpha tensors"]');
INSERT INTO adapter_documents (rowid, adapter_id, metadata, sidecars, evidence) VALUES (3, 'c2daab8111', '{"modelspec.architecture": "stable-diffusion-v1/lora", "modelspec.date": "2024-05-01T12:00:00", "modelspec.implementation": "diffusers", "modelspec.resolution": "64x64", "modelspec.sai_model_spec": "1.0.0", "modelspec.title": "inside", "ss_base_model_version": "sd_v1", "ss_batch_size_per_device": "2", "ss_clip_skip": "2", "ss_dataset_dirs": "{\"10_inside\": {\"n_repeats\": 10, \"img_count\": 40}}", "ss_epoch": "10", "ss_learning_rate": "0.0001", "ss_lr_scheduler": "cosine", "ss_max_train_steps": "400", "ss_mixed_precision": "fp16", "ss_network_alpha": "1", "ss_network_dim": "2", "ss_network_module": "networks.lora", "ss_num_epochs": "10", "ss_num_train_images": "40", "ss_optimizer": "bitsandbytes.optim.adamw.AdamW8bit", "ss_output_name": "inside", "ss_resolution": "(64, 64)", "ss_sd_model_name": "v1-5-pruned-emaonly.safetensors", "ss_seed": "3", "ss_session_id": "1000003", "ss_tag_frequency": "{\"10_inside\": {\"inside\": 40, \"solo\": 31, \"looking at viewer\": 12}}", "ss_text_encoder_lr": "5e-05", "ss_training_comment": "trigger word: inside", "ss_training_started_at": "1700000003.0", "ss_unet_lr": "0.0001", "ss_v2": "False", "sshs_legacy_hash": "e3b0c442", "sshs_model_hash": "0e1cc407b5013aa334cb07d04e71e672a4576753970a5e915ab396a09ec03bbd"}', '{}', '["kohya keys, e.g. ''lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k.alpha''", "UNet layout of SD1/SD2", "metadata ss_base_model_version=''sd_v1'' -> sd1", "alpha 1 from 2 .alpha tensors"]');
INSERT INTO adapter_documents (rowid, adapter_id, metadata, sidecars, evidence) VALUES (4, '83faf75ae4', '{"lorahub.recipe": "hub scale 79ab893a1305 --name half -- 0.5", "modelspec.architecture": "stable-diffusion-v1/lora", "modelspec.date": "2026-12-07T05:33:12", "modelspec.implementation": "https://github.com/Stability-AI/generative-models", "modelspec.merged_from": "style", "modelspec.resolution": "512x512", "modelspec.sai_model_spec": "1.0.0", "modelspec.title": "half", "ss_base_model_version": "sd_v1", "ss_network_alpha": "0.5", "ss_network_dim": "2", "ss_network_module": "networks.lora", "ss_training_comment": "scaled by 0.5", "ss_v2": "False", "sshs_legacy_hash": "e3b0c442", "sshs_model_hash": "c479fad8ec2753a8941006fa8d31d1e2273b51796a7a39c41751029fe279438a"}', '{}', '["kohya keys, e.g. ''lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_k.alpha''", "UNet layout of SD1/SD2", "metadata ss_base_model_version=''sd_v1'' -> sd1", "alpha 0.5 from 2 .alpha tensors"]');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (1, '835ca139d7', 'sha256', '79ab893a1305829adca6acbb147fc01606070b2fa67fee2fbea352344e5b1f85');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (2, '835ca139d7', 'autov2', '79ab893a13');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (3, '835ca139d7', 'autov3', '58e8a5e0860bbac9694a5577771ac00dab5f5c85f86ed00e2d4eb16cad3548bd');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (4, '835ca139d7', 'blake3', '49af3f04f35e885134f04786fde5828bf11bcc152a9aaeb984281eb1c2dd76ee');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (5, '835ca139d7', 'crc32', 'fc4da52a');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (6, 'fe414269f4', 'sha256', '1d806d820879b1b64611e860d8309b2fca300e65b016b1e553ceba417965104d');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (7, 'fe414269f4', 'autov2', '1d806d8208');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (8, 'fe414269f4', 'autov3', '3b73a30520152c60dbda49eafec09091d079ee4d51fbc0ec16d2dab17ce6c3ce');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (9, 'fe414269f4', 'blake3', '52d5fcdbfd6a9686d50638a5bd67c3fbd280f541edd0b86e345165d5cd9bac59');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (10, 'fe414269f4', 'crc32', '31fed10c');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (11, 'c2daab8111', 'sha256', '7c69d2badf95e4a9313202be17bdbd1645bc3d7eddd02c0169687b6224beaf07');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (12, 'c2daab8111', 'autov2', '7c69d2badf');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (13, 'c2daab8111', 'autov3', '0e1cc407b5013aa334cb07d04e71e672a4576753970a5e915ab396a09ec03bbd');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (14, 'c2daab8111', 'blake3', '87a536375454fa8dd53cae2e8e0afaf54079d493f71744615dda2b2d34bb2b30');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (15, 'c2daab8111', 'crc32', '7ded873f');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (16, '83faf75ae4', 'sha256', '1a695b34f6f7a6602d315007c376c022d1664d7029f00d42867870f8cc1287d1');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (17, '83faf75ae4', 'autov2', '1a695b34f6');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (18, '83faf75ae4', 'autov3', 'c479fad8ec2753a8941006fa8d31d1e2273b51796a7a39c41751029fe279438a');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (19, '83faf75ae4', 'blake3', '0fe177dce1e022e21d2a727bca811a5ab904914957291949d65fd22c9b143b60');
INSERT INTO hashes (rowid, adapter_id, algo, value) VALUES (20, '83faf75ae4', 'crc32', '3bbd702d');
INSERT INTO hash_cache (rowid, path, size, mtime_ns, inode, sha256, autov1, autov3, blake3, crc32, hashed_at) VALUES (1, '/tmp/lorahub-previous-version/loras/style.safetensors', 2556, 1796621587139915333, 2147669, '79ab893a1305829adca6acbb147fc01606070b2fa67fee2fbea352344e5b1f85', NULL, '58e8a5e0860bbac9694a5577771ac00dab5f5c85f86ed00e2d4eb16cad3548bd', '49af3f04f35e885134f04786fde5828bf11bcc152a9aaeb984281eb1c2dd76ee', 'fc4da52a', '2026-12-07T05:33:07+00:00');
INSERT INTO hash_cache (rowid, path, size, mtime_ns, inode, sha256, autov1, autov3, blake3, crc32, hashed_at) VALUES (2, '/tmp/lorahub-previous-version/loras/outside.safetensors', 2572, 1796621587150312717, 2147672, '1d806d820879b1b64611e860d8309b2fca300e65b016b1e553ceba417965104d', NULL, '3b73a30520152c60dbda49eafec09091d079ee4d51fbc0ec16d2dab17ce6c3ce', '52d5fcdbfd6a9686d50638a5bd67c3fbd280f541edd0b86e345165d5cd9bac59', '31fed10c', '2026-12-07T05:33:08+00:00');
INSERT INTO hash_cache (rowid, path, size, mtime_ns, inode, sha256, autov1, autov3, blake3, crc32, hashed_at) VALUES (3, '/tmp/lorahub-previous-version/home/mine/inside.safetensors', 2564, 1796621587153037909, 2147675, '7c69d2badf95e4a9313202be17bdbd1645bc3d7eddd02c0169687b6224beaf07', NULL, '0e1cc407b5013aa334cb07d04e71e672a4576753970a5e915ab396a09ec03bbd', '87a536375454fa8dd53cae2e8e0afaf54079d493f71744615dda2b2d34bb2b30', '7ded873f', '2026-12-07T05:33:09+00:00');
INSERT INTO hash_cache (rowid, path, size, mtime_ns, inode, sha256, autov1, autov3, blake3, crc32, hashed_at) VALUES (4, '/tmp/hub-compose-p24ntayg/half.safetensors', 2528, 1796621592956868480, 2147647, '1a695b34f6f7a6602d315007c376c022d1664d7029f00d42867870f8cc1287d1', NULL, 'c479fad8ec2753a8941006fa8d31d1e2273b51796a7a39c41751029fe279438a', '0fe177dce1e022e21d2a727bca811a5ab904914957291949d65fd22c9b143b60', '3bbd702d', '2026-12-07T05:33:12+00:00');
INSERT INTO locations (rowid, adapter_id, path, seen_at) VALUES (1, '835ca139d7', '/tmp/lorahub-previous-version/loras/style.safetensors', '2026-12-07T05:33:07+00:00');
INSERT INTO locations (rowid, adapter_id, path, seen_at) VALUES (2, 'fe414269f4', '/tmp/lorahub-previous-version/loras/outside.safetensors', '2026-12-07T05:33:08+00:00');
INSERT INTO locations (rowid, adapter_id, path, seen_at) VALUES (3, 'c2daab8111', '/tmp/lorahub-previous-version/home/mine/inside.safetensors', '2026-12-07T05:33:09+00:00');
INSERT INTO tags (rowid, adapter_id, tag) VALUES (1, '835ca139d7', 'kept');
INSERT INTO previews (rowid, adapter_id, path, source) VALUES (1, '835ca139d7', '/tmp/lorahub-previous-version/home/previews/f3b51772604a6b69.png', '/tmp/lorahub-previous-version/loras/style.png');
INSERT INTO lineage (rowid, id, parent_id, parent_ref, child_id, operation, params, created_at) VALUES (1, 1, '835ca139d7', 'style', '83faf75ae4', 'scaled-from', '{"weight": 0.5}', '2026-12-07T05:33:13+00:00');
INSERT INTO adapters_fts (rowid, name, triggers, tags, description, tag_frequency) VALUES (1, 'style style', 'redstyle', 'kept', '', 'style solo looking at viewer');
INSERT INTO adapters_fts (rowid, name, triggers, tags, description, tag_frequency) VALUES (2, 'outside outside', '', '', '', 'outside solo looking at viewer');
INSERT INTO adapters_fts (rowid, name, triggers, tags, description, tag_frequency) VALUES (3, 'inside inside', '', '', '', 'inside solo looking at viewer');
INSERT INTO adapters_fts (rowid, name, triggers, tags, description, tag_frequency) VALUES (4, 'half half', '', '', '', '');
COMMIT;
