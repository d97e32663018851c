"""Content pipeline: one YAML bank of interview questions -> Anki deck, Telegram posts, digest.

The library entry point is :func:`pipeline.build.run.build`; the CLI (``python -m pipeline``) is a
thin wrapper around it.
"""

__version__ = "0.1.0"
