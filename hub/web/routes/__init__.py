"""The app's routes, one module per page family; each exposes ``routes``."""
