"""Base models: where a base named on the command line lives on disk, what it is, and its pipeline.

A base is ``tiny`` (the embedded offline model, ``tiny-sdxl`` for its SDXL layout), a local diffusers folder,
a local single-file checkpoint, or a Hugging Face model id (downloaded through huggingface_hub's cache).
The verbs are in :mod:`hub.bases.api`.
"""
