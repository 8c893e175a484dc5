"""The trainer: DreamBooth-LoRA with prior preservation and captions, from a folder of pictures to a registered,
shareable adapter. The verbs are in :mod:`hub.train.api` (``train``, ``list_runs``, ``read_run``).
"""
