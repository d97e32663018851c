"""Tests of pipeline/markup/: the parse, GitHub habits, the loss check's tokeniser, linear time."""
