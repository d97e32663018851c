"""Tests of pipeline/source/: reading, validating and scheduling the bank."""
