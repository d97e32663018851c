"""Tests of pipeline/preview/: the live preview (`pipeline serve`), its server and its page."""
