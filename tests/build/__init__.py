"""Tests of pipeline/build/: the stages, the cache and its keys, rebuilds, remote images."""
