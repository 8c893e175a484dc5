"""``hub serve``: the local web UI (gallery, detail pages, mix builder, test page, training runs)."""
