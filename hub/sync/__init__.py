"""Hugging Face Hub sync: push, pull and search (the facade is :mod:`hub.sharing`).

Only :mod:`hub.sync.client` imports huggingface_hub, and only when a function is called.
"""
