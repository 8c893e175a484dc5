"""Hugging Face Hub sync: push, pull and search (the verbs are in :mod:`hub.sync.api`).

Only :mod:`hub.sync.client` imports huggingface_hub, and only when a function is called.
"""
