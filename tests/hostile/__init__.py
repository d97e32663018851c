"""Hostile inputs through every command: located errors, never a traceback or a loss."""
