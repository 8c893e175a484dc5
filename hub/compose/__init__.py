"""The composition engine: mix, resize, convert, scale, fuse, extract (verbs in ``api``)."""
