"""Tests of each output, read by its real reader."""
